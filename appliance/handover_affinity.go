package appliance

import (
	"sync/atomic"

	"github.com/rdpbroker/rdpbroker/affinity"
)

// liveAffinity is the router's view of the broker's affinity table,
// through b.aff: a failed upgrade replaces the table whose store it
// released by one opened again.
type liveAffinity struct {
	p *atomic.Pointer[affinity.Table]
}

func (a liveAffinity) Lookup(key string) (string, bool) {
	if t := a.p.Load(); t != nil {
		return t.Lookup(key)
	}
	return "", false
}

func (a liveAffinity) Place(key, server string) {
	if t := a.p.Load(); t != nil {
		t.Place(key, server)
	}
}

func (a liveAffinity) Delete(key string) {
	if t := a.p.Load(); t != nil {
		t.Delete(key)
	}
}

// ReleaseAffinity hands the affinity store over (an upgrade, once this
// process stopped accepting): replication stops (its port is free for the
// new process), the table is flushed and its store closed, releasing the
// file lock. The table keeps answering lookups from memory.
func (b *Broker) ReleaseAffinity() error {
	b.mu.Lock()
	r := b.repl
	b.repl = nil
	b.mu.Unlock()
	if r != nil {
		r.Close()
	}
	t := b.aff.Load()
	if t == nil {
		return nil
	}
	err := t.Close()
	b.log.Info("upgrade: affinity store flushed and released", "entries", t.Len(), "err", err)
	return err
}

// ReclaimAffinity opens the store again after a failed upgrade (the new
// process is gone) and restarts replication.
func (b *Broker) ReclaimAffinity() error {
	if b.aff.Load() == nil {
		return nil // Options.Affinity: nothing was released
	}
	cfg := b.Config()
	t, err := b.openAffinity(cfg)
	if err != nil {
		return err
	}
	b.aff.Store(t)
	b.mu.Lock()
	ctx := b.runCtx
	b.mu.Unlock()
	if ctx != nil {
		return b.startReplication(ctx, cfg)
	}
	return nil
}
