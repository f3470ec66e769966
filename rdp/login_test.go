package rdp

import "testing"

func TestNormalizeLogin(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want Login
	}{
		{name: "plain", raw: "alice", want: Login{Raw: "alice", Name: "alice"}},
		{name: "upper case", raw: "ALICE", want: Login{Raw: "ALICE", Name: "alice"}},
		{name: "mixed case", raw: "AlIcE", want: Login{Raw: "AlIcE", Name: "alice"}},
		{name: "domain", raw: `CORP\Alice`, want: Login{Raw: `CORP\Alice`, Domain: "corp", Name: "alice"}},
		{name: "UPN", raw: "Alice@Corp.Example", want: Login{Raw: "Alice@Corp.Example", Realm: "corp.example", Name: "alice"}},
		{name: "domain and realm", raw: `CORP\alice@corp.example`, want: Login{Raw: `CORP\alice@corp.example`, Domain: "corp", Realm: "corp.example", Name: "alice"}},
		{name: "surrounding spaces", raw: "  alice  ", want: Login{Raw: "  alice  ", Name: "alice"}},
		{name: "tab and newline around", raw: "\talice\n", want: Login{Raw: "\talice\n", Name: "alice"}},
		{name: "empty", raw: "", want: Login{}},
		{name: "only spaces", raw: "   ", want: Login{}},
		{name: "domain only", raw: `CORP\`, want: Login{Raw: `CORP\`, Domain: "corp"}},
		{name: "realm only", raw: "@corp.example", want: Login{Raw: "@corp.example", Realm: "corp.example"}},
		{name: "empty realm", raw: "alice@", want: Login{Raw: "alice@", Name: "alice"}},
		{name: "last @ splits the realm", raw: "a@b@corp", want: Login{Raw: "a@b@corp", Realm: "corp", Name: "a@b"}},
		{name: "first backslash splits the domain", raw: `A\B\c`, want: Login{Raw: `A\B\c`, Domain: "a", Name: `b\c`}},
		{name: "non-ASCII", raw: "JÜRGEN", want: Login{Raw: "JÜRGEN", Name: "jürgen"}},
		{name: "mstsc truncated cookie", raw: `CORP\alic`, want: Login{Raw: `CORP\alic`, Domain: "corp", Name: "alic", MaybeTruncated: true}},
		{name: "9 characters without domain", raw: "alexander", want: Login{Raw: "alexander", Name: "alexander", MaybeTruncated: true}},
		{name: "8 characters", raw: `CORP\ali`, want: Login{Raw: `CORP\ali`, Domain: "corp", Name: "ali"}},
		{name: "10 characters", raw: `CORP\alice`, want: Login{Raw: `CORP\alice`, Domain: "corp", Name: "alice"}},
		{name: "9 runes in more bytes", raw: `CORP\jürg`, want: Login{Raw: `CORP\jürg`, Domain: "corp", Name: "jürg", MaybeTruncated: true}},
		{name: "Windows-1252", raw: "J\xfcrgen", want: Login{Raw: "J\xfcrgen", Name: "jürgen"}},
		{name: "Windows-1252 upper case", raw: "CORP\\J\xdcRGEN", want: Login{Raw: "CORP\\J\xdcRGEN", Domain: "corp", Name: "jürgen"}},
		{name: "Windows-1252 y diaeresis", raw: "j\xffrgen", want: Login{Raw: "j\xffrgen", Name: "jÿrgen"}},
		{name: "Windows-1252 truncated at 9 bytes", raw: "CORP\\j\xfcrg", want: Login{Raw: "CORP\\j\xfcrg", Domain: "corp", Name: "jürg", MaybeTruncated: true}},
		{name: "Windows-1252 no-break space is trimmed", raw: "alice\xa0", want: Login{Raw: "alice\xa0", Name: "alice"}},
		{name: "FreeRDP long login is not truncated", raw: "verylongusername", want: Login{Raw: "verylongusername", Name: "verylongusername"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := NormalizeLogin(tc.raw)
			if got != tc.want {
				t.Fatalf("NormalizeLogin(%q) = %+v, want %+v", tc.raw, got, tc.want)
			}
			if got.IsZero() != (tc.want.Name == "") {
				t.Errorf("IsZero = %v", got.IsZero())
			}
			if got.Key() != tc.want.Name {
				t.Errorf("Key = %q, want %q", got.Key(), tc.want.Name)
			}
		})
	}
}

func TestLoginMatches(t *testing.T) {
	tests := []struct {
		name   string
		cookie string
		login  string // a directory login, normalised by the test
		want   bool
	}{
		{"same", "alice", "alice", true},
		{"case", "ALICE", "alice", true},
		{"domain form", `CORP\alice`, "alice", true},
		{"UPN", "alice@corp.example", "alice", true},
		{"truncated matches the full login", `CORP\alic`, "alice", true},
		{"truncated matches another user too", `CORP\alic`, "alicia", true},
		{"truncated upper case", `CORP\ALIC`, "alice", true},
		{"truncated does not match a shorter login", `CORP\alic`, "ali", false},
		{"truncated does not match another prefix", `CORP\alic`, "bob", false},
		{"not truncated is exact", "alice", "alicex", false},
		{"10 characters is exact", `CORP\alice`, "alicex", false},
		{"different users", "bob", "alice", false},
		{"empty cookie", "", "alice", false},
		{"empty login", "alice", "", false},
		{"domain only cookie", `CORP\`, "alice", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := NormalizeLogin(tc.cookie)
			if got := l.Matches(NormalizeLogin(tc.login).Name); got != tc.want {
				t.Errorf("NormalizeLogin(%q).Matches(%q) = %v, want %v", tc.cookie, tc.login, got, tc.want)
			}
		})
	}
}
