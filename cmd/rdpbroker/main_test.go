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
