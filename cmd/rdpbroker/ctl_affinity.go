package main

import (
	"fmt"
	"io"
	"net/url"
	"strconv"
	"time"

	"github.com/rdpbroker/rdpbroker/appliance/admin"
)

const affinityUsage = `affinity get LOGIN | list [--server S] [--limit N] | set LOGIN SERVER | del LOGIN |
       move-server FROM TO | clear-server SERVER`

func ctlAffinity(c *ctl, args []string) int {
	if len(args) == 0 {
		fmt.Fprintf(c.stderr, "usage: rdpbroker ctl %s\n", affinityUsage)
		return 2
	}
	switch sub, rest := args[0], args[1:]; sub {
	case "get":
		return affinityGet(c, rest)
	case "list":
		return affinityList(c, rest)
	case "set":
		return affinityEdit(c, rest, "set LOGIN SERVER", 2, func(p []string) (string, string, any) {
			return "PUT", "/api/v1/affinity/entry", map[string]string{"login": p[0], "server": p[1]}
		})
	case "del":
		return affinityEdit(c, rest, "del LOGIN", 1, func(p []string) (string, string, any) {
			return "DELETE", "/api/v1/affinity/entry?" + url.Values{"login": {p[0]}}.Encode(), nil
		})
	case "move-server":
		return affinityEdit(c, rest, "move-server FROM TO", 2, func(p []string) (string, string, any) {
			return "POST", "/api/v1/affinity/move-server", map[string]string{"from": p[0], "to": p[1]}
		})
	case "clear-server":
		return affinityEdit(c, rest, "clear-server SERVER", 1, func(p []string) (string, string, any) {
			return "POST", "/api/v1/affinity/clear-server", map[string]string{"server": p[0]}
		})
	}
	fmt.Fprintf(c.stderr, "rdpbroker ctl affinity: unknown subcommand %q\nusage: rdpbroker ctl %s\n", args[0], affinityUsage)
	return 2
}

func affinityGet(c *ctl, args []string) int {
	pos, ok := c.parse(c.flags("affinity get"), args, 1, 1, "affinity get LOGIN")
	if !ok {
		return 2
	}
	var e admin.AffinityEntry
	if !c.call(0, "GET", "/api/v1/affinity/entry", url.Values{"login": {pos[0]}}, nil, &e) {
		return 1
	}
	return c.show(e, func(w io.Writer) { entryTable(w, []admin.AffinityEntry{e}) })
}

func affinityList(c *ctl, args []string) int {
	fs := c.flags("affinity list")
	server := fs.String("server", "", "only entries on this server")
	limit := fs.Int("limit", 0, "at most this many (0: all)")
	if _, ok := c.parse(fs, args, 0, 0, "affinity list [--server S] [--limit N]"); !ok {
		return 2
	}
	q := url.Values{}
	if *server != "" {
		q.Set("server", *server)
	}
	if *limit > 0 {
		q.Set("limit", strconv.Itoa(*limit))
	}
	var list []admin.AffinityEntry
	if !c.call(0, "GET", "/api/v1/affinity", q, nil, &list) {
		return 1
	}
	return c.show(list, func(w io.Writer) { entryTable(w, list) })
}

func entryTable(w io.Writer, list []admin.AffinityEntry) {
	fmt.Fprintln(w, "LOGIN\tSERVER\tWRITTEN\tBY\tEXPIRES")
	for _, e := range list {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", e.Login, e.Server, e.Written.Local().Format(time.DateTime), e.Node,
			e.Expires.Local().Format(time.DateTime))
	}
}

// affinityEdit runs one mutating affinity call and prints before -> after.
func affinityEdit(c *ctl, args []string, usage string, n int, req func([]string) (method, path string, body any)) int {
	pos, ok := c.parse(c.flags("affinity"), args, n, n, "affinity "+usage)
	if !ok {
		return 2
	}
	method, path, body := req(pos)
	var res admin.Change
	if !c.call(0, method, path, nil, body, &res) {
		return 1
	}
	return c.show(res, func(w io.Writer) {
		fmt.Fprintf(w, "before:\t%s\nafter:\t%s\n", changeText(res.Before), changeText(res.After))
	})
}

// changeText is one side of a Change for people: an entry, a count, or
// nothing.
func changeText(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return "-"
	}
	if login, ok := m["login"]; ok {
		return fmt.Sprintf("%v -> %v", login, m["server"])
	}
	if n, ok := m["entries"]; ok {
		return fmt.Sprintf("%v entries on %v", n, m["server"])
	}
	return fmt.Sprint(m)
}
