package routing

import (
	"net/netip"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp"
)

// t0 is a Wednesday, 10:00 UTC.
var t0 = time.Date(2025, 1, 15, 10, 0, 0, 0, time.UTC)

// testConfig: pools general (ts01, ts02), sales (ts03), acct (ts04), all
// without health checks.
func testConfig() Config {
	cfg := DefaultConfig()
	cfg.DefaultPool = "general"
	none := HealthConfig{Check: CheckNone}
	cfg.Pools = []PoolConfig{
		{Name: "general", Health: none, Servers: []ServerConfig{
			{Name: "ts01", Address: "10.0.0.1:3389"}, {Name: "ts02", Address: "10.0.0.2:3389"}}},
		{Name: "sales", Health: none, Servers: []ServerConfig{{Name: "ts03", Address: "10.0.0.3:3389"}}},
		{Name: "acct", Health: none, Servers: []ServerConfig{{Name: "ts04", Address: "10.0.0.4:3389"}}},
	}
	return cfg
}

func mustCompile(t testing.TB, cfg Config) *Table {
	t.Helper()
	tb, err := Compile(cfg, Options{})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return tb
}

func loginReq(cookie string) Request {
	return Request{Cookie: cookie, Login: rdp.NormalizeLogin(cookie), Token: rdp.RoutingToken{Kind: rdp.TokenCookie,
		Raw: "Cookie: mstshash=" + cookie}, Client: netip.MustParseAddr("192.168.1.10"), Now: t0}
}

func names(ss []*Server) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.Name
	}
	return out
}
