package routing_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp"
	"github.com/rdpbroker/rdpbroker/routing"
)

func ExampleTable_Decide() {
	cfg := routing.DefaultConfig()
	cfg.DefaultPool = "general"
	cfg.Pools = []routing.PoolConfig{
		{Name: "general", Health: routing.HealthConfig{Check: "none"}, Servers: []routing.ServerConfig{
			{Name: "ts01", Address: "10.0.0.1:3389"}, {Name: "ts02", Address: "10.0.0.2:3389", Weight: 2}}},
		{Name: "accounting", Health: routing.HealthConfig{Check: "none"}, Servers: []routing.ServerConfig{
			{Name: "ts03", Address: "10.0.0.3:3389"}}},
	}
	cfg.Rules = []routing.RuleConfig{
		{Name: "acct", Pool: "accounting", Groups: []string{"Accounting"}},
		{Name: "vdi", Pool: "accounting", Collection: "VDI"},
	}
	cfg.StaticGroups = map[string][]string{"accounting": {"carol", "alicia"}, "sales": {"alice"}}
	table, err := routing.Compile(cfg, routing.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	client := netip.MustParseAddr("192.0.2.7")
	for _, req := range []routing.Request{
		{Login: rdp.NormalizeLogin(`CORP\carol`), Client: client},
		{Login: rdp.NormalizeLogin("erin"), Client: client},
		{Login: rdp.NormalizeLogin(`CORP\alic`), Client: client}, // mstsc cuts CORP\alice and CORP\alicia to this
		{Token: rdp.RoutingToken{Kind: rdp.TokenTSV, Collection: "vdi"}, Client: client},
	} {
		req.Now = time.Now()
		d := table.Decide(req)
		fmt.Printf("pool=%s rule=%s\n  %s\n", d.Pool, d.Rule, d.Why)
	}
	// Output:
	// pool=accounting rule=acct
	//   login carol matched rule "acct" (groups): pool accounting, try ts03
	// pool=general rule=default
	//   login erin matched no rule: default pool general, try ts01, ts02
	// pool=general rule=default
	//   login alic (cookie "CORP\\alic") may be truncated and designates 2 users routed to different pools (alice -> general, alicia -> accounting); ambiguous is default: default pool general, try ts02, ts01
	// pool=accounting rule=vdi
	//   collection "vdi" matched rule "vdi" (collection): pool accounting, try ts03
}
