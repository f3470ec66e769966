package appliance

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"

	"github.com/rdpbroker/rdpbroker/affinity"
)

// AffinityFile is the affinity store's name in state_dir.
const AffinityFile = "affinity.db"

// openAffinity opens the persisted affinity table of cfg: lookups answer
// at once from what the store held (entries older than the flush window
// survive a crash). A store locked by another process is an error; an
// unreadable one is moved aside by affinity.Open and the broker starts
// with an empty table; one the file system refuses (full, read-only)
// leaves the table in memory until it can be written.
func (b *Broker) openAffinity(cfg Config) (*affinity.Table, error) {
	t, err := affinity.Open(filepath.Join(cfg.StateDir, AffinityFile), cfg.Affinity.Table, affinity.Options{
		Logger: b.log, Now: b.now, Node: cfg.Peers.Node,
	})
	if err != nil {
		return nil, fmt.Errorf("appliance: %w", err)
	}
	if e := t.Stats().LastFlushError; e != "" { // the file system refused the store: logged by affinity
		b.log.Warn("affinity table serving from memory until its store can be written", "path", filepath.Join(cfg.StateDir, AffinityFile),
			"expire", cfg.Affinity.Table.Expire, "down_grace", cfg.Affinity.Router.DownGrace)
		return t, nil
	}
	b.log.Info("affinity table loaded", "path", filepath.Join(cfg.StateDir, AffinityFile), "entries", t.Len(),
		"expire", cfg.Affinity.Table.Expire, "down_grace", cfg.Affinity.Router.DownGrace)
	return t, nil
}

// startReplication joins the peers of cfg (if any) under ctx.
func (b *Broker) startReplication(ctx context.Context, cfg Config) error {
	t := b.aff.Load()
	if t == nil || !cfg.Peers.Enabled() {
		return nil
	}
	r, err := affinity.StartReplication(ctx, t, cfg.Peers, b.log)
	if err != nil {
		return fmt.Errorf("appliance: affinity replication: %w", err)
	}
	b.mu.Lock()
	b.repl = r
	b.mu.Unlock()
	return nil
}

// closeAffinity stops replication and flushes and closes the table.
func (b *Broker) closeAffinity() {
	b.mu.Lock()
	r := b.repl
	b.repl = nil
	b.mu.Unlock()
	if r != nil {
		r.Close()
	}
	if t := b.aff.Swap(nil); t != nil {
		if err := t.Close(); err != nil {
			b.log.Error("affinity: final flush failed", "err", err)
		}
	}
}

// reloadAffinity: the affinity and peers settings apply at start only
// (the store and the peer listener stay open across reloads); down_grace
// applies at once through the routing configuration.
func (b *Broker) reloadAffinity(old, cfg Config) {
	if !reflect.DeepEqual(old.Affinity.Table, cfg.Affinity.Table) || !reflect.DeepEqual(old.Peers, cfg.Peers) {
		b.log.Warn("affinity and peers settings other than down_grace apply after a restart; keeping the running ones")
	}
}

// Affinity returns the broker's affinity table (nil when the broker was
// given another via Options.Affinity): list, get, set, delete, clear a
// server, for the admin API.
func (b *Broker) Affinity() *affinity.Table { return b.aff.Load() }

// Replication returns the replication state (nil without peers).
func (b *Broker) Replication() *affinity.Replicator {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.repl
}
