package affinity

import "fmt"

// A store the file system refused at Open (ErrUnavailable: disk full,
// read-only, I/O errors) leaves the table serving from memory. Every
// change is kept pending, and each flush first tries to open the store
// again; once it opens, what it holds is merged into the table (per key
// the newer record wins, as between peers) and the pending changes are
// written: nothing placed during the outage is lost, and nothing the store
// held is either.

// unavailable records the error that kept the store closed at Open.
func (p *persister) unavailable(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failed(err)
}

// reopen opens the store that was unavailable. p.mu is held.
func (p *persister) reopen() error {
	st, err := p.t.openStore(p.path, p.lockTimeout, p.t.loadMerge)
	if err != nil {
		return err
	}
	p.st = st
	p.t.log.Info("affinity: store available again; merged what it held", "path", p.path)
	return nil
}

// loadMerge merges the records of st into a table that is already
// serving. Merged records are queued for writing back (harmless: the same
// bytes), expired and undecodable ones are skipped.
func (t *Table) loadMerge(st *boltStore) (int, error) {
	in := newInterner()
	var (
		recs []keyed
		bad  int
	)
	err := st.load(func(int) {}, func(k, v []byte) {
		r, err := decodeRecord(v, in)
		if err != nil || len(k) == 0 || len(k) > maxKeyLen {
			bad++
			return
		}
		recs = append(recs, keyed{string(k), r})
	})
	if err != nil {
		return 0, fmt.Errorf("affinity: load %s: %w", st.path, err)
	}
	if bad > 0 {
		t.log.Error("affinity: undecodable records skipped in the store", "path", st.path, "count", bad)
	}
	return t.merge(recs), nil
}
