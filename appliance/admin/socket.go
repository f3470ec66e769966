package admin

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Socket serves the API on admin.socket, the Unix socket `rdpbroker ctl`
// talks to. The file gets admin.socket_mode and admin.socket_group; on top
// of that, each connecting process is checked by its credentials
// (SO_PEERCRED): root, the broker's own user, or a member of the socket's
// group (by its effective or supplementary groups); anybody else gets 403.
//
//	s, err := admin.NewSocket(cfg, api, admin.SocketOptions{Logger: log})
//	go s.ListenAndServe(ctx) // until ctx is done; the file is removed
type Socket struct {
	cfg Config
	h   http.Handler
	log *slog.Logger
	gid int // the socket's group
}

// SocketOptions are the socket's dependencies.
type SocketOptions struct {
	// Logger receives refusals and errors. Default slog.Default().
	Logger *slog.Logger
}

// NewSocket resolves admin.socket_group and returns the socket server of
// h (it does not listen yet).
func NewSocket(cfg Config, h http.Handler, opts SocketOptions) (*Socket, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	gid, err := lookupGroup(cfg.SocketGroup)
	if err != nil {
		return nil, err
	}
	return &Socket{cfg: cfg, h: h, log: opts.Logger, gid: gid}, nil
}

// lookupGroup returns the gid of a group name or number; "" is the
// process's effective group.
func lookupGroup(name string) (int, error) {
	if name == "" {
		return os.Getegid(), nil
	}
	if n, err := strconv.Atoi(name); err == nil && n >= 0 {
		return n, nil
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		return 0, fmt.Errorf("admin: socket_group %q: %w", name, err)
	}
	return strconv.Atoi(g.Gid)
}

// Listen creates the socket file: its directory if missing (0755), a stale
// socket of a previous run replaced (never another kind of file), then
// mode and group set before the first connection can be served.
func (s *Socket) Listen() (net.Listener, error) {
	path := s.cfg.Socket
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("admin: socket %s: %w", path, err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("admin: socket %s: exists and is not a socket", path)
		}
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return nil, fmt.Errorf("admin: socket %s: another process serves it", path)
		}
		os.Remove(path)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("admin: listen %s: %w", path, err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(true)
	if err := os.Chown(path, -1, s.gid); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin: socket %s: group %d: %w", path, s.gid, err)
	}
	if err := os.Chmod(path, s.cfg.SocketMode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin: socket %s: mode: %w", path, err)
	}
	return ln, nil
}

// ListenAndServe listens (Listen) and serves until ctx is done, then
// closes gracefully and removes the file. With admin.socket empty it
// returns nil at once.
func (s *Socket) ListenAndServe(ctx context.Context) error {
	if s.cfg.Socket == "" {
		return nil
	}
	ln, err := s.Listen()
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// Serve serves the API on ln until ctx is done.
func (s *Socket) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           http.HandlerFunc(s.authorize),
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, peerKey{}, peerOf(c))
		},
	}
	ln = newLimitListener(ln, MaxConns)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("admin socket listening", "path", s.cfg.Socket, "mode", fmt.Sprintf("%#o", uint32(s.cfg.SocketMode)), "gid", s.gid)
	select {
	case err := <-errc:
		return fmt.Errorf("admin: serve %s: %w", s.cfg.Socket, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	<-errc
	return nil
}

// peer is a connected process's credentials (SO_PEERCRED).
type peer struct {
	ok            bool
	pid, uid, gid int
}

type peerKey struct{}

// peerOf reads the credentials of the process at the other end of c.
func peerOf(c net.Conn) peer {
	if lc, ok := c.(*limitConn); ok {
		c = lc.Conn
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return peer{}
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return peer{}
	}
	var cred *syscall.Ucred
	var cerr error
	if err := rc.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil || cerr != nil {
		return peer{}
	}
	return peer{ok: true, pid: int(cred.Pid), uid: int(cred.Uid), gid: int(cred.Gid)}
}

// authorize lets root, the broker's user and members of the socket's group
// through to the API, named for the audit; others get 403.
func (s *Socket) authorize(w http.ResponseWriter, r *http.Request) {
	p, _ := r.Context().Value(peerKey{}).(peer)
	if err := s.allowed(p); err != nil {
		s.log.Warn("admin socket: refused", "uid", p.uid, "pid", p.pid, "reason", err)
		writeError(w, http.StatusForbidden, err)
		return
	}
	s.h.ServeHTTP(w, r.WithContext(WithWho(r.Context(), describeUID(p.uid))))
}

func (s *Socket) allowed(p peer) error {
	switch {
	case !p.ok:
		return errors.New("admin socket: peer credentials unavailable")
	case p.uid == 0, p.uid == os.Geteuid(), p.gid == s.gid:
		return nil
	}
	groups, err := procGroups(p.pid)
	if err != nil {
		return fmt.Errorf("admin socket: uid %d: groups unknown: %w", p.uid, err)
	}
	for _, g := range groups {
		if g == s.gid {
			return nil
		}
	}
	return fmt.Errorf("admin socket: uid %d is neither root, the broker's user (uid %d) nor a member of group %d",
		p.uid, os.Geteuid(), s.gid)
}

// procGroups returns the effective gid and supplementary groups of pid,
// from /proc/<pid>/status.
func procGroups(pid int) ([]int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return nil, err
	}
	var out []int
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		f := strings.Fields(v)
		switch {
		case k == "Gid" && len(f) >= 2:
			f = f[1:2] // real, effective, saved, fs: the effective one
		case k == "Groups":
		default:
			continue
		}
		for _, x := range f {
			if n, err := strconv.Atoi(x); err == nil {
				out = append(out, n)
			}
		}
	}
	return out, nil
}

// describeUID is the audit's name of a uid: "uid 1000 (alice)".
func describeUID(uid int) string {
	s := "uid " + strconv.Itoa(uid)
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		s += " (" + u.Username + ")"
	}
	return s
}
