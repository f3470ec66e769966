package routing

import (
	"reflect"
	"testing"
	"time"
)

func TestApplyDefaults(t *testing.T) {
	cfg := Config{
		DefaultPool: "p",
		Pools: []PoolConfig{
			{Name: "p", Servers: []ServerConfig{{Name: "a", Address: "10.0.0.1:3389"}, {Name: "b", Address: "10.0.0.2:3389", Weight: 5}}},
			{Name: "q", Balance: BalanceRoundRobin, Health: HealthConfig{Check: CheckTCP, Rise: 7},
				Servers: []ServerConfig{{Name: "c", Address: "10.0.0.3:3389"}}},
		},
	}
	orig := cfg
	before := cfg.Pools[0]
	cfg.ApplyDefaults()

	if cfg.NoCookie != PolicyDefault || cfg.Ambiguous != PolicyDefault {
		t.Errorf("top level: no_cookie %q, ambiguous %q", cfg.NoCookie, cfg.Ambiguous)
	}
	if cfg.Retries != 0 || cfg.Passive != (PassiveConfig{}) {
		t.Errorf("retries and passive must be left alone: %d %+v", cfg.Retries, cfg.Passive)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"pool balance", cfg.Pools[0].Balance, BalanceLeastConn},
		{"pool health", cfg.Pools[0].Health, HealthConfig{Check: CheckRDP, Interval: 3 * time.Second, Timeout: 2 * time.Second, Rise: 2, Fall: 3}},
		{"explicit balance kept", cfg.Pools[1].Balance, BalanceRoundRobin},
		{"explicit health kept", cfg.Pools[1].Health, HealthConfig{Check: CheckTCP, Interval: 3 * time.Second, Timeout: 2 * time.Second, Rise: 7, Fall: 3}},
		{"default weight", cfg.Pools[0].Servers[0].Weight, 1},
		{"explicit weight kept", cfg.Pools[0].Servers[1].Weight, 5},
		{"original pool untouched", orig.Pools[0], before},
		{"original server weight untouched", orig.Pools[0].Servers[0].Weight, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !reflect.DeepEqual(tc.got, tc.want) {
				t.Errorf("got %+v, want %+v", tc.got, tc.want)
			}
		})
	}

	// Compile applies the same defaults: compiling either gives the same pools.
	again := cfg
	again.ApplyDefaults()
	if !reflect.DeepEqual(again, cfg) {
		t.Errorf("ApplyDefaults is not idempotent:\n%+v\n%+v", again, cfg)
	}
	a, b := mustCompile(t, orig), mustCompile(t, cfg)
	for _, name := range []string{"p", "q"} {
		pa, pb := a.Pool(name), b.Pool(name)
		if pa.Balance != pb.Balance || pa.Health != pb.Health {
			t.Errorf("pool %s: %+v vs %+v", name, pa, pb)
		}
	}
	if a.Server("a").Weight != 1 || b.Server("a").Weight != 1 {
		t.Error("weights differ")
	}
}
