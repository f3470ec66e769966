package migrate

import (
	"os"
	"testing"
)

// FuzzParse: any bytes as haproxy.cfg parse to a model or an error, and a
// parsed model translates (group files read from nowhere) without panic.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"testdata/seed-basic.cfg", "testdata/seed-groups.cfg"} {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("frontend f\n bind :3389\n use_backend b if { rdp_cookie(mstshash) -m str -i -f x }\nbackend b\n server s 10.0.0.1:3389 weight 0 id 7\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.cfg", data)
		if err != nil {
			return
		}
		missing := func(string) ([]byte, error) { return nil, os.ErrNotExist }
		Translate(cfg, Options{ReadFile: missing, Exists: func(string) bool { return false }})
	})
}

// FuzzParseShowTable: any text as a `show table` dump parses or errors,
// and every entry has a key.
func FuzzParseShowTable(f *testing.F) {
	f.Add([]byte("# table: rdp, type: string, size:204800, used:2\n0x55d2c1e0a1b0: key=alice use=0 exp=28799512 server_id=1\n0x55d2c1e0a2c0: key=bob use=0 exp=1000 server_key=ts02\n"))
	f.Add([]byte("0x1: key=a\\x20b use=0 exp=0 server_name=ts01\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := ParseShowTable(data)
		if err != nil {
			return
		}
		for _, e := range entries {
			if e.Key == "" {
				t.Fatalf("entry without a key: %+v", e)
			}
		}
	})
}
