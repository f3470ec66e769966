package directory

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// Error kinds counted in Status.Errors.
const (
	KindConfig  = "config"  // password file unreadable, CA file bad
	KindConnect = "connect" // TCP connect to a DC failed
	KindTLS     = "tls"     // TLS or StartTLS failed (certificate, handshake)
	KindBind    = "bind"    // the bind was refused (bad password, locked account)
	KindSearch  = "search"  // a search failed (no such object, referral, ...)
	KindTimeout = "timeout" // a request or the whole sync timed out
	KindShrink  = "shrink"  // a group shrank beyond shrink_guard: old membership kept
	KindPersist = "persist" // the snapshot could not be written
)

// syncError is an error with its kind.
type syncError struct {
	kind string
	err  error
}

func (e *syncError) Error() string { return e.err.Error() }
func (e *syncError) Unwrap() error { return e.err }

func kindErr(kind string, err error) error { return &syncError{kind: kind, err: err} }

// errorKind classifies err for the counters.
func errorKind(err error) string {
	var se *syncError
	if errors.As(err, &se) {
		return se.kind
	}
	if errors.Is(err, context.DeadlineExceeded) || ldap.IsErrorWithCode(err, ldap.ErrorNetwork) && isTimeoutErr(err) ||
		ldap.IsErrorWithCode(err, ldap.LDAPResultTimeout) || ldap.IsErrorWithCode(err, ldap.LDAPResultTimeLimitExceeded) {
		return KindTimeout
	}
	return KindSearch
}

func isTimeoutErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// readPassword reads the bind password file. Trailing CR/LF are dropped;
// an empty password is refused (AD treats it as an anonymous bind).
func readPassword(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", kindErr(KindConfig, fmt.Errorf("directory: bind_password_file: %w", err))
	}
	pw := strings.TrimRight(string(b), "\r\n")
	if pw == "" {
		return "", kindErr(KindConfig, fmt.Errorf("directory: bind_password_file %s: empty password", path))
	}
	return pw, nil
}

// tlsConfig builds the TLS configuration (CA file, TLS >= 1.2).
func tlsConfig(cfg Config) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: cfg.ServerName}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, kindErr(KindConfig, fmt.Errorf("directory: ca_file: %w", err))
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, kindErr(KindConfig, fmt.Errorf("directory: ca_file %s: no PEM certificate", cfg.CAFile))
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// connect dials the configured DCs in order and binds on the first that
// answers. A refused bind (bad credentials) stops there: trying the other
// DCs would only count more failures towards the account's lockout.
func connect(ctx context.Context, cfg Config, log *slog.Logger) (*ldap.Conn, string, error) {
	pw, err := readPassword(cfg.BindPasswordFile)
	if err != nil {
		return nil, "", err
	}
	base, err := tlsConfig(cfg)
	if err != nil {
		return nil, "", err
	}
	var errs []error
	for _, raw := range cfg.URLs {
		if err := ctx.Err(); err != nil {
			return nil, "", kindErr(KindTimeout, err)
		}
		c, err := dialOne(ctx, cfg, raw, base)
		if err != nil {
			log.Warn("directory: domain controller unreachable", "url", raw, "err", err)
			errs = append(errs, err)
			continue
		}
		if err := c.Bind(cfg.BindDN, pw); err != nil {
			c.Close()
			if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) ||
				ldap.IsErrorWithCode(err, ldap.LDAPResultStrongAuthRequired) {
				return nil, "", kindErr(KindBind, fmt.Errorf("directory: bind as %q on %s: %w", cfg.BindDN, raw, err))
			}
			log.Warn("directory: bind failed", "url", raw, "bind_dn", cfg.BindDN, "err", err)
			errs = append(errs, kindErr(KindBind, fmt.Errorf("bind on %s: %w", raw, err)))
			continue
		}
		return c, raw, nil
	}
	err = errors.Join(errs...)
	var se *syncError
	kind := KindConnect
	if errors.As(err, &se) {
		kind = se.kind
	}
	return nil, "", kindErr(kind, fmt.Errorf("directory: no domain controller answered (%d tried): %w", len(cfg.URLs), err))
}

// dialOne connects to one DC: TLS for ldaps://, StartTLS for ldap://
// unless allow_plain.
func dialOne(ctx context.Context, cfg Config, raw string, base *tls.Config) (*ldap.Conn, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, kindErr(KindConfig, err)
	}
	tc := base.Clone()
	if tc.ServerName == "" {
		tc.ServerName = u.Hostname()
	}
	d := &net.Dialer{Timeout: cfg.DialTimeout}
	if dl, ok := ctx.Deadline(); ok {
		d.Deadline = dl
	}
	c, err := ldap.DialURL(raw, ldap.DialWithDialer(d), ldap.DialWithTLSConfig(tc))
	if err != nil {
		kind := KindConnect
		var ce *tls.CertificateVerificationError
		var ue x509.UnknownAuthorityError
		var he x509.HostnameError
		if errors.As(err, &ce) || errors.As(err, &ue) || errors.As(err, &he) ||
			strings.Contains(err.Error(), "tls:") {
			kind = KindTLS
		}
		return nil, kindErr(kind, fmt.Errorf("dial %s: %w", raw, err))
	}
	c.SetTimeout(cfg.RequestTimeout)
	if u.Scheme == "ldap" && !cfg.AllowPlain {
		if err := c.StartTLS(tc); err != nil {
			c.Close()
			return nil, kindErr(KindTLS, fmt.Errorf("starttls %s: %w", raw, err))
		}
	}
	return c, nil
}
