package directory

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// searcher is the part of *ldap.Conn the sync uses (tests may fake it).
type searcher interface {
	Search(req *ldap.SearchRequest) (*ldap.SearchResult, error)
}

var _ searcher = (*ldap.Conn)(nil)

// Attribute names.
const (
	attrSAM     = "sAMAccountName"
	attrUPN     = "userPrincipalName"
	attrUAC     = "userAccountControl"
	attrClass   = "objectClass"
	attrMember  = "member"
	attrNetBIOS = "nETBIOSName"
	attrDNSRoot = "dnsRoot"
)

// Filters. uacDisabled matches accounts with ACCOUNTDISABLE (0x2) set;
// inChain is LDAP_MATCHING_RULE_IN_CHAIN (transitive membership).
const (
	filterPerson = "(objectCategory=person)(objectClass=user)"
	uacDisabled  = "(userAccountControl:1.2.840.113556.1.4.803:=2)"
	inChain      = "1.2.840.113556.1.4.1941"
)

// pagedSearch runs req page by page (pageSize entries each) and calls fn
// for every entry, so memory holds one page at a time (go-ldap's
// SearchWithPaging keeps them all). Search references (the referrals a
// subtree search from the domain root returns for CN=Configuration and
// the DNS zones) are ignored.
func pagedSearch(s searcher, req *ldap.SearchRequest, pageSize int, fn func(*ldap.Entry) error) error {
	paging := ldap.NewControlPaging(uint32(pageSize))
	req.Controls = append(req.Controls, paging)
	for {
		res, err := s.Search(req)
		if err != nil {
			return fmt.Errorf("search %s %s: %w", req.BaseDN, req.Filter, err)
		}
		for _, e := range res.Entries {
			if err := fn(e); err != nil {
				return err
			}
		}
		pc, ok := ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging)
		if !ok || len(pc.Cookie) == 0 {
			return nil
		}
		paging.SetCookie(pc.Cookie)
	}
}

// readMembers returns every value of dn's `member` attribute, with range
// retrieval: AD returns at most MaxValRange (1500, or 5000) values and
// names the attribute `member;range=0-1499`; the next request asks for
// `member;range=1500-*` and so on until the range ends in `*`. window > 0
// asks for windows of that size (which also forces Samba, which does not
// range by itself, down the multi-round path).
func readMembers(s searcher, dn string, window int) ([]string, error) {
	var out []string
	lo := 0
	for round := 0; ; round++ {
		attr := attrMember
		switch {
		case window > 0:
			attr = fmt.Sprintf("member;range=%d-%d", lo, lo+window-1)
		case lo > 0:
			attr = fmt.Sprintf("member;range=%d-*", lo)
		}
		res, err := s.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
			0, 0, false, "(objectClass=*)", []string{attr}, nil))
		if err != nil {
			return nil, fmt.Errorf("read %s of %s: %w", attr, dn, err)
		}
		if len(res.Entries) != 1 {
			return nil, fmt.Errorf("read %s of %s: %d entries", attr, dn, len(res.Entries))
		}
		next, done, err := rangeStep(res.Entries[0].Attributes, &out)
		if err != nil {
			return nil, fmt.Errorf("read %s of %s: %w", attr, dn, err)
		}
		if done {
			return out, nil
		}
		if next <= lo || round > 100000 {
			return nil, fmt.Errorf("read %s of %s: range does not advance (%d)", attr, dn, next)
		}
		lo = next
	}
}

// rangeStep appends the member values among attrs to out and says where
// the next window starts, or done.
func rangeStep(attrs []*ldap.EntryAttribute, out *[]string) (next int, done bool, err error) {
	for _, a := range attrs {
		name := strings.ToLower(a.Name)
		if name == "member" {
			*out = append(*out, a.Values...)
			return 0, true, nil
		}
		spec, ok := strings.CutPrefix(name, "member;range=")
		if !ok {
			continue
		}
		*out = append(*out, a.Values...)
		_, hi, ok := strings.Cut(spec, "-")
		if !ok {
			return 0, false, fmt.Errorf("bad range %q", a.Name)
		}
		if hi == "*" {
			return 0, true, nil
		}
		n, err := strconv.Atoi(hi)
		if err != nil || n < 0 {
			return 0, false, fmt.Errorf("bad range %q", a.Name)
		}
		return n + 1, false, nil
	}
	return 0, true, nil // no member attribute: an empty group, or past its end
}

// errNotFound: a configured group does not exist.
var errNotFound = errors.New("not found")

// domainInfo reads the NetBIOS and DNS names of the domain from the
// crossRef object under CN=Partitions of the configuration partition.
func domainInfo(s searcher) (netbios, dns string, domainDN string, err error) {
	res, err := s.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"defaultNamingContext", "configurationNamingContext"}, nil))
	if err != nil || len(res.Entries) != 1 {
		return "", "", "", fmt.Errorf("read rootDSE: %w", errors.Join(err, errNotFound))
	}
	root := res.Entries[0]
	domainDN = root.GetAttributeValue("defaultNamingContext")
	conf := root.GetAttributeValue("configurationNamingContext")
	if domainDN == "" || conf == "" {
		return "", "", "", fmt.Errorf("read rootDSE: no naming contexts (not Active Directory?)")
	}
	res, err = s.Search(ldap.NewSearchRequest("CN=Partitions,"+conf, ldap.ScopeSingleLevel, ldap.NeverDerefAliases,
		0, 0, false, "(&(objectClass=crossRef)(nCName="+ldap.EscapeFilter(domainDN)+"))",
		[]string{attrNetBIOS, attrDNSRoot}, nil))
	if err != nil {
		return "", "", "", fmt.Errorf("read domain crossRef: %w", err)
	}
	if len(res.Entries) != 1 {
		return "", "", "", fmt.Errorf("read domain crossRef of %s: %w", domainDN, errNotFound)
	}
	e := res.Entries[0]
	return strings.ToLower(e.GetAttributeValue(attrNetBIOS)), strings.ToLower(e.GetAttributeValue(attrDNSRoot)), domainDN, nil
}

// groupDN resolves a configured group: a value containing '=' is a DN
// (checked to exist), otherwise a bare name matched against
// sAMAccountName or cn under base; it must designate exactly one group.
func groupDN(s searcher, base, g string) (string, error) {
	scope, filter := ldap.ScopeWholeSubtree, "(&(objectClass=group)(|(sAMAccountName="+ldap.EscapeFilter(g)+")(cn="+ldap.EscapeFilter(g)+")))"
	if strings.Contains(g, "=") {
		base, scope, filter = g, ldap.ScopeBaseObject, "(objectClass=group)"
	}
	res, err := s.Search(ldap.NewSearchRequest(base, scope, ldap.NeverDerefAliases, 0, 0, false, filter, []string{"cn"}, nil))
	if err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			return "", fmt.Errorf("group %q: %w", g, errNotFound)
		}
		return "", fmt.Errorf("group %q: %w", g, err)
	}
	switch len(res.Entries) {
	case 0:
		return "", fmt.Errorf("group %q: %w", g, errNotFound)
	case 1:
		return res.Entries[0].DN, nil
	}
	return "", fmt.Errorf("group %q: %d groups have this name; use its DN", g, len(res.Entries))
}
