package upgrade

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"
)

// upgrader is the old process's side of one upgrade.
type upgrader struct {
	b     Broker
	opts  Options
	log   *slog.Logger
	child *process
}

// run: hello, hand over the listeners and the store, ready, commit, then
// the sessions. Before commit every failure rolls back.
func (u *upgrader) run(ctx context.Context) (Report, error) {
	cfg, ch := u.opts.Config, u.child.ch
	rep := Report{PID: u.child.cmd.Process.Pid}
	m, _, err := ch.recv(time.Now().Add(cfg.StartTimeout))
	if err != nil || m.Type != msgHello {
		u.child.kill()
		return rep, u.child.why("before loading its configuration", m, err)
	}
	rep.Version = m.Version
	u.log.Info("upgrade: new process loaded its configuration", "pid", rep.PID, "version", m.Version)
	if err := ctx.Err(); err != nil {
		u.child.kill()
		return rep, fmt.Errorf("upgrade: %w", err)
	}
	if err := u.handOver(); err != nil {
		u.rollback()
		return rep, err
	}
	m, _, err = ch.recv(time.Now().Add(cfg.ReadyTimeout))
	if err != nil || m.Type != msgReady {
		u.rollback()
		return rep, u.child.why("before serving", m, err)
	}
	if err := ch.send(message{Type: msgCommit}); err != nil {
		u.rollback()
		return rep, u.child.why("at commit", message{}, err)
	}
	u.log.Info("upgrade: new process serves; handing the sessions over", "pid", rep.PID)
	start := time.Now()
	rep.HandedOver, rep.Kept = u.sessions()
	rep.Sessions = time.Since(start)
	ch.send(message{Type: msgDone, Handed: rep.HandedOver, Kept: rep.Kept})
	ch.c.Close()
	return rep, nil
}

// handOver stops accepting, releases the store and sends the listeners.
func (u *upgrader) handOver() error {
	if err := u.b.PauseAccept(u.opts.Config.PauseTimeout); err != nil {
		return fmt.Errorf("upgrade: %w", err)
	}
	if err := u.b.ReleaseAffinity(); err != nil {
		u.log.Warn("upgrade: affinity store: last flush failed; the new process merges what it holds", "err", err)
	}
	m := message{Type: msgHandover, NextID: u.b.NextID()}
	var files []*os.File
	for _, l := range u.opts.Listeners {
		m.Listeners = append(m.Listeners, l.Name)
		files = append(files, l.File)
	}
	if err := u.child.ch.send(m, files...); err != nil {
		return u.child.why("while receiving the listeners", message{}, err)
	}
	return nil
}

// rollback kills the new process and serves again as before.
func (u *upgrader) rollback() {
	u.child.kill()
	if err := u.b.ReclaimAffinity(); err != nil {
		u.log.Error("upgrade failed and the affinity store could not be reopened; serving from memory", "err", err)
	}
	u.b.ResumeAccept()
}

// sessions hands every session over, one at a time, until none is left
// to try and no client is still on its way to becoming one. It returns
// how many went and how many stay here.
func (u *upgrader) sessions() (handed, kept int) {
	cfg := u.opts.Config
	tried := map[uint64]bool{}
	settle := time.Now().Add(cfg.SettleTimeout)
	for {
		var todo []uint64
		for _, id := range u.b.SessionIDs() {
			if !tried[id] {
				todo = append(todo, id)
			}
		}
		if len(todo) == 0 {
			if u.b.Settled() || time.Now().After(settle) {
				return handed, kept
			}
			time.Sleep(10 * time.Millisecond) // clients still connecting: poll, bounded by settle
			continue
		}
		for _, id := range todo {
			tried[id] = true
			switch err := u.session(id); {
			case err == nil:
				handed++
			case err == errGone:
				u.log.Error("upgrade: new process gone while taking sessions; the rest stay here", "pid", u.child.cmd.Process.Pid)
				return handed, kept + len(u.b.SessionIDs())
			default:
				kept++
				u.log.Warn("upgrade: session stays with the old process until it ends", "id", id, "err", err)
			}
		}
	}
}

// errGone: the new process no longer answers; no session can go to it.
var errGone = errors.New("upgrade: new process gone")

// session quiesces session id and passes it; on any failure it goes on
// here.
func (u *upgrader) session(id uint64) error {
	cfg, ch := u.opts.Config, u.child.ch
	rec, client, server, err := u.b.QuiesceSession(id, time.Now().Add(cfg.QuiesceTimeout))
	if err != nil {
		return err
	}
	cf, err := client.File()
	if err != nil {
		u.b.ResumeSession(id)
		return fmt.Errorf("upgrade: session %d: client descriptor: %w", id, err)
	}
	defer cf.Close()
	sf, err := server.File()
	if err != nil {
		u.b.ResumeSession(id)
		return fmt.Errorf("upgrade: session %d: server descriptor: %w", id, err)
	}
	defer sf.Close()
	if err := ch.send(message{Type: msgSession, ID: id, Record: rec}, cf, sf); err != nil {
		u.b.ResumeSession(id)
		return errGone
	}
	m, files, err := ch.recv(time.Now().Add(cfg.AckTimeout))
	closeAll(files)
	switch {
	case err != nil && errors.Is(err, errClosed):
		u.b.ResumeSession(id) // the new process is gone, and its copies with it
		return errGone
	case err != nil:
		// No answer: the new process may be relaying it already. Relaying
		// here too would mix bytes; letting go loses the session only if
		// the new process did not take it.
		u.b.CommitSession(id)
		u.log.Error("upgrade: no answer for a passed session; let go", "id", id, "err", err)
		return errGone
	case m.Type == msgAdopted && m.ID == id:
		u.b.CommitSession(id)
		return nil
	default:
		u.b.ResumeSession(id)
		return fmt.Errorf("upgrade: session %d refused by the new process: %s", id, m.Error)
	}
}
