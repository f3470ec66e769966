package migrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rdpbroker/rdpbroker/affinity"
	"github.com/rdpbroker/rdpbroker/appliance"
)

// Request is what `rdpbroker import haproxy` was asked to do.
type Request struct {
	Config      string // haproxy.cfg
	ACLRoot     string // Options.ACLRoot
	Table       string // a show table dump, or ""
	StatsSocket string // HAProxy's stats socket, or ""
	Out         string // rdpbroker YAML to write; logins files go to its directory's logins/
	StateDir    string // state_dir, where affinity.db is seeded
	WholeLogins bool   // Options.WholeLogins
	// KnownLogins is a file of logins, one per line (an export of the
	// directory's user names): stick keys truncated by bytes(0,N) are
	// seeded for the logins of it they start, too.
	KnownLogins string
}

// Import translates r.Config into r.Out (and the logins files next to it),
// checks the result as check-config does (it must load), seeds the
// affinity store from r.Table or r.StatsSocket when set, and prints every
// warning, then a summary (pools, servers, rules, users seeded,
// warnings) to w.
func Import(ctx context.Context, r Request, w io.Writer) error {
	data, err := os.ReadFile(r.Config)
	if err != nil {
		return err
	}
	cfg, err := Parse(r.Config, data)
	if err != nil {
		return err
	}
	out, err := filepath.Abs(r.Out)
	if err != nil {
		return err
	}
	stateDir, err := filepath.Abs(r.StateDir)
	if err != nil {
		return err
	}
	loginsDir := filepath.Join(filepath.Dir(out), "logins")
	res, err := Translate(cfg, Options{ACLRoot: r.ACLRoot, LoginsDir: loginsDir, StateDir: stateDir, WholeLogins: r.WholeLogins})
	if err != nil {
		return err
	}
	if err := writeTranslation(res, out, loginsDir); err != nil {
		return err
	}
	warns := res.Warnings
	seeded := 0
	if r.Table != "" || r.StatsSocket != "" {
		var sw []Warning
		seeded, sw, err = seedAffinity(ctx, r, res, stateDir)
		if err != nil {
			return err
		}
		warns = append(warns, sw...)
	}
	printSummary(w, res, warns, seeded, out, loginsDir, stateDir, r.Table != "" || r.StatsSocket != "")
	return nil
}

// writeTranslation writes the logins files, then the YAML through a
// temporary file that must load as check-config loads it.
func writeTranslation(res *Result, out, loginsDir string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if len(res.Files) > 0 {
		if err := os.MkdirAll(loginsDir, 0o755); err != nil {
			return err
		}
	}
	for _, f := range res.Files {
		if err := os.WriteFile(filepath.Join(loginsDir, f.Name), f.Data, 0o644); err != nil {
			return err
		}
	}
	tmp := out + ".tmp"
	if err := os.WriteFile(tmp, res.YAML, 0o644); err != nil {
		return err
	}
	if _, err := appliance.LoadConfig(tmp); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("the translation does not pass check-config (a bug; please report it with the HAProxy configuration): %w", err)
	}
	return os.Rename(tmp, out)
}

// seedAffinity reads the stick tables, maps them and writes them into
// stateDir/affinity.db.
func seedAffinity(ctx context.Context, r Request, res *Result, stateDir string) (int, []Warning, error) {
	var dump []byte
	var err error
	source := r.Table
	if r.Table != "" {
		dump, err = os.ReadFile(r.Table)
	} else {
		source = r.StatsSocket
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		dump, err = ReadStatsSocket(ctx, r.StatsSocket, res.StickTables())
	}
	if err != nil {
		return 0, nil, err
	}
	entries, err := ParseShowTable(dump)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", source, err)
	}
	if r.KnownLogins != "" {
		data, err := os.ReadFile(r.KnownLogins)
		if err != nil {
			return 0, nil, err
		}
		for _, l := range strings.Split(string(data), "\n") {
			if l = strings.TrimSpace(l); l != "" && l[0] != '#' {
				res.KnownLogins = append(res.KnownLogins, l)
			}
		}
	}
	seeds, warns := PlanSeed(res, entries, time.Now(), source)
	acfg := affinity.DefaultConfig()
	acfg.Expire = res.Expire
	n, err := WriteAffinity(filepath.Join(stateDir, "affinity.db"), acfg, affinity.Options{}, seeds)
	if errors.Is(err, affinity.ErrLocked) {
		err = fmt.Errorf("%w (stop the rdpbroker using %s first)", err, stateDir)
	}
	return n, warns, err
}

func printSummary(w io.Writer, res *Result, warns []Warning, seeded int, out, loginsDir, stateDir string, seeding bool) {
	nw, nn := 0, 0
	for _, x := range warns {
		fmt.Fprintln(w, x.String())
		if x.Note {
			nn++
		} else {
			nw++
		}
	}
	fmt.Fprintf(w, "\nwrote %s", out)
	if len(res.Files) > 0 {
		fmt.Fprintf(w, " and %d logins files in %s", len(res.Files), loginsDir)
	}
	fmt.Fprintf(w, "\npools: %d\nservers: %d\nrules: %d\n", res.Pools, res.Servers, res.Rules)
	if seeding {
		fmt.Fprintf(w, "users seeded: %d (%s)\n", seeded, filepath.Join(stateDir, "affinity.db"))
	} else {
		fmt.Fprintf(w, "users seeded: 0 (no --table or --stats-socket)\n")
	}
	fmt.Fprintf(w, "warnings: %d (notes: %d)\n", nw, nn)
}
