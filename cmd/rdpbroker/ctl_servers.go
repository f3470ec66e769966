package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"time"

	"github.com/rdpbroker/rdpbroker/appliance/admin"
)

func ctlServers(c *ctl, args []string) int {
	pos, ok := c.parse(c.flags("servers"), args, 0, 1, "servers [POOL]")
	if !ok {
		return 2
	}
	q := url.Values{}
	if len(pos) == 1 {
		q.Set("pool", pos[0])
	}
	var list []admin.ServerInfo
	if !c.call(0, "GET", "/api/v1/servers", q, nil, &list) {
		return 1
	}
	return c.show(list, func(w io.Writer) {
		fmt.Fprintln(w, "POOL\tNAME\tADDRESS\tSTATE\tSET BY\tHEALTH\tSESSIONS\tWEIGHT\tAFFINITY")
		for _, s := range list {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", s.Pool, s.Name, s.Address, stateText(s), setBy(s),
				healthText(s), sessionsText(s), weightText(s), s.Affinity)
		}
	})
}

func stateText(s admin.ServerInfo) string {
	if s.Override != nil && s.Override.UntilRestart {
		return s.State + " (until restart)"
	}
	return s.State
}

func setBy(s admin.ServerInfo) string {
	if s.Override == nil {
		return "config"
	}
	return s.Override.By + " " + s.Override.At.Local().Format("2006-01-02 15:04:05")
}

func healthText(s admin.ServerInfo) string {
	h := s.Health
	if s.Check == "none" {
		return h + " (no check)"
	}
	if s.LastCheckError != "" {
		h += " (" + s.LastCheckError + ")"
	}
	return h
}

func sessionsText(s admin.ServerInfo) string {
	if s.MaxSessions == 0 {
		return strconv.Itoa(s.Sessions)
	}
	return fmt.Sprintf("%d/%d", s.Sessions, s.MaxSessions)
}

func weightText(s admin.ServerInfo) string {
	if s.Weight == s.ConfiguredWeight {
		return strconv.Itoa(s.Weight)
	}
	return fmt.Sprintf("%d (config %d)", s.Weight, s.ConfiguredWeight)
}

// ctlServerAction is drain, maint, enable and weight.
func ctlServerAction(action string) ctlCommand {
	return func(c *ctl, args []string) int {
		fs := c.flags(action)
		var body admin.ServerChange
		usage, n := action+" SERVER", 1
		switch action {
		case "drain":
			fs.BoolVar(&body.UntilRestart, "until-restart", false, "back to enabled once the server was seen down and up again")
			usage = "drain SERVER [--until-restart]"
		case "weight":
			usage, n = "weight SERVER N|default", 2
		}
		pos, ok := c.parse(fs, args, n, n, usage)
		if !ok {
			return 2
		}
		if action == "weight" && pos[1] != "default" {
			w, err := strconv.Atoi(pos[1])
			if err != nil || w < 1 {
				fmt.Fprintf(c.stderr, "rdpbroker ctl weight: %q: want a weight from 1, or default\n", pos[1])
				return 2
			}
			body.Weight = w
		}
		var res struct {
			Before admin.ServerInfo `json:"before"`
			After  admin.ServerInfo `json:"after"`
		}
		if !c.call(0, "POST", "/api/v1/servers/"+url.PathEscape(pos[0])+"/"+action, nil, body, &res) {
			return 1
		}
		return c.show(res, func(w io.Writer) {
			fmt.Fprintf(w, "%s:\t%s, weight %s\t->\t%s, weight %s\n", pos[0], stateText(res.Before), weightText(res.Before),
				stateText(res.After), weightText(res.After))
		})
	}
}

func ctlSessions(c *ctl, args []string) int {
	fs := c.flags("sessions")
	server := fs.String("server", "", "only sessions on this server")
	login := fs.String("login", "", "only sessions of this login")
	if _, ok := c.parse(fs, args, 0, 0, "sessions [--server S] [--login L]"); !ok {
		return 2
	}
	q := url.Values{}
	if *server != "" {
		q.Set("server", *server)
	}
	if *login != "" {
		q.Set("login", *login)
	}
	var list []admin.Session
	if !c.call(0, "GET", "/api/v1/sessions", q, nil, &list) {
		return 1
	}
	return c.show(list, func(w io.Writer) { sessionTable(w, list) })
}

func sessionTable(w io.Writer, list []admin.Session) {
	fmt.Fprintln(w, "ID\tCLIENT\tLOGIN\tPOOL\tSERVER\tSINCE\tBYTES IN\tBYTES OUT\tUDP\tCORRELATION ID")
	for _, s := range list {
		udp := "no"
		if s.UDP {
			udp = "yes"
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", s.ID, s.Client, dash(s.Login), s.Pool, s.Server,
			s.Since.Local().Format(time.DateTime), s.BytesIn, s.BytesOut, udp, dash(s.CorrelationID))
	}
}

func ctlKill(c *ctl, args []string) int {
	fs := c.flags("kill")
	login := fs.String("login", "", "close every session of this login")
	pos, ok := c.parse(fs, args, 0, 1, "kill ID | kill --login L")
	if !ok || (len(pos) == 1) == (*login != "") {
		if ok {
			fmt.Fprintln(c.stderr, "usage: rdpbroker ctl kill ID | kill --login L")
		}
		return 2
	}
	var res struct {
		Before json.RawMessage `json:"before"`
	}
	if *login != "" {
		if !c.call(0, "POST", "/api/v1/sessions/kill", nil, map[string]string{"login": *login}, &res) {
			return 1
		}
	} else {
		if _, err := strconv.ParseUint(pos[0], 10, 64); err != nil {
			fmt.Fprintf(c.stderr, "rdpbroker ctl kill: %q: want a session id (see ctl sessions)\n", pos[0])
			return 2
		}
		if !c.call(0, "DELETE", "/api/v1/sessions/"+pos[0], nil, nil, &res) {
			return 1
		}
	}
	var killed []admin.Session
	var one admin.Session
	if json.Unmarshal(res.Before, &killed) != nil && json.Unmarshal(res.Before, &one) == nil {
		killed = []admin.Session{one}
	}
	return c.show(killed, func(w io.Writer) {
		fmt.Fprintf(w, "closed %d session(s):\n", len(killed))
		sessionTable(w, killed)
	})
}
