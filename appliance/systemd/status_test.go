package systemd_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/appliance/systemd"
	"github.com/rdpbroker/rdpbroker/appliance/systemd/sdtest"
)

func TestStatusFormat(t *testing.T) {
	now := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	long := strings.Repeat("é", 200)
	cases := []struct {
		name string
		st   systemd.Status
		want string
	}{
		{"no directory", systemd.Status{Sessions: 12, ServersUp: 3, Servers: 4},
			"12 sessions, 3/4 servers up"},
		{"one session", systemd.Status{Sessions: 1, ServersUp: 1, Servers: 1},
			"1 session, 1/1 servers up"},
		{"directory not synced yet", systemd.Status{ServersUp: 4, Servers: 4, Directory: true},
			"0 sessions, 4/4 servers up, directory not synced yet"},
		{"synced seconds ago", systemd.Status{Sessions: 2, ServersUp: 2, Servers: 2, Directory: true, LastSync: now.Add(-42 * time.Second)},
			"2 sessions, 2/2 servers up, directory synced 42s ago"},
		{"synced minutes ago", systemd.Status{Directory: true, LastSync: now.Add(-7*time.Minute - 30*time.Second)},
			"0 sessions, 0/0 servers up, directory synced 7m ago"},
		{"sync failed hours ago", systemd.Status{Directory: true, LastSync: now.Add(-3*time.Hour - 5*time.Minute), SyncError: "ldap: dial\ntcp: refused"},
			"0 sessions, 0/0 servers up, directory sync failed 3h05m ago: ldap: dial tcp: refused"},
		{"note", systemd.Status{Sessions: 5, ServersUp: 1, Servers: 2, Note: "stopping"},
			"5 sessions, 1/2 servers up, stopping"},
		{"long error clipped on a rune", systemd.Status{Directory: true, LastSync: now, SyncError: long},
			"0 sessions, 0/0 servers up, directory sync failed 0s ago: " + strings.Repeat("é", 80) + "..."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.st.Format(now); got != c.want {
				t.Fatalf("Format:\n got %q\nwant %q", got, c.want)
			}
		})
	}
}

// RunStatus sends the line at once, then only when it changed.
func TestRunStatus(t *testing.T) {
	sock := underSystemd(t)
	n := systemd.New(systemd.Options{})
	var sessions, calls atomic.Int64
	line := func() string {
		calls.Add(1)
		return systemd.Status{Sessions: sessions.Load(), ServersUp: 1, Servers: 1}.Format(time.Now())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); n.RunStatus(ctx, 10*time.Millisecond, line) }()
	defer func() { cancel(); <-done }()

	if _, err := sock.WaitState(5*time.Second, "STATUS=0 sessions, 1/1 servers up"); err != nil {
		t.Fatal(err)
	}
	sessions.Store(3)
	if _, err := sock.WaitState(5*time.Second, "STATUS=3 sessions, 1/1 servers up"); err != nil {
		t.Fatal(err)
	}
	// Many ticks later, still two lines: unchanged lines are not resent.
	seen := calls.Load()
	deadline := time.Now().Add(5 * time.Second)
	for calls.Load() < seen+10 {
		if time.Now().After(deadline) {
			t.Fatal("RunStatus stopped asking for the line")
		}
		time.Sleep(5 * time.Millisecond)
	}
	n.Ready() // marker: every STATUS sent before it has arrived once it has
	msgs, err := sock.Wait(5*time.Second, func(m []sdtest.Message) bool { return len(m) >= 3 })
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"STATUS=0 sessions, 1/1 servers up", "STATUS=3 sessions, 1/1 servers up", "READY=1"}
	for i, m := range msgs {
		if i >= len(want) || m.State != want[i] {
			t.Fatalf("datagrams %q, want %q", sock.States(), want)
		}
	}
}
