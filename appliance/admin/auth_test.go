package admin

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testToken = "s3cret-token-0123456789"

// tlsConfig writes a self-signed certificate for 127.0.0.1 and a token
// file, and returns an admin.Config on a non-loopback address using them
// and a client trusting the certificate.
func tlsConfig(t *testing.T) (Config, *http.Client) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rdpbroker admin test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.HTTP = "0.0.0.0:9000" // only validated: the tests serve on their own listener
	cfg.TLSCertFile, cfg.TLSKeyFile, cfg.TokenFile = filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem"), filepath.Join(dir, "token")
	for path, data := range map[string][]byte{
		cfg.TLSCertFile: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		cfg.TLSKeyFile:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
		cfg.TokenFile:   []byte(testToken + "\n"),
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return cfg, &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

func TestTLSToken(t *testing.T) {
	cfg, c := tlsConfig(t)
	s, err := New(cfg, fakes())
	if err != nil {
		t.Fatal(err)
	}
	base, _ := serve(t, s, "https")
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("operator:"+testToken))
	for _, tc := range []struct {
		path, auth string
		code       int
	}{
		{"/-/healthy", "", 200},
		{"/-/ready", "", 200},
		{"/metrics", "", 401},
		{"/metrics", "Bearer wrong-token-0123456789", 401},
		{"/metrics", "Bearer " + testToken[:len(testToken)-1], 401},
		{"/metrics", "Bearer " + testToken, 200},
		{"/metrics", "bearer " + testToken, 200},
		{"/", "", 401},
		{"/", basic, 200},
		{"/api/v1/servers", "", 401},
		{"/api/v1/servers", "Bearer " + testToken, 200},
	} {
		var hdr []string
		if tc.auth != "" {
			hdr = []string{"Authorization", tc.auth}
		}
		code, body := get(t, c, base+tc.path, hdr...)
		if code != tc.code {
			t.Errorf("GET %s (Authorization %q) = %d %q, want %d", tc.path, tc.auth, code, body, tc.code)
		}
	}
	// Plain HTTP to the HTTPS port is refused, not served.
	code, _ := get(t, &http.Client{Timeout: 10 * time.Second}, "http"+strings.TrimPrefix(base, "https")+"/metrics")
	if code != http.StatusBadRequest {
		t.Errorf("plain HTTP to the HTTPS endpoint = %d, want 400", code)
	}
}

func TestNewErrors(t *testing.T) {
	cfg, _ := tlsConfig(t)
	short := cfg
	short.TokenFile = filepath.Join(t.TempDir(), "short")
	if err := os.WriteFile(short.TokenFile, []byte("abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missingCert := cfg
	missingCert.TLSCertFile = filepath.Join(t.TempDir(), "none.pem")
	invalid := cfg
	invalid.TokenFile = ""
	for name, tc := range map[string]struct {
		cfg  Config
		want string
	}{
		"short token":  {short, "admin: token: " + short.TokenFile + ": 3 characters, want at least 16"},
		"missing cert": {missingCert, "admin: tls certificate: open " + missingCert.TLSCertFile},
		"invalid":      {invalid, "admin: token_file: required with tls_cert_file"},
	} {
		_, err := New(tc.cfg, fakes())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New = %v, want %q", name, err, tc.want)
		}
	}
}

func TestReadToken(t *testing.T) {
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte("  "+testToken+"  \r\nsecond line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := ReadToken(p)
	if err != nil || string(got) != testToken {
		t.Fatalf("ReadToken = %q, %v; want %q", got, err, testToken)
	}
}
