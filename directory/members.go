package directory

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// memberFunc receives one member account of a group.
type memberFunc func(sam, upn string)

// chainMembers finds group's transitive person members with one paged
// search using LDAP_MATCHING_RULE_IN_CHAIN. Disabled accounts are left out
// unless includeDisabled; computers are not persons.
func chainMembers(s searcher, cfg Config, dn string, fn memberFunc) error {
	return persons(s, cfg, "(memberOf:"+inChain+":="+ldap.EscapeFilter(dn)+")", fn)
}

// persons reports every person account under BaseDN matching extra (an
// LDAP filter, or ""), enabled ones only unless includeDisabled.
func persons(s searcher, cfg Config, extra string, fn memberFunc) error {
	return personsDN(s, cfg, extra, func(_, sam, upn string) { fn(sam, upn) })
}

// personsDN is persons, also giving each account's DN.
func personsDN(s searcher, cfg Config, extra string, fn func(dn, sam, upn string)) error {
	filter := "(&" + filterPerson + extra
	if !cfg.IncludeDisabled {
		filter += "(!" + uacDisabled + ")"
	}
	filter += ")"
	req := ldap.NewSearchRequest(cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		filter, []string{attrSAM, attrUPN}, nil)
	return pagedSearch(s, req, cfg.PageSize, func(e *ldap.Entry) error {
		fn(e.DN, e.GetAttributeValue(attrSAM), e.GetAttributeValue(attrUPN))
		return nil
	})
}

// walkBatch is how many member DNs one lookup search asks for.
const walkBatch = 100

// known maps the lower-case DN of every account the all-users search
// reported (the accounts the sync indexes: enabled persons, or all persons
// with include_disabled) to its names, so that the walk reports those
// members without looking their DNs up.
type known map[string]account

type account struct{ sam, upn string }

// walkMembers finds group's transitive person members breadth-first:
// read each group's `member` values (with range retrieval), report the
// accounts already known, look the other DNs up in batches, report
// persons, queue nested groups (each group once: cycles end). Members
// outside BaseDN (foreign security principals) are skipped. It is the
// fallback for directories where the chain rule is slow or missing.
func walkMembers(s searcher, cfg Config, dn string, kn known, fn memberFunc) error {
	seen := map[string]bool{strings.ToLower(dn): true}
	queue := []string{dn}
	for len(queue) > 0 {
		g := queue[0]
		queue = queue[1:]
		members, err := readMembers(s, g, cfg.RangeWindow)
		if err != nil {
			return err
		}
		lookup := make([]string, 0, len(members))
		for _, m := range members {
			if a, ok := kn[strings.ToLower(m)]; ok {
				fn(a.sam, a.upn)
				continue
			}
			lookup = append(lookup, m) // groups, disabled accounts, computers, DNs spelt differently
		}
		for batch := range slices.Chunk(lookup, walkBatch) {
			var f strings.Builder
			f.WriteString("(|")
			for _, m := range batch {
				f.WriteString("(distinguishedName=")
				f.WriteString(ldap.EscapeFilter(m))
				f.WriteString(")")
			}
			f.WriteString(")")
			req := ldap.NewSearchRequest(cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
				f.String(), []string{attrClass, attrSAM, attrUPN, attrUAC}, nil)
			err := pagedSearch(s, req, cfg.PageSize, func(e *ldap.Entry) error {
				if !inBatch(e.DN, batch) {
					// Servers where distinguishedName is the supertype of
					// member (OpenLDAP) also return the groups listing
					// the DN: not members.
					return nil
				}
				classes := lower(e.GetAttributeValues(attrClass))
				switch {
				case slices.Contains(classes, "group"):
					if k := strings.ToLower(e.DN); !seen[k] {
						seen[k] = true
						queue = append(queue, e.DN)
					}
				case slices.Contains(classes, "computer"):
				case slices.Contains(classes, "user") && slices.Contains(classes, "person"):
					if !cfg.IncludeDisabled && disabled(e.GetAttributeValue(attrUAC)) {
						return nil
					}
					fn(e.GetAttributeValue(attrSAM), e.GetAttributeValue(attrUPN))
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("walk %s: %w", g, err)
			}
		}
	}
	return nil
}

// inBatch reports whether dn is one of batch (compared as DNs).
func inBatch(dn string, batch []string) bool {
	for _, m := range batch {
		if strings.EqualFold(dn, m) {
			return true
		}
	}
	pd, err := ldap.ParseDN(dn)
	if err != nil {
		return false
	}
	for _, m := range batch {
		if pm, err := ldap.ParseDN(m); err == nil && pd.EqualFold(pm) {
			return true
		}
	}
	return false
}

// allUsers reports every person account under BaseDN (enabled ones unless
// includeDisabled) and returns them by DN for the walk.
func allUsers(s searcher, cfg Config, fn memberFunc) (known, error) {
	kn := make(known)
	err := personsDN(s, cfg, "", func(dn, sam, upn string) {
		fn(sam, upn)
		if sam != "" {
			kn[strings.ToLower(dn)] = account{sam, upn}
		}
	})
	return kn, err
}

// disabled reports whether a userAccountControl value has ACCOUNTDISABLE.
func disabled(uac string) bool {
	n, err := strconv.ParseInt(uac, 10, 64)
	return err == nil && n&2 != 0
}

func lower(ss []string) []string {
	for i, s := range ss {
		ss[i] = strings.ToLower(s)
	}
	return ss
}
