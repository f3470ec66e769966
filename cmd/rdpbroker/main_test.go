package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRunExitCodes(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"no command", nil, 2, "", "usage:"},
		{"unknown command", []string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{"valid config", []string{"check-config", "--config", "../../appliance/testdata/valid-minimal.yml"}, 0, "OK (1 pools", ""},
		{"invalid config", []string{"check-config", "--config", "../../appliance/testdata/invalid-values.yml"}, 1, "", "pools[0].servers[0].address"},
		{"missing file", []string{"check-config", "--config", "/nonexistent/rdpbroker.yaml"}, 1, "", "/nonexistent/rdpbroker.yaml"},
		{"six mistakes, six lines", []string{"check-config", "--config", "../../appliance/testdata/invalid-six.yml"}, 1, "",
			"max_pendng: unknown key"},
		{"check-config refuses serve's flags", []string{"check-config", "--config", "../../appliance/testdata/valid-minimal.yml", "--listen", "x"}, 2, "", "flag provided but not defined: -listen"},
		{"check-config refuses a stray argument", []string{"check-config", "--config", "../../appliance/testdata/valid-minimal.yml", "serve"}, 2, "", `unexpected argument "serve"`},
		{"demo refuses check-config's flags", []string{"demo", "--config", "x"}, 2, "", "flag provided but not defined: -config"},
		{"version", []string{"--version"}, 0, "rdpbroker ", ""},
		{"serve with invalid config", []string{"serve", "--config", "../../appliance/testdata/invalid-values.yml"}, 1, "", "default_pool"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tc.args, &out, &errb); code != tc.wantCode {
				t.Errorf("exit %d, want %d; stderr: %s", code, tc.wantCode, errb.String())
			}
			if !strings.Contains(out.String(), tc.wantStdout) {
				t.Errorf("stdout %q lacks %q", out.String(), tc.wantStdout)
			}
			if !strings.Contains(errb.String(), tc.wantStderr) {
				t.Errorf("stderr %q lacks %q", errb.String(), tc.wantStderr)
			}
		})
	}
}

// TestCheckConfigSixLines: the six mistakes of invalid-six.yml are six
// lines after the file's name, each naming its key.
func TestCheckConfigSixLines(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"check-config", "--config", "../../appliance/testdata/invalid-six.yml"}, &out, &errb); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
	if len(lines) != 7 { // "config: FILE:" and six problems
		t.Fatalf("%d lines, want 1 + 6:\n%s", len(lines), errb.String())
	}
	keys := map[string]bool{}
	for _, l := range lines[1:] {
		key, _, _ := strings.Cut(l, ": ")
		keys[key] = true
	}
	for _, key := range []string{"max_pendng", "inspect_timeout", "pools[0].servers[1].name", "rules[0].pool", "rules[1].networks[0]", "pools[0].servers[2].weight"} {
		if !keys[key] {
			t.Errorf("no line for %s:\n%s", key, errb.String())
		}
	}
}
