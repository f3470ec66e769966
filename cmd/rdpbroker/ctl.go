package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rdpbroker/rdpbroker/appliance"
	"github.com/rdpbroker/rdpbroker/appliance/admin"
)

const ctlUsage = `usage: rdpbroker ctl [--config FILE | --socket PATH] [--json] [--timeout D] COMMAND

commands:
  status                               version, uptime, sessions, rejects, affinity, peers, directory
  servers [POOL]                       servers with admin state, health, sessions, weight, affinity
  drain SERVER [--until-restart]       no new users (returning users still land there)
  maint SERVER                         nobody; its affinity entries are dropped
  enable SERVER                        back to taking users
  weight SERVER N|default              override the configured weight (cluster-wide, like the states)
  sessions [--server S] [--login L]    relayed sessions
  kill ID | kill --login L             close sessions
  affinity get LOGIN
  affinity list [--server S] [--limit N]
  affinity set LOGIN SERVER            pin LOGIN's next connection to SERVER
  affinity del LOGIN
  affinity move-server FROM TO
  affinity clear-server SERVER
  route explain LOGIN [--from IP] [--token T]
                                       how a connection of LOGIN would be routed now
  sync now                             sync the directory now and print the result
  reload                               reload the configuration (as SIGHUP)
  upgrade                              hand over to a new binary

Exit status: 0 done, 1 refused or failed (the reason on stderr), 2 usage.
`

// ctl is one `rdpbroker ctl` invocation.
type ctl struct {
	client  *admin.Client
	json    bool
	timeout time.Duration
	stdout  io.Writer
	stderr  io.Writer
}

// ctlCommand runs one ctl command; it returns the exit status.
type ctlCommand func(c *ctl, args []string) int

var ctlCommands = map[string]ctlCommand{
	"status":   ctlStatus,
	"servers":  ctlServers,
	"drain":    ctlServerAction("drain"),
	"maint":    ctlServerAction("maint"),
	"enable":   ctlServerAction("enable"),
	"weight":   ctlServerAction("weight"),
	"sessions": ctlSessions,
	"kill":     ctlKill,
	"affinity": ctlAffinity,
	"route":    ctlRoute,
	"sync":     ctlSync,
	"reload":   ctlReload,
	"upgrade":  ctlUpgrade,
}

// cmdCtl is `rdpbroker ctl`: the admin API on admin.socket, from the
// command line.
func cmdCtl(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, ctlUsage) }
	config := fs.String("config", "", "configuration file naming admin.socket (default "+defaultConfigPath+")")
	socket := fs.String("socket", "", "admin socket (overrides --config)")
	c := &ctl{stdout: stdout, stderr: stderr}
	fs.BoolVar(&c.json, "json", false, "JSON output, for scripts")
	fs.DurationVar(&c.timeout, "timeout", admin.DefaultCallTimeout, "give up on an answer after this long (sync and upgrade: at least 2m)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprint(stderr, ctlUsage)
		return 2
	}
	cmd, ok := ctlCommands[fs.Arg(0)]
	if !ok {
		fmt.Fprintf(stderr, "rdpbroker ctl: unknown command %q\n%s", fs.Arg(0), ctlUsage)
		return 2
	}
	path, err := socketPath(*config, *socket)
	if err != nil {
		fmt.Fprintf(stderr, "rdpbroker ctl: %v\n", err)
		return 1
	}
	c.client = admin.NewSocketClient(path)
	return cmd(c, fs.Args()[1:])
}

// socketPath is --socket, else admin.socket of --config (or of the default
// configuration file when it exists), else admin's default.
func socketPath(config, socket string) (string, error) {
	if socket != "" {
		return socket, nil
	}
	if config == "" {
		if _, err := os.Stat(defaultConfigPath); err != nil {
			return admin.DefaultConfig().Socket, nil
		}
		config = defaultConfigPath
	}
	cfg, err := appliance.LoadConfig(config)
	if err != nil {
		return "", fmt.Errorf("reading %s for admin.socket: %w", config, err)
	}
	if cfg.Admin.Socket == "" {
		return "", fmt.Errorf("%s: admin.socket is empty: the broker serves no admin socket", config)
	}
	return cfg.Admin.Socket, nil
}

