package routing

import (
	"slices"
	"strings"

	"github.com/rdpbroker/rdpbroker/rdp"
)

// Directory resolves logins to users and their groups. The LDAP directory
// implements it; StaticDirectory is the static stand-in. Resolve is called
// for every connection: it must not block (serve from memory).
type Directory interface {
	// Resolve returns the identities login may designate: one for an exact
	// match, several when login is a truncated mstsc prefix matching
	// several users, none when the login is unknown.
	Resolve(login rdp.Login) []Identity
}

// DirectorySource is implemented by a Directory that can say where its
// data come from, for route explanations ("static", "ldap sync of
// 2025-01-15T10:00:00Z", ...). Optional: Explain reports "directory" for a
// Directory without it.
type DirectorySource interface {
	// Source says where the directory's users and groups come from.
	Source() string
}

// Source values of Explanation.DirectorySource beside a DirectorySource's.
const (
	// SourceStatic: the configuration's static_groups (StaticDirectory).
	SourceStatic = "static"
	// SourceDirectory: a Directory that does not implement DirectorySource.
	SourceDirectory = "directory"
)

// sourceOf says where d's data come from.
func sourceOf(d Directory) string {
	if s, ok := d.(DirectorySource); ok {
		return s.Source()
	}
	return SourceDirectory
}

// Identity is one user a login designates.
type Identity struct {
	// Key is the canonical login (lower-case sAMAccountName).
	Key string
	// Groups are the user's groups (compared case-insensitively).
	Groups []string
}

// StaticDirectory is a Directory from a fixed group -> members map, plus
// logins known without groups. It is immutable and safe for concurrent use.
type StaticDirectory struct {
	ids []Identity // sorted by Key, Keys unique
}

var (
	_ Directory       = (*StaticDirectory)(nil)
	_ DirectorySource = (*StaticDirectory)(nil)
)

// Source implements DirectorySource: SourceStatic.
func (d *StaticDirectory) Source() string { return SourceStatic }

// NewStaticDirectory builds a directory from groups (group name -> member
// logins in any form) and extra known logins (e.g. those rules list, so
// that a truncated cookie's candidates include them). Members are
// normalised with rdp.NormalizeLogin; group names are lower-cased; empty
// entries are skipped.
func NewStaticDirectory(groups map[string][]string, logins []string) *StaticDirectory {
	byKey := make(map[string][]string)
	for g, members := range groups {
		g = strings.ToLower(g)
		for _, m := range members {
			k := rdp.NormalizeLogin(m).Name
			if k == "" {
				continue
			}
			if !slices.Contains(byKey[k], g) {
				byKey[k] = append(byKey[k], g)
			}
		}
	}
	for _, m := range logins {
		if k := rdp.NormalizeLogin(m).Name; k != "" {
			if _, ok := byKey[k]; !ok {
				byKey[k] = nil
			}
		}
	}
	d := &StaticDirectory{ids: make([]Identity, 0, len(byKey))}
	for k, gs := range byKey {
		slices.Sort(gs)
		d.ids = append(d.ids, Identity{Key: k, Groups: gs})
	}
	slices.SortFunc(d.ids, func(a, b Identity) int { return strings.Compare(a.Key, b.Key) })
	return d
}

// Resolve implements Directory: the identity whose Key equals login.Name,
// and for a possibly truncated login also every Key it is a prefix of, in
// Key order. The result shares the directory's memory: do not modify it.
func (d *StaticDirectory) Resolve(login rdp.Login) []Identity {
	if login.Name == "" {
		return nil
	}
	lo, found := slices.BinarySearchFunc(d.ids, login.Name, func(id Identity, k string) int {
		return strings.Compare(id.Key, k)
	})
	if !login.MaybeTruncated {
		if !found {
			return nil
		}
		return d.ids[lo : lo+1 : lo+1]
	}
	hi := lo
	for hi < len(d.ids) && login.Matches(d.ids[hi].Key) {
		hi++
	}
	return d.ids[lo:hi:hi]
}
