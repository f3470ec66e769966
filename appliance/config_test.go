package appliance

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestLoadConfigValid(t *testing.T) {
	cfg, err := LoadConfig("testdata/valid-minimal.yml")
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	def := DefaultConfig()
	if cfg.InspectTimeout != def.InspectTimeout || cfg.NoCookie != "default" || cfg.Keepalive != def.Keepalive {
		t.Errorf("defaults not applied: %+v", cfg)
	}
	if len(cfg.Pools) != 1 || len(cfg.Pools[0].Servers) != 1 || cfg.Pools[0].Servers[0].Address != "127.0.0.2:23389" {
		t.Errorf("pools = %+v", cfg.Pools)
	}
}

func TestLoadConfigEnvOverride(t *testing.T) {
	t.Setenv("RDPBROKER_INSPECT_TIMEOUT", "5s")
	t.Setenv("RDPBROKER_LISTEN", "127.0.0.1:3390")
	t.Setenv("RDPBROKER_KEEPALIVE_IDLE", "1m")
	cfg, err := LoadConfig("testdata/valid-minimal.yml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.InspectTimeout != 5*time.Second || cfg.Listen != "127.0.0.1:3390" || cfg.Keepalive.Idle != time.Minute {
		t.Errorf("env overrides not applied: inspect=%v listen=%v idle=%v", cfg.InspectTimeout, cfg.Listen, cfg.Keepalive.Idle)
	}
}

// TestLoadConfigInvalid: each invalid file reports every problem with its
// key path.
func TestLoadConfigInvalid(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"testdata/invalid-unknown-key.yml", []string{"inspect_timout", "wieght"}},
		{"testdata/invalid-type.yml", []string{"inspect_timeout", "max_sessions"}},
		{"testdata/invalid-values.yml", []string{
			`listen: "localhost"`,
			"inspect_timeout: 0s: must be > 0",
			`log.format: "xml"`,
			`log.level: "loud"`,
			"no_cookie",
			"default_pool",
			"pools[0].balance",
			"pools[0].health.check",
			"pools[0].health.rise",
			"pools[0].servers[0].address",
			"pools[0].servers[1].name",
			"pools[0].servers[1].weight",
			"rules[0].pool",
			"rules[1]",
			"rules[2].networks[0]",
		}},
		{"testdata/does-not-exist.yml", []string{"does-not-exist.yml"}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			_, err := LoadConfig(tc.file)
			if err == nil {
				t.Fatal("invalid config loaded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestCheckConfig(t *testing.T) {
	var out bytes.Buffer
	if err := CheckConfig("testdata/valid-minimal.yml", &out); err != nil {
		t.Fatalf("CheckConfig: %v", err)
	}
	if !strings.Contains(out.String(), "OK (1 pools, 1 servers, 0 rules") {
		t.Errorf("summary = %q", out.String())
	}
	if err := CheckConfig("testdata/invalid-values.yml", &out); err == nil {
		t.Fatal("CheckConfig accepted an invalid file")
	}
}