// flags returns a flag set for a subcommand, with --json too.
func (c *ctl) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("ctl "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.BoolVar(&c.json, "json", c.json, "JSON output")
	return fs
}

// parse parses args with fs, flags before, between and after the
// positional arguments, and checks their count is within [min, max].
func (c *ctl) parse(fs *flag.FlagSet, args []string, min, max int, usage string) ([]string, bool) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, false
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) < min || len(pos) > max {
		fmt.Fprintf(c.stderr, "usage: rdpbroker ctl %s\n", usage)
		return nil, false
	}
	return pos, true
}

// call runs one API call within the timeout (at least min); a refusal is
// printed and reported as false.
func (c *ctl) call(min time.Duration, method, path string, q url.Values, body, out any) bool {
	if err := c.callErr(min, method, path, q, body, out); err != nil {
		fmt.Fprintf(c.stderr, "rdpbroker ctl: %v\n", err)
		return false
	}
	return true
}

// callErr runs one API call within the timeout (at least min).
func (c *ctl) callErr(min time.Duration, method, path string, q url.Values, body, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), max(c.timeout, min))
	defer cancel()
	return c.client.Call(ctx, method, path, q, body, out)
}

// show prints v as JSON (--json) or with table.
func (c *ctl) show(v any, table func(w io.Writer)) int {
	if c.json {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			fmt.Fprintf(c.stderr, "rdpbroker ctl: %v\n", err)
			return 1
		}
		return 0
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	table(tw)
	tw.Flush()
	return 0
}

// when formats t for tables: "-" when zero, else local time and age.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05") + " (" + ago(t) + ")"
}

func ago(t time.Time) string {
	d := time.Since(t)
	if d < 0 {
		d = 0
	}
	return d.Round(time.Second).String() + " ago"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func ctlStatus(c *ctl, args []string) int {
	if _, ok := c.parse(c.flags("status"), args, 0, 0, "status"); !ok {
		return 2
	}
	var st admin.Status
	if !c.call(0, "GET", "/api/v1/status", nil, nil, &st) {
		return 1
	}
	return c.show(st, func(w io.Writer) {
		ready := "yes"
		if !st.Ready {
			ready = "no: " + st.NotReady
		}
		fmt.Fprintf(w, "version:\t%s\npid:\t%d\nuptime:\t%s (since %s)\nready:\t%s\n", st.Version, st.PID,
			time.Since(st.Started).Round(time.Second), st.Started.Local().Format(time.RFC3339), ready)
		cfg := "loaded " + when(st.ConfigLoadedAt)
		if !st.ConfigLastOK {
			cfg += "; last reload refused: " + st.ConfigError
		}
		fmt.Fprintf(w, "config:\t%s, %s\n", dash(st.ConfigFile), cfg)
		fmt.Fprintf(w, "sessions:\t%d (pending %d, accepted %d)\n", st.Sessions, st.Pending, st.Accepted)
		var rej []string
		for _, k := range sortedKeys(st.Rejects) {
			if st.Rejects[k] > 0 {
				rej = append(rej, fmt.Sprintf("%s=%d", k, st.Rejects[k]))
			}
		}
		fmt.Fprintf(w, "rejects:\t%s\n", dash(strings.Join(rej, " ")))
		if a := st.Affinity; a != nil {
			fmt.Fprintf(w, "affinity:\t%d entries, %d writes pending%s\n", a.Entries, a.PendingWrites, errSuffix(a.LastFlushErr))
		}
		for _, p := range st.Peers {
			state := "down"
			if p.Connected {
				state = "up"
			}
			fmt.Fprintf(w, "peer %s:\t%s %s, last contact %s%s\n", p.Name, p.Addr, state, when(p.LastContact), errSuffix(p.LastError))
		}
		if d := st.Directory; d != nil {
			fmt.Fprintf(w, "directory:\t%s, %d users, last sync %s%s\n", d.Source, d.Users, when(d.LastAttempt), errSuffix(d.LastError))
		}
	})
}

func errSuffix(e string) string {
	if e == "" {
		return ""
	}
	return "; error: " + e
}
