package metrics

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

const dashboardPath = "../../docs/grafana-dashboard.json"

// dashboardExprs returns every PromQL expression of the example Grafana
// dashboard (panel targets, variables, annotations).
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && k == "expr" {
					out = append(out, s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	if len(out) < 20 {
		t.Fatalf("%s: %d expressions, want the dashboard's panels", dashboardPath, len(out))
	}
	return out
}

// TestDashboardUsesExportedNames: every rdpbroker_ metric the dashboard
// queries is one the Collector describes.
func TestDashboardUsesExportedNames(t *testing.T) {
	known := map[string]bool{}
	for _, d := range allDescs {
		m := regexp.MustCompile(`fqName: "([^"]+)"`).FindStringSubmatch(d.String())
		known[m[1]] = true
	}
	for _, e := range dashboardExprs(t) {
		for _, name := range regexp.MustCompile(`rdpbroker_[a-z_]+`).FindAllString(e, -1) {
			if !known[name] {
				t.Errorf("dashboard queries %s, which is not exported (in %q)", name, e)
			}
		}
	}
}

// TestDashboardExprsParse runs every expression through `promtool check
// rules` as a recording rule (Grafana's variables replaced).
func TestDashboardExprsParse(t *testing.T) {
	exprs := dashboardExprs(t)
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not found (Debian package prometheus: apt-get install --no-install-recommends prometheus)")
	}
	vars := strings.NewReplacer("$__rate_interval", "5m", "$instance", ".*", "$pool", ".*")
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, e := range exprs {
		q, _ := json.Marshal(vars.Replace(e)) // a JSON string is a YAML string
		fmt.Fprintf(&rules, "      - record: dashboard:expr%d\n        expr: %s\n", i, q)
	}
	file := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(file, []byte(rules.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "check", "rules", file)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check rules: %v\n%s\n%s", err, out, rules.String())
	}
}
