package admin

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// AuditFile is the audit log's name in state_dir.
const AuditFile = "audit.log"

// DefaultAuditMaxBytes caps the audit log: past it, the file is renamed
// to audit.log.1 (replacing the previous one) and a new one started.
const DefaultAuditMaxBytes = 10 << 20

// Record is one audited call: one JSON line in the audit log, one "admin"
// line in the broker's log.
type Record struct {
	Time   time.Time `json:"time"`
	Who    string    `json:"who"`              // "uid 1000 (alice)" or "token"
	What   string    `json:"what"`             // "drain", "affinity set", ...
	Target string    `json:"target"`           // the server, login, session...
	Before any       `json:"before,omitempty"` // the state before
	After  any       `json:"after,omitempty"`  // the state after (absent on error)
	Error  string    `json:"error,omitempty"`  // why the call was refused
}

// Audit writes Records to the log and to a size-capped JSON lines file.
// Safe for concurrent use. A file that cannot be written is reported in
// the log (the call itself is not refused: the log line stays).
type Audit struct {
	log  *slog.Logger
	path string
	max  int64
	now  func() time.Time

	mu   sync.Mutex // protects following fields
	f    *os.File
	size int64
}

// NewAudit returns an audit trail to path (state_dir/audit.log; "" = the
// log only), rotated at maxBytes (0 = DefaultAuditMaxBytes).
func NewAudit(path string, maxBytes int64, log *slog.Logger) *Audit {
	if maxBytes <= 0 {
		maxBytes = DefaultAuditMaxBytes
	}
	if log == nil {
		log = slog.Default()
	}
	return &Audit{log: log, path: path, max: maxBytes, now: time.Now}
}

// Record writes r, stamped with the current time.
func (a *Audit) Record(r Record) {
	r.Time = a.now().UTC()
	line, err := json.Marshal(r)
	if err != nil { // a Before/After that does not marshal: keep the rest
		r.Before, r.After = fmt.Sprint(r.Before), fmt.Sprint(r.After)
		line, _ = json.Marshal(r)
	}
	attrs := []any{"who", r.Who, "what", r.What, "target", r.Target,
		"before", jsonText(r.Before), "after", jsonText(r.After)}
	if r.Error != "" {
		attrs = append(attrs, "error", r.Error)
	}
	a.log.Info("admin", attrs...)
	if a.path == "" {
		return
	}
	if err := a.write(append(line, '\n')); err != nil {
		a.log.Error("admin: audit log not written", "path", a.path, "err", err)
	}
}

func jsonText(v any) string {
	if v == nil {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// write appends line, rotating first when it would pass the cap.
func (a *Audit) write(line []byte) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.f == nil {
		if err := a.open(); err != nil {
			return err
		}
	}
	if a.size > 0 && a.size+int64(len(line)) > a.max {
		if err := a.rotate(); err != nil {
			return err
		}
	}
	n, err := a.f.Write(line)
	a.size += int64(n)
	if err != nil {
		return fmt.Errorf("admin: audit write: %w", err)
	}
	return nil
}

func (a *Audit) open() error {
	f, err := os.OpenFile(a.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("admin: audit open: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("admin: audit stat: %w", err)
	}
	a.f, a.size = f, st.Size()
	return nil
}

// rotate renames the file to path.1 and opens a new one.
func (a *Audit) rotate() error {
	a.f.Close()
	a.f = nil
	if err := os.Rename(a.path, a.path+".1"); err != nil {
		return fmt.Errorf("admin: audit rotate: %w", err)
	}
	return a.open()
}

// Close closes the file (a later Record reopens it).
func (a *Audit) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.f == nil {
		return nil
	}
	err := a.f.Close()
	a.f = nil
	return err
}
