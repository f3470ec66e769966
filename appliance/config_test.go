package appliance

import (
	"errors"
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
	if cfg.InspectTimeout != def.InspectTimeout || cfg.Routing.NoCookie != "default" || cfg.Relay.Keepalive != def.Relay.Keepalive {
		t.Errorf("defaults not applied: %+v", cfg)
	}
	if len(cfg.Routing.Pools) != 1 || len(cfg.Routing.Pools[0].Servers) != 1 || cfg.Routing.Pools[0].Servers[0].Address != "127.0.0.2:23389" {
		t.Errorf("pools = %+v", cfg.Routing.Pools)
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
	if cfg.InspectTimeout != 5*time.Second || cfg.Listen != "127.0.0.1:3390" || cfg.Relay.Keepalive.Idle != time.Minute {
		t.Errorf("env overrides not applied: inspect=%v listen=%v idle=%v", cfg.InspectTimeout, cfg.Listen, cfg.Relay.Keepalive.Idle)
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

// TestLoadConfigSixMistakes: a file with six different mistakes gets six
// lines, each naming its key, decode errors and validation errors together.
func TestLoadConfigSixMistakes(t *testing.T) {
	_, err := LoadConfig("testdata/invalid-six.yml")
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a *ConfigError", err)
	}
	want := []string{
		"max_pendng: unknown key",
		"inspect_timeout: wrong type",
		"pools[0].servers[1].name",
		"rules[0].pool",
		"rules[1].networks[0]",
		"pools[0].servers[2].weight",
	}
	if len(ce.Problems) != len(want) {
		t.Errorf("%d problems, want %d:\n%s", len(ce.Problems), len(want), strings.Join(ce.Problems, "\n"))
	}
	for _, w := range want {
		found := 0
		for _, p := range ce.Problems {
			if strings.HasPrefix(p, w) {
				found++
			}
		}
		if found != 1 {
			t.Errorf("%d lines start with %q:\n%s", found, w, strings.Join(ce.Problems, "\n"))
		}
	}
}

// TestScalarDefaultsFromDefaultConfig: viper's defaults are derived from
// DefaultConfig (one owner per key), sections included.
func TestScalarDefaultsFromDefaultConfig(t *testing.T) {
	d := scalarDefaults(DefaultConfig())
	for key, want := range map[string]any{
		"listen":                    ":3389",
		"connect_timeout":           3 * time.Second,
		"keepalive::idle":           30 * time.Second,
		"no_cookie":                 "default",
		"passive::max_fails":        1,
		"affinity::expire":          8 * time.Hour,
		"affinity::down_grace":      5 * time.Minute,
		"directory::interval":       DefaultConfig().Directory.Interval,
		"peers::push_pull_interval": DefaultConfig().Peers.PushPullInterval,
	} {
		if got, ok := d[key]; !ok || got != want {
			t.Errorf("default %s = %v (%v), want %v", key, got, ok, want)
		}
	}
}
