package rdp

import (
	"strings"
	"unicode/utf8"
)

// MstscCookieLen is the length at which mstsc cuts "DOMAIN\user" in the
// mstshash cookie (MS-RDPBCGR 2.2.1.1, footnote): a cookie of exactly this
// many characters may be the prefix of a longer login.
const MstscCookieLen = 9

// Login is a user identifier taken from an mstshash cookie, normalised.
// The zero Login means "no login".
type Login struct {
	// Raw is the identifier exactly as the client sent it (bytes, not
	// necessarily UTF-8).
	Raw string
	// Domain is the lower-cased NetBIOS domain of a "DOMAIN\user" form.
	Domain string
	// Realm is the lower-cased suffix of a "user@realm" form.
	Realm string
	// Name is the lower-cased user part: "CORP\Alice", "alice@corp.example"
	// and "ALICE" all have Name "alice". It is the key static login lists and
	// the affinity table use when no directory resolves the login.
	Name string
	// MaybeTruncated is set when Raw, without surrounding spaces, has
	// exactly MstscCookieLen characters (or bytes: the cut may have been
	// made in a single-byte code page): Name may then be a prefix of the
	// real login.
	MaybeTruncated bool
}

// NormalizeLogin parses the forms users type: "user", "DOMAIN\user",
// "user@realm" (a UPN), in any case, with surrounding spaces. raw is
// decoded first (DecodeCookie: UTF-8 when valid, else Windows-1252), so
// Domain, Realm and Name are valid UTF-8 and distinct cookies stay distinct
// logins: "j\xfcrgen", "j\xe4rgen" and "j\xffrgen" are jürgen, järgen and
// jÿrgen. Two cookies give the same Name only when they spell the same
// name, up to case, surrounding white space, domain and realm.
func NormalizeLogin(raw string) Login {
	s := strings.TrimSpace(DecodeCookie(raw))
	if s == "" {
		return Login{}
	}
	l := Login{Raw: raw}
	// Counted on the trimmed form: "  alice  " is not a 9-character cookie.
	// In bytes too: mstsc may have cut an ANSI cookie.
	l.MaybeTruncated = utf8.RuneCountInString(s) == MstscCookieLen ||
		len(strings.TrimSpace(raw)) == MstscCookieLen
	if i := strings.IndexByte(s, '\\'); i >= 0 {
		l.Domain = strings.ToLower(s[:i])
		s = s[i+1:]
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		l.Realm = strings.ToLower(s[i+1:])
		s = s[:i]
	}
	l.Name = strings.ToLower(s)
	return l
}

// IsZero reports whether there is no login.
func (l Login) IsZero() bool { return l.Name == "" }

// Key is the identity used for affinity and logs: the normalised Name.
func (l Login) Key() string { return l.Name }

// Matches reports whether l designates the login name (already normalised,
// e.g. NormalizeLogin(entry).Name): equal names, or, when l may be a
// truncated mstsc cookie, name starting with l.Name.
func (l Login) Matches(name string) bool {
	if l.Name == "" || name == "" {
		return false
	}
	if l.Name == name {
		return true
	}
	return l.MaybeTruncated && strings.HasPrefix(name, l.Name)
}
