// Package affinity is the login -> server table that sends a returning
// user back to the server holding their session: in memory for lookups,
// persisted to a local bbolt file, replicated between 2-3 brokers.
//
// Typical use:
//
//	t, err := affinity.Open(filepath.Join(stateDir, "affinity.db"), cfg, affinity.Options{Logger: logger, Node: node})
//	if err != nil {
//		return err // bad config, or the file is locked by another process (errors.Is(err, affinity.ErrLocked))
//	}
//	defer t.Close() // writes the last flush window
//	if pc.Enabled() {
//		r, err := affinity.StartReplication(ctx, t, pc, logger)
//		if err != nil {
//			return err
//		}
//		defer r.Close() // before t.Close
//	}
//	server, ok := t.Lookup(login) // per connection, never blocks
//	t.Place(login, server)        // after a successful connect
//
// # Versions and conflicts
//
// Every write (Place, Set, Delete) gets a Version from a hybrid logical
// clock: wall milliseconds, a logical counter, and the writing node's id.
// The clock never goes backwards and moves past every version it loads or
// receives, so a node's own write always supersedes what it has seen. Per
// key the higher version wins on every node (a last-writer-wins register,
// a state-based CRDT): merging is idempotent and commutative, so any
// nodes that have seen the same writes hold the same table whatever the
// order. Equal wall times are ordered by the counter, then by node id.
//
// A Delete writes a tombstone with the same ordering, kept until Expire
// after the delete, so that an older write arriving late (from a peer
// back from a partition) cannot resurrect the entry. Entries expire
// Expire after their last write; a Place of the server already recorded
// rewrites the entry only when the last write is older than RefreshAfter
// (Expire/64 by default), so reconnects cost nothing. Expired entries and
// tombstones are pruned every PruneInterval, from memory and disk; a
// record that arrives already expired is ignored. All nodes must use the
// same Expire.
//
// # Persistence
//
// Lookups read a sharded in-memory map; writes update it and queue the
// key for the flusher, which every FlushInterval (100ms) writes all
// queued keys in one bbolt transaction, fsynced on commit. A crash
// (SIGKILL, power loss) loses at most the writes of the last window; Flush
// forces a write now. Open loads the whole file before returning (1M
// entries in well under 2s), so a restarted node routes at once. If the
// file cannot be read it is renamed to affinity.db.corrupt-<time>, never
// deleted, the error is logged and the table starts empty (peers refill
// it). Open fails with ErrLocked after Options.LockTimeout if another
// process holds the file (bbolt's flock): an upgrade must close the old
// table first. A failed write (full disk) keeps the changes queued and in
// memory, is logged and counted (Stats.FlushErrors), and retried every
// window. A store the file system refuses at Open (full, read-only, I/O
// errors: ErrUnavailable) is neither an error nor moved aside: the table
// serves from memory, every flush tries to open the store again, and once
// it opens its records are merged in (newer wins) and the queued changes
// written.
//
// # Replication
//
// StartReplication runs hashicorp/memberlist (membership, failure
// detection, encryption). Each local change goes to every live peer at
// once from a per-peer sender (one UDP packet when small, TCP chunks
// otherwise) and is also queued for gossip; received changes are merged
// and persisted, not forwarded. Sends are best effort: anti-entropy makes
// the nodes converge. Each node keeps an XOR digest of every one of 1024
// key buckets; on memberlist's push/pull (on join and every
// PushPullInterval, 15s) and whenever a peer comes up, the nodes exchange
// digests (8 KiB whatever the size of the table, far from memberlist's
// 20 MiB state cap) and send each other the whole buckets that differ,
// in 256 KiB messages. A restarted node serves its local file at once,
// then joins and catches up; a node whose peers are all down keeps
// placing users alone (AP), and its writes reach the others when the
// partition heals, resolved by version.
//
// # Security
//
// All peer traffic (UDP and TCP) is encrypted and authenticated with
// AES-GCM under the shared key of PeersConfig.SecretFile (16/24/32 bytes,
// base64 or hex text, or raw; see ReadSecret), and memberlist is told to
// refuse unencrypted traffic, so a node without the key can neither join
// nor inject entries. Memberlist's logs go to the injected slog.Logger.
// Received messages are size-checked (keys up to 1 KiB, names up to 255
// bytes) and a malformed one is logged and dropped.
package affinity
