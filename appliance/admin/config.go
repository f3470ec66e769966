package admin

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// Config is the `admin:` section of the rdpbroker configuration. The
// mapstructure tags are the YAML keys.
type Config struct {
	// Socket is the admin API's Unix socket (the `rdpbroker ctl`
	// commands). Empty: no socket. Default /run/rdpbroker/admin.sock.
	Socket string `mapstructure:"socket"`
	// SocketMode is the socket's permission bits (YAML 0660 or "0660" is
	// octal). Default 0660: the broker's user and SocketGroup.
	SocketMode os.FileMode `mapstructure:"socket_mode"`
	// SocketGroup is the group (name or numeric id) given the socket.
	// Empty: the broker's own group. Default empty.
	SocketGroup string `mapstructure:"socket_group"`
	// HTTP is the address of the read-only HTTP endpoint: /metrics, the
	// status page, /-/healthy, /-/ready, the profiler when Pprof is set.
	// Empty turns it off. Default "127.0.0.1:9000" (HAProxy's stats port).
	// A non-loopback address needs TLSCertFile, TLSKeyFile and TokenFile.
	HTTP string `mapstructure:"http"`
	// TLSCertFile and TLSKeyFile (PEM) make the HTTP endpoint HTTPS; set
	// both or neither. Default empty.
	TLSCertFile string `mapstructure:"tls_cert_file"`
	TLSKeyFile  string `mapstructure:"tls_key_file"`
	// TokenFile holds the bearer token (one line, at least MinTokenLen
	// characters; trailing newlines are ignored) that HTTPS requests must
	// present, except /-/healthy and /-/ready. Required with TLS. It is
	// read when the server starts and never logged. Default empty.
	TokenFile string `mapstructure:"token_file"`
	// Pprof serves Go's profiler under /debug/pprof/ on the HTTP endpoint.
	// Default false.
	Pprof bool `mapstructure:"pprof"`
}

// DefaultConfig returns the defaults documented on each field.
func DefaultConfig() Config {
	return Config{
		Socket:     "/run/rdpbroker/admin.sock",
		SocketMode: 0o660,
		HTTP:       "127.0.0.1:9000",
	}
}

// TLS reports whether the HTTP endpoint serves HTTPS.
func (c Config) TLS() bool { return c.TLSCertFile != "" && c.TLSKeyFile != "" }

// Validate reports every problem, each starting with its key relative to
// the section ("http: ..."; the appliance adds the "admin." prefix).
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	if c.Socket != "" && !filepath.IsAbs(c.Socket) {
		bad("socket", "%q: must be an absolute path", c.Socket)
	}
	if c.SocketMode&^os.ModePerm != 0 {
		bad("socket_mode", "%#o: only permission bits (at most 0777)", uint32(c.SocketMode))
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		bad("tls_cert_file", "tls_cert_file and tls_key_file go together")
	}
	if c.TLS() && c.TokenFile == "" {
		bad("token_file", "required with tls_cert_file: HTTPS requests are authenticated by token")
	}
	if c.HTTP == "" {
		return errors.Join(errs...)
	}
	loopback, err := isLoopback(c.HTTP)
	switch {
	case err != nil:
		bad("http", "%q: %v", c.HTTP, err)
	case !loopback && (!c.TLS() || c.TokenFile == ""):
		bad("http", "%q is not a loopback address: set tls_cert_file, tls_key_file and token_file, "+
			"or listen on 127.0.0.1 and reach it over SSH", c.HTTP)
	}
	return errors.Join(errs...)
}

// isLoopback reports whether a "host:port" listens on loopback only: a
// loopback IP or "localhost". An empty host (all interfaces) is not.
func isLoopback(hostport string) (bool, error) {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false, err
	}
	if strings.EqualFold(host, "localhost") {
		return true, nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false, nil // a host name: it may resolve to anything
	}
	return ip.IsLoopback(), nil
}
