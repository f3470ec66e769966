package appliance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"time"
)

// startPprof serves Go's profiler (net/http/pprof: /debug/pprof/...) on
// addr until ctx ends, for `rdpbroker serve --pprof ADDR` and the
// benchmark. The profiler shows the process's internals and a CPU profile
// costs CPU, so addr must be a loopback address: reach it over SSH.
func startPprof(ctx context.Context, addr string, log *slog.Logger) (string, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return "", fmt.Errorf("pprof: %q: want a loopback IP:port: %w", addr, err)
	}
	if !ap.Addr().IsLoopback() {
		return "", fmt.Errorf("pprof: %s is not a loopback address: the profiler is for local use (ssh -L)", addr)
	}
	ln, err := net.Listen("tcp", ap.String())
	if err != nil {
		return "", fmt.Errorf("pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("pprof: serve", "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	log.Info("pprof listening", "addr", ln.Addr().String())
	return ln.Addr().String(), nil
}
