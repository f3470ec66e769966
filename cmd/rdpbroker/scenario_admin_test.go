package main

// What the administrator looks at in the scenario: `rdpbroker ctl` over
// each broker's admin socket (ctlEnv of ctl_e2e_test.go), the status page
// and /metrics on its admin.http endpoint, and the processes themselves.

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/appliance/admin"
	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

// ctlEnv runs `rdpbroker ctl` on behalf of t (a step's own t: its Fatal
// ends that step only).
func (s *scenario) ctlEnv(t *testing.T) *ctlEnv {
	return &ctlEnv{t: t, bin: s.bin, dir: s.dir, farm: nil, last: map[string]string{}}
}

// status is `ctl status --json` on n.
func (s *scenario) status(e *ctlEnv, n *node) admin.Status {
	e.t.Helper()
	var st admin.Status
	e.jsonOK(n.sock, &st, "status")
	return st
}

// explain is `ctl route explain LOGIN --json` on n.
func (s *scenario) explain(e *ctlEnv, n *node, login string) explained {
	e.t.Helper()
	var x explained
	e.jsonOK(n.sock, &x, "route", "explain", login)
	return x
}

// get fetches path from n's admin.http endpoint.
func (s *scenario) get(t *testing.T, n *node, path string) string {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + n.http + path)
	if err != nil {
		t.Fatalf("%s: GET %s: %v", n.name, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: GET %s: %d %v\n%s", n.name, path, resp.StatusCode, err, b)
	}
	return string(b)
}

// metrics scrapes n's /metrics: series as printed (name{labels}) -> value.
func (s *scenario) metrics(t *testing.T, n *node) map[string]float64 {
	t.Helper()
	m := map[string]float64{}
	for _, line := range strings.Split(s.get(t, n, "/metrics"), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("%s: /metrics line %q: %v", n.name, line, err)
		}
		m[line[:i]] = v
	}
	return m
}

// metric is one series of a scrape; it must be there.
func metric(t *testing.T, m map[string]float64, series string) float64 {
	t.Helper()
	v, ok := m[series]
	if !ok {
		t.Fatalf("/metrics has no %s", series)
	}
	return v
}

// rejects is `ctl status`'s count of refused clients for each reason.
func (s *scenario) rejects(e *ctlEnv, n *node) map[string]uint64 {
	e.t.Helper()
	return s.status(e, n).Rejects
}

// stopBroker stops n gracefully (SIGTERM to the process serving now, which
// after an upgrade is not the one the test started) and waits until it is
// gone.
func (s *scenario) stopBroker(t *testing.T, n *node) {
	t.Helper()
	pid := s.status(s.ctlEnv(t), n).PID
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatalf("%s: SIGTERM pid %d: %v", n.name, pid, err)
	}
	if ok, _ := rdptest.Poll(15*time.Second, func() (bool, string) { return !alive(pid), "" }); !ok {
		t.Fatalf("%s (pid %d) still runs 15s after SIGTERM:\n%s", n.name, pid, tail(n.proc.log(), 30))
	}
}

// alive reports whether pid is a live process (not gone, not a zombie).
func alive(pid int) bool {
	stat := readFile(fmt.Sprintf("/proc/%d/stat", pid))
	i := strings.LastIndexByte(stat, ')')
	return i >= 0 && len(stat) > i+2 && stat[i+2] != 'Z'
}

// watchProcess makes sure pid is killed, with its process group when it
// leads one of its own, on the scenario's cleanup (not a step's) and that
// checkLeftovers checks that group: a process the broker started itself
// (the new binary of an upgrade) is not one startGroup knows.
func (s *scenario) watchProcess(pid int) {
	stat := readFile(fmt.Sprintf("/proc/%d/stat", pid))
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return
	}
	f := strings.Fields(stat[i+1:]) // state ppid pgrp
	if len(f) < 3 {
		return
	}
	pgrp, err := strconv.Atoi(f[2])
	if err != nil || pgrp <= 1 || pgrp == syscall.Getpgrp() {
		s.t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
		return
	}
	started.add(pgrp)
	s.t.Cleanup(func() { _ = syscall.Kill(-pgrp, syscall.SIGKILL) })
}
