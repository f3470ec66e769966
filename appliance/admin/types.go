package admin

import (
	"context"
	"errors"
	"time"
)

// The JSON documents of the API (/api/v1/...), shared by the server (API)
// and `rdpbroker ctl` (Client).

// Status is GET /api/v1/status.
type Status struct {
	Version        string            `json:"version"`
	PID            int               `json:"pid"`
	Started        time.Time         `json:"started"`
	Ready          bool              `json:"ready"`
	NotReady       string            `json:"not_ready,omitempty"`
	ConfigFile     string            `json:"config_file"`
	ConfigLoadedAt time.Time         `json:"config_loaded_at"`
	ConfigLastOK   bool              `json:"config_last_ok"`
	ConfigError    string            `json:"config_error,omitempty"`
	Sessions       int64             `json:"sessions"`
	Pending        int64             `json:"pending"`
	Accepted       uint64            `json:"accepted"`
	Rejects        map[string]uint64 `json:"rejects"`
	Affinity       *AffinityStatus   `json:"affinity,omitempty"`
	Peers          []Peer            `json:"peers"`
	Directory      *Directory        `json:"directory,omitempty"`
}

// AffinityStatus is the affinity table's part of Status.
type AffinityStatus struct {
	Entries       int    `json:"entries"`
	PendingWrites int    `json:"pending_writes"`
	LastFlushErr  string `json:"last_flush_error,omitempty"`
}

// Peer is one affinity peer and its last contact.
type Peer struct {
	Name        string    `json:"name"`
	Addr        string    `json:"addr"`
	Connected   bool      `json:"connected"`
	LastContact time.Time `json:"last_contact"`
	LastError   string    `json:"last_error,omitempty"`
}

// Directory is the directory sync's part of Status and the result of
// POST /api/v1/sync.
type Directory struct {
	Source      string    `json:"source"` // none | snapshot | ldap
	Server      string    `json:"server,omitempty"`
	LastAttempt time.Time `json:"last_attempt"`
	LastSuccess time.Time `json:"last_success"`
	LastError   string    `json:"last_error,omitempty"`
	Stale       bool      `json:"stale"`
	Users       int       `json:"users"`
	Took        string    `json:"took,omitempty"`
}

// ServerInfo is one terminal server of GET /api/v1/servers.
type ServerInfo struct {
	Name    string `json:"name"`
	Pool    string `json:"pool"`
	Address string `json:"address"`
	// State is the admin state in force: enabled, draining or maint.
	State string `json:"state"`
	// Override is who set State and Weight, when; nil: the configuration's.
	Override *Override `json:"override,omitempty"`
	// Health is up or down (always up without an active check).
	Health         string    `json:"health"`
	Check          string    `json:"check"`
	LastCheck      time.Time `json:"last_check"`
	LastCheckError string    `json:"last_check_error,omitempty"`
	Sessions       int       `json:"sessions"`
	MaxSessions    int       `json:"max_sessions"`
	// Weight is the weight in force; ConfiguredWeight the configuration's.
	Weight           int `json:"weight"`
	ConfiguredWeight int `json:"configured_weight"`
	// Affinity is the number of affinity entries naming the server.
	Affinity int `json:"affinity"`
}

// Override is an admin override of a server: cluster-wide, kept across
// restarts.
type Override struct {
	State        string    `json:"state"`            // enabled | draining | maint
	Weight       int       `json:"weight,omitempty"` // 0: the configured weight
	UntilRestart bool      `json:"until_restart,omitempty"`
	By           string    `json:"by"`
	At           time.Time `json:"at"`
}

// Admin states as the API shows them.
const (
	StateEnabled  = "enabled"
	StateDraining = "draining"
	StateMaint    = "maint"
)

// ServerChange is the body of POST /api/v1/servers/{name}/{action}.
type ServerChange struct {
	// Action is drain, maint, enable or weight (from the path).
	Action string `json:"-"`
	// UntilRestart (drain): back to enabled once the server has been seen
	// down and up again.
	UntilRestart bool `json:"until_restart,omitempty"`
	// Weight (weight): 1..256; 0 returns to the configured weight.
	Weight int `json:"weight,omitempty"`
}

