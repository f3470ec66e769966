package appliance

import (
	"fmt"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp"
	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
	"github.com/rdpbroker/rdpbroker/routing"
)

func TestClassifyDecisionUnknownCollection(t *testing.T) {
	err := fmt.Errorf("decide: %w", routing.ErrUnknownCollection)
	if r := classifyDecision(err); r != RejectUnknownCollection || r.String() != "unknown_collection" {
		t.Fatalf("classifyDecision(%v) = %v, want unknown_collection", err, r)
	}
}

// TestRequestsWithoutIdentity: with no_cookie: reject, a request carrying
// another line instead of a cookie is refused as no_cookie; a tsv://
// collection no rule names is refused as unknown_collection (the default);
// a named collection is routed. Nothing reaches a server but the last.
func TestRequestsWithoutIdentity(t *testing.T) {
	servers := farm(t, "ts01", "ts02", "ts03", "ts04")
	b := startBroker(t, writeConfig(t, routedConfig, servers, "{{no_cookie}}", "reject"))
	neg := rdp.ConnRequest{HasNegReq: true, RequestedProtocols: rdptest.ClientProtocols}
	for _, tc := range []struct {
		name   string
		token  rdp.RoutingToken
		reason Reject
	}{
		{"other line", rdp.RoutingToken{Kind: rdp.TokenOther, Raw: "Foo: bar"}, RejectNoCookie},
		{"unknown collection", rdp.RoutingToken{Kind: rdp.TokenTSV, Collection: "Nope"}, RejectUnknownCollection},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := neg
			req.Token = tc.token
			if c, _, err := rdptest.DialRequest(b.addr, req, 2*time.Second); err == nil {
				c.Close()
				t.Fatalf("request with %q routed, want refused as %v", rdp.BuildConnectionRequest(req), tc.reason)
			}
			rdptest.Eventually(t, 2*time.Second, tc.reason.String()+" counted and logged", func() bool {
				return b.Counters().Rejected(tc.reason) == 1 && b.log.Count("reason="+tc.reason.String()) == 1
			})
		})
	}
	req := neg
	req.Token = rdp.RoutingToken{Kind: rdp.TokenTSV, Collection: "VDI"}
	c, _, err := rdptest.DialRequest(b.addr, req, 2*time.Second)
	if err != nil {
		t.Fatalf("named collection: %v", err)
	}
	c.Close()
	for n, s := range servers {
		if want := map[bool]int{true: 1}[n == "ts04"]; s.Count() != want {
			t.Errorf("%s saw %d connections, want %d", n, s.Count(), want)
		}
	}
}

// TestNonUTF8CookiesAreDistinctLogins: three cookies in Windows-1252
// differing in one byte reach the servers and the log as three logins.
func TestNonUTF8CookiesAreDistinctLogins(t *testing.T) {
	servers := farm(t, "ts01", "ts02", "ts03", "ts04")
	b := startBroker(t, writeConfig(t, routedConfig, servers, "{{no_cookie}}", "default"))
	want := map[string]string{"j\xfcrgen": "jürgen", "j\xe4rgen": "järgen", "j\xffrgen": "jÿrgen"}
	for cookie := range want {
		c, _, err := rdptest.Dial(b.addr, cookie, 2*time.Second)
		if err != nil {
			t.Fatalf("cookie %q: %v", cookie, err)
		}
		c.Close()
	}
	rdptest.Eventually(t, 3*time.Second, "three session lines", func() bool { return len(b.log.Messages("session")) == 3 })
	for cookie, login := range want {
		if n := b.log.Count("login=" + login + " "); n != 1 {
			t.Errorf("cookie %q: %d session lines with login=%s, want 1\n%s", cookie, n, login, b.log.String())
		}
	}
}
