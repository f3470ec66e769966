package appliance

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// ServeOptions are `rdpbroker serve`'s flags besides the config file.
type ServeOptions struct {
	// Pprof is a loopback address for Go's profiler ("" = none).
	Pprof string
}

// Serve is `rdpbroker serve`: load the file, run the broker until SIGINT or
// SIGTERM, reload the file on SIGHUP (a bad file is reported and the
// running configuration kept) and log its state on SIGUSR1.
func Serve(ctx context.Context, path string, opts ServeOptions, stderr io.Writer) error {
	b, logger, err := open(path, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if opts.Pprof != "" {
		// A bad address is logged, not fatal: the profiler is a
		// diagnostic and must not keep the gateway down.
		if _, err := startPprof(ctx, opts.Pprof, logger); err != nil {
			logger.Error("profiler not started", "err", err)
		}
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				reloadFile(b, path, logger)
			case <-usr1:
				b.LogState()
			}
		}
	}()
	return b.Run(ctx)
}

// open loads the file and builds a broker logging to stderr as it says.
func open(path string, stderr io.Writer) (*Broker, *slog.Logger, error) {
	cfg, err := LoadConfig(path)
	if err != nil {
		return nil, nil, err
	}
	logger, err := NewLogger(cfg.Log, stderr)
	if err != nil {
		return nil, nil, err
	}
	b, err := New(cfg, Options{Logger: logger})
	if err != nil {
		return nil, nil, err
	}
	return b, logger, nil
}

func reloadFile(b *Broker, path string, logger *slog.Logger) {
	cfg, err := LoadConfig(path)
	if err == nil {
		err = b.Reload(cfg)
	}
	if err != nil {
		logger.Error("reload refused; keeping the running configuration", "path", path, "err", err)
		return
	}
	logger.Info("configuration reloaded", "path", path)
}

// CheckConfig is `rdpbroker check-config`: it validates a file and writes a
// one-line summary, or every problem, to w.
func CheckConfig(path string, w io.Writer) error {
	cfg, err := LoadConfig(path)
	if err != nil {
		return err
	}
	servers := 0
	for _, p := range cfg.Pools {
		servers += len(p.Servers)
	}
	fmt.Fprintf(w, "%s: OK (%d pools, %d servers, %d rules, default pool %q)\n",
		path, len(cfg.Pools), servers, len(cfg.Rules), cfg.DefaultPool)
	return nil
}