// Change is the answer to a mutating call: the state before and after.
type Change struct {
	Before any `json:"before"`
	After  any `json:"after"`
}

// Session is one relayed session of GET /api/v1/sessions.
type Session struct {
	ID         uint64    `json:"id"`
	Client     string    `json:"client"`
	Login      string    `json:"login"`
	Pool       string    `json:"pool"`
	Server     string    `json:"server"`
	ServerAddr string    `json:"server_addr"`
	Since      time.Time `json:"since"`
	BytesIn    int64     `json:"bytes_in"`
	BytesOut   int64     `json:"bytes_out"`
	// CorrelationID is the client's RDP correlation ID (hex, "" without);
	// UDP says whether a UDP flow is attached to the session.
	CorrelationID string `json:"correlation_id,omitempty"`
	UDP           bool   `json:"udp"`
}

// AffinityEntry is one login -> server entry.
type AffinityEntry struct {
	Login   string    `json:"login"`
	Server  string    `json:"server"`
	Expires time.Time `json:"expires"`
	Written time.Time `json:"written"`
	Node    string    `json:"node"` // the broker that wrote it
}

// ExplainRequest is GET /api/v1/route/explain's query.
type ExplainRequest struct {
	Login string // as a client sends it in its cookie
	From  string // the client's IP address ("" = none)
	Token string // a routing token line ("" = none)
}

// Reload is the answer to POST /api/v1/reload.
type Reload struct {
	Accepted bool     `json:"accepted"`
	Errors   []string `json:"errors,omitempty"`
}

// Errors a Backend wraps to choose the HTTP status of a refusal.
var (
	ErrNotFound     = errors.New("not found")     // 404
	ErrInvalid      = errors.New("invalid")       // 400
	ErrRefused      = errors.New("refused")       // 409
	ErrNotSupported = errors.New("not supported") // 501
)

// Backend is what the API needs from the broker (appliance/adminbackend
// implements it over *appliance.Broker). Methods are called concurrently.
// who identifies the caller for the records the backend keeps (override
// By fields).
type Backend interface {
	StatusBackend
	ServerBackend
	SessionBackend
	AffinityBackend
	OpsBackend
}

// StatusBackend reports the broker's state.
type StatusBackend interface {
	Status() Status
}

// ServerBackend lists servers and changes their admin overrides.
type ServerBackend interface {
	// Servers lists the servers of pool ("" = all); ErrNotFound for an
	// unknown pool.
	Servers(pool string) ([]ServerInfo, error)
	// ChangeServer applies c to the named server, cluster-wide.
	ChangeServer(name string, c ServerChange, who string) (before, after ServerInfo, err error)
}

// SessionBackend lists and closes relayed sessions.
type SessionBackend interface {
	Sessions() []Session
	Kill(id uint64) (Session, bool)
	KillLogin(login string) []Session
}

// AffinityBackend reads and edits the affinity table (ErrNotSupported
// without one). Changes are replicated like any placement.
type AffinityBackend interface {
	AffinityGet(login string) (AffinityEntry, bool, error)
	AffinityList(server string, limit int) ([]AffinityEntry, error)
	AffinitySet(login, server string) (before, after *AffinityEntry, err error)
	AffinityDelete(login string) (before *AffinityEntry, err error)
	AffinityMoveServer(from, to string) (int, error)
	AffinityClearServer(server string) (int, error)
}

// OpsBackend runs the operations: route explain, directory sync, reload,
// upgrade.
type OpsBackend interface {
	// Explain is the routing decision for req, as a JSON document with at
	// least rule, pool, server, candidates and steps; no connection made.
	Explain(req ExplainRequest) (any, error)
	// SyncNow syncs the directory now and waits (ErrNotSupported without
	// a directory).
	SyncNow(ctx context.Context) (Directory, error)
	// Reload re-reads the configuration file, as SIGHUP does.
	Reload() error
	// Upgrade hands the broker over to a new binary (ErrNotSupported when
	// the service offers none).
	Upgrade(ctx context.Context) error
}
