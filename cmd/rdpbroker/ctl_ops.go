package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/rdpbroker/rdpbroker/appliance/admin"
)

// explained is the part of the router's explanation (routing.Explanation)
// the table shows; --json prints the document as received.
type explained struct {
	Rule       string `json:"rule"`
	Pool       string `json:"pool"`
	Server     string `json:"server"`
	Address    string `json:"address"`
	Refused    string `json:"refused"`
	Why        string `json:"why"`
	Key        string `json:"key"`
	Identities []struct {
		Login  string   `json:"login"`
		Groups []string `json:"groups"`
		Known  bool     `json:"known"`
	} `json:"identities"`
	DirectorySource string `json:"directory_source"`
	Steps           []struct {
		Rule     string `json:"rule"`
		Pool     string `json:"pool"`
		Identity string `json:"identity"`
		Matched  bool   `json:"matched"`
		Why      string `json:"why"`
	} `json:"steps"`
	Affinity struct {
		Server  string `json:"server"`
		Outcome string `json:"outcome"`
	} `json:"affinity"`
	Candidates []struct {
		Server   string `json:"server"`
		Address  string `json:"address"`
		State    string `json:"state"`
		Sessions int    `json:"sessions"`
		Weight   int    `json:"weight"`
		Rank     int    `json:"rank"`
		Excluded string `json:"excluded"`
	} `json:"candidates"`
	Directory *admin.Directory `json:"directory"`
}

func ctlRoute(c *ctl, args []string) int {
	if len(args) == 0 || args[0] != "explain" {
		fmt.Fprintln(c.stderr, "usage: rdpbroker ctl route explain LOGIN [--from IP] [--token T]")
		return 2
	}
	fs := c.flags("route explain")
	from := fs.String("from", "", "the client's IP address")
	token := fs.String("token", "", `a routing token line ("msts=...", "tsv://MS Terminal Services Plugin.1.NAME")`)
	pos, ok := c.parse(fs, args[1:], 1, 1, "route explain LOGIN [--from IP] [--token T]")
	if !ok {
		return 2
	}
	q := url.Values{"login": {pos[0]}}
	if *from != "" {
		q.Set("from", *from)
	}
	if *token != "" {
		q.Set("token", *token)
	}
	var raw json.RawMessage
	if !c.call(0, "GET", "/api/v1/route/explain", q, nil, &raw) {
		return 1
	}
	if c.json {
		_, err := c.stdout.Write(raw)
		return exitErr(c.stderr, "ctl", err)
	}
	var x explained
	if err := json.Unmarshal(raw, &x); err != nil {
		fmt.Fprintf(c.stderr, "rdpbroker ctl: route explain: %v\n", err)
		return 1
	}
	return c.show(x, func(w io.Writer) { explainTable(w, &x) })
}

func explainTable(w io.Writer, x *explained) {
	fmt.Fprintf(w, "user:\t%s\n", dash(x.Key))
	for _, id := range x.Identities {
		known := ""
		if !id.Known {
			known = " (not in the directory)"
		}
		fmt.Fprintf(w, "groups of %s:\t%s%s\n", id.Login, dash(strings.Join(id.Groups, ", ")), known)
	}
	src := dash(x.DirectorySource)
	if d := x.Directory; d != nil {
		src += fmt.Sprintf(" (sync %s, last %s%s)", d.Source, when(d.LastSuccess), errSuffix(d.LastError))
	}
	fmt.Fprintf(w, "groups from:\t%s\n", src)
	for _, s := range x.Steps {
		verdict := "no match"
		if s.Matched {
			verdict = "MATCH"
		}
		fmt.Fprintf(w, "rule %s -> %s:\t%s: %s\n", s.Rule, s.Pool, verdict, s.Why)
	}
	fmt.Fprintf(w, "rule:\t%s\npool:\t%s\n", dash(x.Rule), dash(x.Pool))
	fmt.Fprintf(w, "affinity:\t%s %s\n", dash(x.Affinity.Server), x.Affinity.Outcome)
	for _, cd := range x.Candidates {
		place := "excluded: " + cd.Excluded
		if cd.Rank > 0 {
			place = fmt.Sprintf("try #%d", cd.Rank)
		}
		fmt.Fprintf(w, "candidate %s (%s):\t%s, %d sessions, weight %d, %s\n", cd.Server, cd.Address, cd.State,
			cd.Sessions, cd.Weight, place)
	}
	if x.Refused != "" {
		fmt.Fprintf(w, "server:\tnone, refused: %s\n", x.Refused)
	} else {
		fmt.Fprintf(w, "server:\t%s (%s)\n", x.Server, x.Address)
	}
	fmt.Fprintf(w, "why:\t%s\n", x.Why)
}

func ctlSync(c *ctl, args []string) int {
	pos, ok := c.parse(c.flags("sync"), args, 1, 1, "sync now")
	if !ok || pos[0] != "now" {
		if ok {
			fmt.Fprintln(c.stderr, "usage: rdpbroker ctl sync now")
		}
		return 2
	}
	var res struct {
		After admin.Directory `json:"after"`
	}
	if !c.call(admin.SyncTimeout+5*time.Second, "POST", "/api/v1/sync", nil, nil, &res) {
		return 1
	}
	d := res.After
	code := c.show(d, func(w io.Writer) {
		result := "ok"
		if d.LastError != "" {
			result = "failed: " + d.LastError + " (keeping the previous membership)"
		}
		fmt.Fprintf(w, "directory sync:\t%s\nserver:\t%s\nusers:\t%d\ntook:\t%s\n", result, dash(d.Server), d.Users, dash(d.Took))
	})
	if d.LastError != "" {
		fmt.Fprintf(c.stderr, "rdpbroker ctl: sync failed: %s\n", d.LastError)
		return 1
	}
	return code
}

func ctlReload(c *ctl, args []string) int {
	if _, ok := c.parse(c.flags("reload"), args, 0, 0, "reload"); !ok {
		return 2
	}
	var res admin.Reload
	ctxErr := c.callErr(0, "POST", "/api/v1/reload", nil, nil, &res)
	var apiErr *admin.APIError
	if ctxErr != nil && !(errors.As(ctxErr, &apiErr) && apiErr.Status == 409 && len(res.Errors) > 0) {
		fmt.Fprintf(c.stderr, "rdpbroker ctl: %v\n", ctxErr)
		return 1
	}
	code := c.show(res, func(w io.Writer) {
		if res.Accepted {
			fmt.Fprintln(w, "configuration reloaded: accepted")
		}
	})
	if !res.Accepted {
		for _, e := range res.Errors {
			fmt.Fprintln(c.stderr, e)
		}
		fmt.Fprintln(c.stderr, "reload refused: keeping the running configuration")
		return 1
	}
	return code
}

func ctlUpgrade(c *ctl, args []string) int {
	if _, ok := c.parse(c.flags("upgrade"), args, 0, 0, "upgrade"); !ok {
		return 2
	}
	var res admin.Change
	if !c.call(admin.UpgradeTimeout+5*time.Second, "POST", "/api/v1/upgrade", nil, nil, &res) {
		return 1
	}
	return c.show(res, func(w io.Writer) { fmt.Fprintln(w, "upgrade: handed over to the new binary") })
}
