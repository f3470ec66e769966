package admin

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakes are the handlers a test server mounts; each answers its name.
func fakes() Options {
	named := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name+" "+r.URL.Path) })
	}
	return Options{
		Logger:  slog.New(slog.DiscardHandler),
		Metrics: named("metrics"),
		Status:  named("status"),
		API:     named("api"),
	}
}

// serve runs s on a free loopback port until the test ends and returns
// its base URL ("http://127.0.0.1:port") and a stop function (idempotent)
// that waits for Serve to return.
func serve(t *testing.T, s *Server, scheme string) (string, func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	var res error
	var stopped atomic.Bool
	stop := func() error {
		if stopped.CompareAndSwap(false, true) {
			cancel()
			select {
			case res = <-done:
			case <-time.After(10 * time.Second):
				t.Error("Serve did not return within 10s of its context ending")
			}
		}
		return res
	}
	t.Cleanup(func() { stop() })
	return scheme + "://" + ln.Addr().String(), stop
}

func get(t *testing.T, c *http.Client, url string, hdr ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: body: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

func TestRoutes(t *testing.T) {
	var notReady atomic.Pointer[error]
	opts := fakes()
	opts.Ready = func() error {
		if p := notReady.Load(); p != nil {
			return *p
		}
		return nil
	}
	for _, pprofOn := range []bool{false, true} {
		cfg := DefaultConfig()
		cfg.Pprof = pprofOn
		s, err := New(cfg, opts)
		if err != nil {
			t.Fatal(err)
		}
		base, _ := serve(t, s, "http")
		c := &http.Client{Timeout: 10 * time.Second}
		for _, tc := range []struct {
			path string
			code int
			body string
		}{
			{"/-/healthy", 200, "rdpbroker is healthy."},
			{"/-/ready", 200, "rdpbroker is ready."},
			{"/metrics", 200, "metrics /metrics"},
			{"/", 200, "status /"},
			{"/api/v1/servers/ts01", 200, "api /api/v1/servers/ts01"},
			{"/nope", 404, ""},
			{"/metrics/x", 404, ""},
			{"/debug/pprof/cmdline", map[bool]int{false: 404, true: 200}[pprofOn], ""},
		} {
			code, body := get(t, c, base+tc.path)
			if code != tc.code || !strings.Contains(body, tc.body) {
				t.Errorf("pprof=%v GET %s = %d %q, want %d %q", pprofOn, tc.path, code, body, tc.code, tc.body)
			}
		}
		why := errors.New("affinity table not loaded")
		notReady.Store(&why)
		if code, body := get(t, c, base+"/-/ready"); code != 503 || !strings.Contains(body, "not ready: affinity table not loaded") {
			t.Errorf("GET /-/ready while not ready = %d %q, want 503 with the reason", code, body)
		}
		notReady.Store(nil)
		resp, err := c.Post(base+"/metrics", "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST /metrics = %d, want 405", resp.StatusCode)
		}
		if got := resp.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("Cache-Control = %q, want no-store", got)
		}
	}
}

// TestProfileOutlivesWriteTimeout: the profiler's routes are exempt from
// WriteTimeout (pprof refuses a profile longer than the server's).
func TestProfileOutlivesWriteTimeout(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Pprof = true
	s, err := New(cfg, fakes())
	if err != nil {
		t.Fatal(err)
	}
	base, _ := serve(t, s, "http")
	code, body := get(t, &http.Client{Timeout: 20 * time.Second}, base+"/debug/pprof/profile?seconds=1")
	if code != 200 || len(body) == 0 {
		t.Fatalf("GET profile = %d %q, want 200 and a profile", code, body)
	}
}

func TestDefaultIndex(t *testing.T) {
	s, err := New(DefaultConfig(), Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	base, _ := serve(t, s, "http")
	c := &http.Client{Timeout: 10 * time.Second}
	if code, body := get(t, c, base+"/"); code != 200 || !strings.Contains(body, "/-/ready") {
		t.Errorf("GET / without a status page = %d %q, want the endpoint list", code, body)
	}
	if code, _ := get(t, c, base+"/metrics"); code != 404 {
		t.Errorf("GET /metrics without a metrics handler = %d, want 404", code)
	}
	if code, _ := get(t, c, base+"/-/ready"); code != 200 {
		t.Errorf("GET /-/ready without a Ready func = %d, want 200", code)
	}
}

// TestGracefulClose: a request in flight when the context ends completes;
// /-/ready says "stopping" meanwhile; Serve returns nil afterwards and
// the port no longer answers.
func TestGracefulClose(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	opts := fakes()
	opts.Metrics = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "late metrics")
	})
	s, err := New(DefaultConfig(), opts)
	if err != nil {
		t.Fatal(err)
	}
	base, stop := serve(t, s, "http")
	c := &http.Client{Timeout: 10 * time.Second}
	type result struct {
		code int
		body string
	}
	got := make(chan result, 1)
	go func() {
		code, body := get(t, c, base+"/metrics")
		got <- result{code, body}
	}()
	<-entered
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	deadline := time.Now().Add(5 * time.Second)
	for !s.stopping.Load() {
		if time.Now().After(deadline) {
			t.Fatal("server not stopping 5s after its context ended")
		}
		time.Sleep(time.Millisecond)
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/-/ready", nil))
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), "stopping") {
		t.Errorf("/-/ready while stopping = %d %q, want 503 stopping", rec.Code, rec.Body.String())
	}
	close(release)
	if r := <-got; r.code != 200 || r.body != "late metrics" {
		t.Errorf("request in flight at close = %d %q, want 200 late metrics", r.code, r.body)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Serve = %v, want nil after a close asked by ctx", err)
	}
	if _, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), time.Second); err == nil {
		t.Error("port still accepting after Serve returned")
	}
}

// TestConnectionCap: with the cap taken by idle connections a request
// waits; it is served once one of them closes.
func TestConnectionCap(t *testing.T) {
	s, err := New(DefaultConfig(), fakes())
	if err != nil {
		t.Fatal(err)
	}
	s.maxConns = 2
	base, _ := serve(t, s, "http")
	addr := strings.TrimPrefix(base, "http://")
	var idle []net.Conn
	for range s.maxConns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		idle = append(idle, c)
	}
	got := make(chan int, 1)
	go func() {
		code, _ := get(t, &http.Client{Timeout: 10 * time.Second}, base+"/-/healthy")
		got <- code
	}()
	select {
	case code := <-got:
		t.Fatalf("request served (%d) while %d connections held the cap", code, s.maxConns)
	case <-time.After(300 * time.Millisecond):
	}
	idle[0].Close()
	select {
	case code := <-got:
		if code != 200 {
			t.Errorf("GET /-/healthy = %d after a slot freed, want 200", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("request not served within 10s of a slot freeing")
	}
}

func TestServeListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := DefaultConfig()
	cfg.HTTP = ln.Addr().String()
	s, err := New(cfg, fakes())
	if err != nil {
		t.Fatal(err)
	}
	err = s.ListenAndServe(context.Background())
	if err == nil || !strings.Contains(err.Error(), "admin: listen "+cfg.HTTP) {
		t.Fatalf("ListenAndServe on a taken port = %v, want admin: listen %s: ...", err, cfg.HTTP)
	}
	cfg.HTTP = ""
	if s, err = New(cfg, fakes()); err != nil {
		t.Fatal(err)
	}
	if err := s.ListenAndServe(context.Background()); err != nil {
		t.Fatalf("ListenAndServe with http off = %v, want nil", err)
	}
}
