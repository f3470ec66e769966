package migrate

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rdpbroker/rdpbroker/appliance"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// translateFile translates testdata/<name>.cfg with its -f files found
// under testdata/acl (--acl-root), logins files referenced from
// /etc/rdpbroker/logins.
func translateFile(t *testing.T, name string, opts Options) *Result {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name+".cfg"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse("haproxy.cfg", data)
	if err != nil {
		t.Fatal(err)
	}
	opts.ACLRoot = "testdata/acl"
	if opts.LoginsDir == "" {
		opts.LoginsDir = "/etc/rdpbroker/logins"
	}
	res, err := Translate(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// render is everything a translation produces, in one text for a golden
// file: the YAML, the logins files and the warnings.
func render(res *Result) string {
	var b strings.Builder
	b.Write(res.YAML)
	for _, f := range res.Files {
		b.WriteString("\n=== logins/" + f.Name + "\n")
		b.Write(f.Data)
	}
	b.WriteString("\n=== warnings\n")
	for _, w := range res.Warnings {
		b.WriteString(w.String() + "\n")
	}
	return b.String()
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it); got:\n%s", path, got)
	}
}

// loadable writes res into dir and loads it as rdpbroker does
// (check-config), so the translation is a valid configuration.
func loadable(t *testing.T, res *Result, dir string) appliance.Config {
	t.Helper()
	for _, f := range res.Files {
		if err := os.MkdirAll(filepath.Join(dir, "logins"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "logins", f.Name), f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "rdpbroker.yaml")
	if err := os.WriteFile(path, res.YAML, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := appliance.LoadConfig(path)
	if err != nil {
		t.Fatalf("generated configuration does not load: %v\n%s", err, res.YAML)
	}
	return cfg
}

func TestGoldenSeedConfigs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		whole bool
	}{{"seed-basic", false}, {"seed-groups", false}, {"seed-groups-whole", true}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file := strings.TrimSuffix(tc.name, "-whole")
			res := translateFile(t, file, Options{WholeLogins: tc.whole})
			checkGolden(t, tc.name, render(res))
			res = translateFile(t, file, Options{WholeLogins: tc.whole, LoginsDir: filepath.Join(dir, "logins"), StateDir: dir})
			loadable(t, res, dir)
		})
	}
}
