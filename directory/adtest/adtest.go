// Package adtest runs a real Active Directory domain controller (Samba AD
// DC) on a loopback address for tests, with scripts/samba-ad-fixture.sh:
// provisioned in a temporary directory, listening on one 127.x.y.z only,
// populated with a small directory (nested groups Engineering <- Platform
// <- SRE, Sales, Support, a disabled user, an explicit UPN that differs
// from the sAMAccountName) and BigGroup with more than 1,500 members.
// It needs root and the Debian packages that scripts/install-test-deps.sh
// installs.
package adtest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// The fixture's fixed facts (the script's defaults).
const (
	Realm     = "CORP.EXAMPLE.TEST"
	DNSDomain = "corp.example.test"
	NetBIOS   = "CORP"
	BaseDN    = "DC=corp,DC=example,DC=test"
	UsersDN   = "CN=Users," + BaseDN
	AdminDN   = `CORP\Administrator`
	AdminPass = "Adm1n!Passw0rd"
	BigN      = 1600 // BigGroup has BigN bulk users + judy
)

// Fixture is one running (or stopped) Samba AD DC.
type Fixture struct {
	Dir string // FIXTURE_DIR: database, certificates, logs
	IP  string // the loopback address it listens on
	CA  string // PEM file of the CA that signed the DC certificate

	script string
	env    []string
}

// Available reports whether the fixture can run here (root and samba).
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("adtest: needs root")
	}
	if _, err := exec.LookPath("samba"); err != nil {
		return errors.New("adtest: samba not installed (scripts/install-test-deps.sh)")
	}
	if _, err := exec.LookPath("ldapadd"); err != nil {
		return errors.New("adtest: ldap-utils not installed (scripts/install-test-deps.sh)")
	}
	return nil
}

// Start provisions, starts and populates a DC in dir (which it creates),
// on a free 127.x.y.z address. It takes about 20-30 s. Stop it with Stop.
func Start(ctx context.Context, dir string) (*Fixture, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	script, err := findScript()
	if err != nil {
		return nil, err
	}
	ip, err := freeLoopbackIP()
	if err != nil {
		return nil, err
	}
	f := &Fixture{Dir: dir, IP: ip, CA: filepath.Join(dir, "tls", "ca.pem"), script: script,
		env: append(os.Environ(), "FIXTURE_DIR="+dir, "LDAP_IP="+ip, "BIG_N="+strconv.Itoa(BigN))}
	for _, step := range []string{"provision", "start", "populate"} {
		if err := f.run(ctx, step); err != nil {
			f.Stop()
			return nil, err
		}
	}
	return f, nil
}

// run runs one step of the fixture script, bounded by ctx.
func (f *Fixture) run(ctx context.Context, step string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", f.script, step)
	cmd.Env = f.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("adtest: %s %s: %w\n%s", filepath.Base(f.script), step, err, out)
	}
	return nil
}

// StartAgain restarts a stopped fixture (its data kept).
func (f *Fixture) StartAgain(ctx context.Context) error { return f.run(ctx, "start") }

// Stop stops the DC (SIGTERM, then SIGKILL of its process group). It is
// safe to call more than once.
func (f *Fixture) Stop() error {
	if f == nil {
		return nil
	}
	return f.run(context.Background(), "stop")
}

// LDAPS is the ldaps:// URL; LDAP the ldap:// one (StartTLS).
func (f *Fixture) LDAPS() string { return "ldaps://" + f.IP + ":636" }
func (f *Fixture) LDAP() string  { return "ldap://" + f.IP + ":389" }

// Admin binds as the domain administrator over LDAPS (for test set-up:
// adding members, users).
func (f *Fixture) Admin() (*ldap.Conn, error) {
	pem, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c, err := ldap.DialURL(f.LDAPS(), ldap.DialWithTLSConfig(&tls.Config{RootCAs: pool, ServerName: f.IP}),
		ldap.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}))
	if err != nil {
		return nil, err
	}
	c.SetTimeout(30 * time.Second)
	if err := c.Bind(AdminDN, AdminPass); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// AddMember adds memberDN to groupDN; RemoveMember removes it.
func (f *Fixture) AddMember(groupDN, memberDN string) error {
	return f.modifyMember(groupDN, memberDN, true)
}

func (f *Fixture) RemoveMember(groupDN, memberDN string) error {
	return f.modifyMember(groupDN, memberDN, false)
}

func (f *Fixture) modifyMember(groupDN, memberDN string, add bool) error {
	c, err := f.Admin()
	if err != nil {
		return err
	}
	defer c.Close()
	m := ldap.NewModifyRequest(groupDN, nil)
	if add {
		m.Add("member", []string{memberDN})
	} else {
		m.Delete("member", []string{memberDN})
	}
	return c.Modify(m)
}

// findScript locates scripts/samba-ad-fixture.sh above the working
// directory (tests run in their package directory).
func findScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "scripts", "samba-ad-fixture.sh")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("adtest: scripts/samba-ad-fixture.sh not found above the working directory")
		}
		dir = parent
	}
}

// freeLoopbackIP picks a random 127.x.y.z (x in 100-199) on which the DC's
// ports (LDAP 389, LDAPS 636, Kerberos 88, GC 3268/3269) are free, so
// concurrent test packages and a host DC never collide.
func freeLoopbackIP() (string, error) {
	for range 50 {
		ip := fmt.Sprintf("127.%d.%d.%d", 100+rand.N(100), rand.N(256), 2+rand.N(250))
		free := true
		for _, port := range []string{"389", "636", "88", "3268", "3269"} {
			l, err := net.Listen("tcp", net.JoinHostPort(ip, port))
			if err != nil {
				free = false
				break
			}
			l.Close()
		}
		if free {
			return ip, nil
		}
	}
	return "", errors.New("adtest: no free loopback address found")
}

// Up reports whether the DC answers an LDAP connect.
func (f *Fixture) Up() bool {
	c, err := net.DialTimeout("tcp", f.IP+":389", time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// DN of a user of the small directory by its CN ("Alice Smith", "carol").
func UserDN(cn string) string { return "CN=" + cn + "," + UsersDN }

// GroupDN of a group of the fixture ("Engineering").
func GroupDN(name string) string { return "CN=" + name + "," + UsersDN }
