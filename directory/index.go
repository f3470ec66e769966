package directory

import (
	"slices"
	"strings"

	"github.com/rdpbroker/rdpbroker/rdp"
	"github.com/rdpbroker/rdpbroker/routing"
)

// Index answers routing's question "who is this login?" from a Snapshot,
// in memory. Every name form of a user designates the same identity:
// `alice`, `CORP\alice`, `corp.example.test\alice`,
// `alice@corp.example.test` (the implicit UPN) and the explicit UPN
// (`ivan.petrov@example.com`). A possibly truncated mstsc cookie
// (`CORP\alic`) designates every user one of whose forms it prefixes.
// An Index is immutable and safe for concurrent use.
type Index struct {
	snap  *Snapshot
	ids   []routing.Identity // parallel to snap.Users
	exact map[string]int32   // name form -> index in ids
	forms []form             // sorted by name, for prefix lookups
}

type form struct {
	name string
	id   int32
}

var _ routing.Directory = (*Index)(nil)

// NewIndex indexes s. s must not be modified afterwards.
func NewIndex(s *Snapshot) *Index {
	x := &Index{
		snap:  s,
		ids:   make([]routing.Identity, len(s.Users)),
		exact: make(map[string]int32, len(s.Users)*4),
		forms: make([]form, 0, len(s.Users)*4),
	}
	add := func(name string, id int32) {
		if name == "" {
			return
		}
		if _, dup := x.exact[name]; dup {
			// An explicit UPN equal to another user's implicit one: AD
			// resolves the explicit UPN first, and so do we (added first).
			return
		}
		x.exact[name] = id
		x.forms = append(x.forms, form{name, id})
	}
	// Explicit UPNs first: they win over implicit sam@dnsdomain forms.
	for i, u := range s.Users {
		x.ids[i] = routing.Identity{Key: u.SAM, Groups: u.Groups}
		add(u.UPN, int32(i))
	}
	for i, u := range s.Users {
		id := int32(i)
		add(u.SAM, id)
		if s.NetBIOS != "" {
			add(s.NetBIOS+`\`+u.SAM, id)
		}
		if s.DNSDomain != "" {
			add(s.DNSDomain+`\`+u.SAM, id)
			add(u.SAM+"@"+s.DNSDomain, id)
		}
	}
	slices.SortFunc(x.forms, func(a, b form) int { return strings.Compare(a.name, b.name) })
	return x
}

// Snapshot returns the indexed snapshot (do not modify it).
func (x *Index) Snapshot() *Snapshot { return x.snap }

// Len is the number of users.
func (x *Index) Len() int { return len(x.ids) }

// Resolve implements routing.Directory. An exact name form gives its one
// identity; a possibly truncated login gives every identity one of whose
// forms it prefixes (the exact match included), in Key order; an unknown
// login gives none. The result must not be modified.
func (x *Index) Resolve(login rdp.Login) []routing.Identity {
	if login.Name == "" {
		return nil
	}
	name := loginForm(login)
	id, found := x.exact[name]
	if !login.MaybeTruncated {
		if !found {
			return nil
		}
		return x.ids[id : id+1 : id+1]
	}
	lo, _ := slices.BinarySearchFunc(x.forms, name, func(f form, k string) int {
		return strings.Compare(f.name, k)
	})
	var hit []int32
	for i := lo; i < len(x.forms) && strings.HasPrefix(x.forms[i].name, name); i++ {
		if !slices.Contains(hit, x.forms[i].id) {
			hit = append(hit, x.forms[i].id)
		}
	}
	switch len(hit) {
	case 0:
		return nil
	case 1:
		return x.ids[hit[0] : hit[0]+1 : hit[0]+1]
	}
	slices.Sort(hit) // ids are in SAM order
	out := make([]routing.Identity, len(hit))
	for i, id := range hit {
		out[i] = x.ids[id]
	}
	return out
}

// loginForm rebuilds the lower-case name form a normalised login was
// sent in: domain\name, name@realm or name.
func loginForm(l rdp.Login) string {
	switch {
	case l.Domain != "" && l.Realm != "":
		return l.Domain + `\` + l.Name + "@" + l.Realm
	case l.Domain != "":
		return l.Domain + `\` + l.Name
	case l.Realm != "":
		return l.Name + "@" + l.Realm
	}
	return l.Name
}
