package main

import (
	"context"
	"net/http"
	"path/filepath"

	"github.com/rdpbroker/rdpbroker/appliance"
	"github.com/rdpbroker/rdpbroker/appliance/admin"
	"github.com/rdpbroker/rdpbroker/appliance/adminbackend"
)

// adminParts are the service's side of `rdpbroker ctl`: the admin API over
// the broker, served on admin.socket (and on admin.http with TLS and a
// token), every mutating call audited to state_dir/audit.log.
type adminParts struct {
	backend *adminbackend.Backend
	api     *admin.API
	socket  *admin.Socket
}

// newAdmin builds the admin API of s.b. The backend puts the overrides
// kept in the affinity table in force now, before the broker serves.
func (s *service) newAdmin(cfg appliance.Config) error {
	be := adminbackend.New(s.b, adminbackend.Options{Logger: s.log, Version: Version(),
		Reload: s.reload, Upgrade: s.upgradeHook()})
	audit := admin.NewAudit(filepath.Join(cfg.StateDir, admin.AuditFile), 0, s.log)
	api := admin.NewAPI(be, admin.APIOptions{Logger: s.log, Audit: audit})
	sock, err := admin.NewSocket(cfg.Admin, api, admin.SocketOptions{Logger: s.log})
	if err != nil {
		return err
	}
	s.admin = adminParts{backend: be, api: api, socket: sock}
	return nil
}

// upgradeHook is the service's upgrade, when it has one (nil: ctl upgrade
// answers "not supported").
func (s *service) upgradeHook() func(context.Context) error {
	if u, ok := any(s).(interface{ upgrade(context.Context) error }); ok {
		return u.upgrade
	}
	return nil
}

// httpAPI is the API for admin.http: only when that endpoint checks a
// token (TLS with token_file); on loopback without one, any local user
// could drain servers, so there the socket is the only way in.
func (s *service) httpAPI(cfg admin.Config) http.Handler {
	if !cfg.TLS() || cfg.TokenFile == "" {
		return nil
	}
	return admin.AsToken(s.admin.api)
}
