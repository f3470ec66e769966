package routing

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

func TestRecordRiseFall(t *testing.T) {
	ok, fail := error(nil), errors.New("refused")
	tests := []struct {
		name    string
		results []error
		want    string // health after each result: u(p) or d(own)
	}{
		{"stays up", []error{ok, ok, ok}, "uuu"},
		{"falls after 3", []error{fail, fail, fail, fail}, "uudd"},
		{"success interrupts fall", []error{fail, fail, ok, fail, fail, fail}, "uuuuud"},
		{"rises after 2", []error{fail, fail, fail, ok, ok, ok}, "uuddu" + "u"},
		{"failure interrupts rise", []error{fail, fail, fail, ok, fail, ok, ok}, "uudddd" + "u"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newServerState("ts01", "p", "10.0.0.1:3389")
			var b strings.Builder
			for i, err := range tc.results {
				changed, healthy := st.record(err, t0, 2, 3)
				if changed != (i > 0 && (tc.want[i] != tc.want[i-1]) || i == 0 && tc.want[0] == 'd') {
					t.Errorf("result %d: changed = %v", i, changed)
				}
				if healthy != !st.down.Load() {
					t.Errorf("result %d: healthy %v disagrees with state", i, healthy)
				}
				b.WriteByte("du"[btoi(healthy)])
			}
			if b.String() != tc.want {
				t.Errorf("health = %s, want %s", b.String(), tc.want)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// fakeProbe answers health checks from a per-address error and records
// the calls.
type fakeProbe struct {
	mu    sync.Mutex
	errs  map[string]error
	calls map[string]int
	block bool // wait for ctx instead of answering
}

func newFakeProbe() *fakeProbe {
	return &fakeProbe{errs: map[string]error{}, calls: map[string]int{}}
}

func (f *fakeProbe) Probe(ctx context.Context, check, addr string) error {
	f.mu.Lock()
	f.calls[addr]++
	err, block := f.errs[addr], f.block
	f.mu.Unlock()
	if block {
		<-ctx.Done()
		return ctx.Err()
	}
	return err
}

func (f *fakeProbe) set(addr string, err error) {
	f.mu.Lock()
	f.errs[addr] = err
	f.mu.Unlock()
}

func (f *fakeProbe) count(addr string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[addr]
}

// fastHealth is a health config that checks every millisecond.
func fastHealth(check string) HealthConfig {
	return HealthConfig{Check: check, Interval: time.Millisecond, Timeout: time.Second, Rise: 2, Fall: 3}
}

// startRouter applies cfg to a router with probe, runs it, and stops it
// at the end of the test.
func startRouter(t *testing.T, cfg Config, probe *fakeProbe) (*Router, *rdptest.LogBuffer) {
	t.Helper()
	logs := &rdptest.LogBuffer{}
	r := NewRouter(RouterOptions{Logger: logs.Logger(slog.LevelInfo), Probe: probe.Probe})
	if err := r.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		r.Close()
		if n := r.numCheckers(); n != 0 {
			t.Errorf("%d checkers left after Run", n)
		}
	})
	return r, logs
}

func TestHealthTransitions(t *testing.T) {
	cfg := testConfig()
	cfg.Pools[0].Health = fastHealth(CheckRDP)
	probe := newFakeProbe()
	r, logs := startRouter(t, cfg, probe)
	ts01, ts02 := r.Table().Server("ts01"), r.Table().Server("ts02")

	probe.set(ts01.Address, errors.New("no X.224 answer"))
	rdptest.Eventually(t, 5*time.Second, "ts01 down", func() bool { return !ts01.Healthy() })
	if ts01.Available(time.Now()) || !ts02.Healthy() {
		t.Error("availability after ts01 down")
	}
	if st := ts01.Status(time.Now()); st.LastError != "no X.224 answer" || st.CheckFailures < 3 || st.LastCheck.IsZero() {
		t.Errorf("status = %+v", st)
	}
	probe.set(ts02.Address, errors.New("refused"))
	rdptest.Eventually(t, 5*time.Second, "ts02 down", func() bool { return !ts02.Healthy() })
	rdptest.Eventually(t, 5*time.Second, "pool warning", func() bool { return strings.Contains(logs.String(), "pool has no available server") })
	if d := r.Decide(loginReq("frank")); d.Err == nil {
		t.Errorf("decision with both servers down: %+v", d)
	}

	probe.set(ts01.Address, nil)
	rdptest.Eventually(t, 5*time.Second, "ts01 up", ts01.Healthy)
	for _, want := range []string{ // health flips just before the line is logged: poll
		`level=INFO msg="server down" server=ts01 pool=general addr=10.0.0.1:3389 check=rdp err="no X.224 answer"`,
		`level=WARN msg="pool has no available server" pool=general servers=2`,
		`level=INFO msg="server up" server=ts01 pool=general addr=10.0.0.1:3389 check=rdp`,
	} {
		rdptest.Eventually(t, 5*time.Second, "log line "+want, func() bool { return strings.Contains(logs.String(), want) })
	}
	if probe.count("10.0.0.3:3389") != 0 {
		t.Error("a check none server was probed")
	}
}

// A check that cannot even dial for lack of local descriptors or ports
// says nothing about the server: it stays up, however many such checks.
func TestHealthLocalExhaustionIsNotAFailure(t *testing.T) {
	cfg := testConfig()
	cfg.Pools[0].Health = fastHealth(CheckTCP)
	probe := newFakeProbe()
	r, logs := startRouter(t, cfg, probe)
	ts01 := r.Table().Server("ts01")
	probe.set(ts01.Address, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("socket", syscall.EMFILE)})
	before := probe.count(ts01.Address)
	rdptest.Eventually(t, 5*time.Second, "10 checks out of descriptors", func() bool { return probe.count(ts01.Address) >= before+10 })
	if !ts01.Healthy() || ts01.Status(time.Now()).CheckFailures != 0 {
		t.Errorf("server marked by local exhaustion: %+v", ts01.Status(time.Now()))
	}
	rdptest.Eventually(t, 5*time.Second, "the warning", func() bool { return strings.Contains(logs.String(), "health check not run: no local resources") })
}

func TestHealthTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.Pools[0].Health = fastHealth(CheckTCP)
	cfg.Pools[0].Health.Timeout = time.Millisecond
	probe := newFakeProbe()
	probe.block = true // every check runs into its timeout
	r, _ := startRouter(t, cfg, probe)
	ts01 := r.Table().Server("ts01")
	rdptest.Eventually(t, 5*time.Second, "ts01 down by timeouts", func() bool { return !ts01.Healthy() })
	if st := ts01.Status(time.Now()); st.LastError != context.DeadlineExceeded.Error() {
		t.Errorf("last error = %q", st.LastError)
	}
}

func TestDefaultProbeTCP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := defaultProbe(ctx, "bogus", "127.0.0.1:1"); err == nil {
		t.Error("unknown check accepted")
	}
	if err := defaultProbe(ctx, CheckTCP, "127.0.0.1:1"); err == nil {
		t.Error("tcp probe of a closed port succeeded")
	}
}

func TestDefaultProbeConnects(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skip(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := defaultProbe(ctx, CheckTCP, ln.Addr().String()); err != nil {
		t.Errorf("tcp probe of a listener: %v", err)
	}
	// A listener that closes at once is no RDP stack: the rdp check is rdp.Probe.
	if err := defaultProbe(ctx, CheckRDP, ln.Addr().String()); err == nil {
		t.Error("rdp probe accepted a listener that closes at once")
	}
}
