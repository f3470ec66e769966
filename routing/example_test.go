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
	cfg.Rules = []routing.RuleConfig{{Name: "acct", Pool: "accounting", Groups: []string{"Accounting"}}}
	cfg.StaticGroups = map[string][]string{"accounting": {"carol"}}
	table, err := routing.Compile(cfg, routing.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, cookie := range []string{`CORP\carol`, "erin"} {
		d := table.Decide(routing.Request{Login: rdp.NormalizeLogin(cookie), Client: netip.MustParseAddr("192.0.2.7"), Now: time.Now()})
		fmt.Printf("%s: pool=%s rule=%s\n  %s\n", cookie, d.Pool, d.Rule, d.Why)
	}
	// Output:
	// CORP\carol: pool=accounting rule=acct
	//   rule "acct" matched login carol: pool accounting, try ts03
	// erin: pool=general rule=default
	//   no rule matched login erin: default pool general, try ts01, ts02
}
