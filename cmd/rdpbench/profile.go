package main

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// profile starts fetching a CPU profile of p (rdpbroker started with
// --pprof) covering a cell about to run (warm-up + measured time) into
// b.profileDir/name, and returns a func that waits for it. Failures are
// reported as progress, not errors: the numbers do not depend on it.
func (b *bench) profile(p *process, name string) (wait func()) {
	secs := int(math.Ceil((b.warmup + b.duration).Seconds()))
	path := filepath.Join(b.profileDir, name)
	done := make(chan error, 1)
	go func() { done <- fetchProfile(p.pprof, secs, path) }()
	return func() {
		if err := <-done; err != nil {
			b.progress("profile %s: %v", name, err)
			return
		}
		b.profiles = append(b.profiles, path)
		b.progress("profile %s written: go tool pprof -top %s %s", name, b.brokerBin, path)
	}
}

func fetchProfile(addr string, secs int, path string) error {
	c := &http.Client{Timeout: time.Duration(secs+10) * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
