package admin

import (
	"os"
	"strings"
	"testing"

	"github.com/spf13/viper"
)

func TestConfigValidate(t *testing.T) {
	tls := func(c Config) Config {
		c.TLSCertFile, c.TLSKeyFile, c.TokenFile = "/etc/rdpbroker/admin.crt", "/etc/rdpbroker/admin.key", "/etc/rdpbroker/admin.token"
		return c
	}
	with := func(f func(*Config)) Config {
		c := DefaultConfig()
		f(&c)
		return c
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string // substrings of the error, in order; none = valid
	}{
		{name: "defaults", cfg: DefaultConfig()},
		{name: "http off", cfg: with(func(c *Config) { c.HTTP = "" })},
		{name: "socket off", cfg: with(func(c *Config) { c.Socket = "" })},
		{name: "localhost", cfg: with(func(c *Config) { c.HTTP = "localhost:9000" })},
		{name: "ipv6 loopback", cfg: with(func(c *Config) { c.HTTP = "[::1]:9000" })},
		{name: "public with tls and token", cfg: tls(with(func(c *Config) { c.HTTP = "0.0.0.0:9000" }))},
		{name: "loopback with tls", cfg: tls(DefaultConfig())},
		{name: "all interfaces without tls", cfg: with(func(c *Config) { c.HTTP = ":9000" }),
			want: []string{`http: ":9000" is not a loopback address: set tls_cert_file, tls_key_file and token_file`}},
		{name: "public ip without tls", cfg: with(func(c *Config) { c.HTTP = "10.0.0.11:9000" }),
			want: []string{`http: "10.0.0.11:9000" is not a loopback address`}},
		{name: "host name without tls", cfg: with(func(c *Config) { c.HTTP = "broker1.corp:9000" }),
			want: []string{`http: "broker1.corp:9000" is not a loopback address`}},
		{name: "public with tls, no token", cfg: with(func(c *Config) {
			*c = tls(*c)
			c.HTTP, c.TokenFile = "10.0.0.11:9000", ""
		}), want: []string{"token_file: required with tls_cert_file", `http: "10.0.0.11:9000" is not a loopback address`}},
		{name: "cert without key", cfg: with(func(c *Config) { c.TLSCertFile = "/x.crt" }),
			want: []string{"tls_cert_file: tls_cert_file and tls_key_file go together"}},
		{name: "no port", cfg: with(func(c *Config) { c.HTTP = "127.0.0.1" }),
			want: []string{`http: "127.0.0.1": address 127.0.0.1: missing port in address`}},
		{name: "relative socket", cfg: with(func(c *Config) { c.Socket = "admin.sock" }),
			want: []string{`socket: "admin.sock": must be an absolute path`}},
		{name: "sticky socket mode", cfg: with(func(c *Config) { c.SocketMode = os.ModeSticky | 0o660 }),
			want: []string{"socket_mode:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: nil, want %q", tc.want)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("Validate: %d problems, want %d:\n%v", len(lines), len(tc.want), err)
			}
			for i, w := range tc.want {
				if !strings.Contains(lines[i], w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, lines[i], w)
				}
			}
		})
	}
}

// TestConfigDecode decodes the section the way the appliance does
// (viper, YAML): keys are the mapstructure tags, socket_mode is octal.
func TestConfigDecode(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		mode os.FileMode
	}{
		{"socket_mode: 0640", 0o640},
		{`socket_mode: "0600"`, 0o600},
		{"socket_mode: 0o660", 0o660},
	} {
		v := viper.New()
		v.SetConfigType("yaml")
		doc := "socket: /run/x.sock\nsocket_group: rdpadmins\nhttp: 127.0.0.1:9100\npprof: true\n" +
			"tls_cert_file: /c\ntls_key_file: /k\ntoken_file: /t\n" + tc.yaml + "\n"
		if err := v.ReadConfig(strings.NewReader(doc)); err != nil {
			t.Fatal(err)
		}
		cfg := DefaultConfig()
		if err := v.UnmarshalExact(&cfg); err != nil {
			t.Fatalf("%s: %v", tc.yaml, err)
		}
		want := Config{Socket: "/run/x.sock", SocketMode: tc.mode, SocketGroup: "rdpadmins", HTTP: "127.0.0.1:9100",
			TLSCertFile: "/c", TLSKeyFile: "/k", TokenFile: "/t", Pprof: true}
		if cfg != want {
			t.Errorf("%s: decoded %+v, want %+v", tc.yaml, cfg, want)
		}
	}
}
