package directory

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// SnapshotFile is the name of the last good snapshot in the state
// directory.
const SnapshotFile = "directory-snapshot.json"

// fetch runs one sync against the directory: connect, read the domain's
// names, resolve each configured group's members, and (IndexAllUsers)
// every user's names. prev (may be nil) feeds the shrink guard; confirm
// lifts it. It returns the new snapshot and the groups kept from prev.
func fetch(ctx context.Context, cfg Config, prev *Snapshot, confirm bool, log *slog.Logger, now func() time.Time) (*Snapshot, string, []string, error) {
	c, url, err := connect(ctx, cfg, log)
	if err != nil {
		return nil, "", nil, err
	}
	defer c.Close()
	// go-ldap requests take no context: close the connection when the
	// sync's deadline passes, which fails the request under way.
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()

	snap, kept, err := fetchFrom(c, cfg, prev, confirm, log)
	if err != nil {
		if ctx.Err() != nil {
			return nil, url, nil, kindErr(KindTimeout, fmt.Errorf("directory: sync from %s: %w (%w)", url, ctx.Err(), err))
		}
		return nil, url, nil, fmt.Errorf("directory: sync from %s: %w", url, err)
	}
	snap.Taken = now()
	return snap, url, kept, nil
}

func fetchFrom(s searcher, cfg Config, prev *Snapshot, confirm bool, log *slog.Logger) (*Snapshot, []string, error) {
	netbios, dns, _, err := domainInfo(s)
	if err != nil {
		return nil, nil, err
	}
	snap := &Snapshot{NetBIOS: netbios, DNSDomain: dns, Groups: make(map[string]GroupInfo, len(cfg.Groups))}
	b := newBuilder()
	names := slices.Sorted(maps.Keys(cfg.Groups))
	members := make(map[string]map[string]bool, len(names)) // group -> SAMs
	// Every user first: the walk then resolves member DNs from this
	// instead of looking each one up (a 100k-user directory: thousands of
	// searches fewer).
	var kn known
	if cfg.IndexAllUsers {
		if kn, err = allUsers(s, cfg, func(sam, upn string) { b.add(sam, upn, "") }); err != nil {
			return nil, nil, fmt.Errorf("all users: %w", err)
		}
	}
	for _, name := range names {
		dn, err := groupDN(s, cfg.BaseDN, cfg.Groups[name])
		if err != nil {
			return nil, nil, err
		}
		set := make(map[string]bool)
		add := func(sam, upn string) {
			if sam != "" {
				b.add(sam, upn, "")
				set[lowerTrim(sam)] = true
			}
		}
		switch cfg.Method {
		case MethodWalk:
			err = walkMembers(s, cfg, dn, kn, add)
		case MethodChain:
			err = chainMembers(s, cfg, dn, add)
		default:
			if err = chainMembers(s, cfg, dn, add); err != nil && !ldap.IsErrorWithCode(err, ldap.ErrorNetwork) {
				log.Warn("directory: chain search failed; walking the member attribute instead", "group", name, "err", err)
				clear(set)
				err = walkMembers(s, cfg, dn, kn, add)
			}
		}
		if err != nil {
			return nil, nil, fmt.Errorf("group %s (%s): %w", name, dn, err)
		}
		members[name] = set
		snap.Groups[name] = GroupInfo{DN: dn, Members: len(set)}
	}
	kept := shrinkGuard(cfg, prev, snap, members, confirm, log)
	carryUsers(prev, b, kept)
	for g, set := range members {
		for sam := range set {
			b.add(sam, "", g)
		}
	}
	snap.Users = b.build()
	return snap, kept, nil
}

// shrinkGuard replaces, in members, the membership of every group that
// lost more than cfg.ShrinkGuard of its members since prev by its previous
// membership (unless confirm), and returns those groups.
func shrinkGuard(cfg Config, prev, next *Snapshot, members map[string]map[string]bool, confirm bool, log *slog.Logger) []string {
	if prev == nil || cfg.ShrinkGuard <= 0 || confirm {
		return nil
	}
	var kept []string
	for g, set := range members {
		old, ok := prev.Groups[g]
		if !ok || old.Members < cfg.ShrinkGuardMin || old.DN != next.Groups[g].DN {
			continue
		}
		if float64(len(set)) >= float64(old.Members)*(1-cfg.ShrinkGuard) {
			continue
		}
		log.Warn("directory: group shrank beyond shrink_guard; keeping its previous membership until confirmed",
			"group", g, "before", old.Members, "now", len(set), "shrink_guard", cfg.ShrinkGuard)
		clear(set)
		for _, u := range prev.members(g) {
			set[u.SAM] = true
		}
		info := next.Groups[g]
		info.Kept = fmt.Sprintf("shrank from %d to %d members (shrink_guard %.0f%%): previous membership kept until confirmed",
			old.Members, info.Members, cfg.ShrinkGuard*100)
		info.Members = len(set)
		next.Groups[g] = info
		kept = append(kept, g)
	}
	sort.Strings(kept)
	return kept
}

// Previous users kept by the shrink guard must still resolve by all their
// forms: carry their UPNs over.
func carryUsers(prev *Snapshot, b *builder, kept []string) {
	if prev == nil {
		return
	}
	for _, g := range kept {
		for _, u := range prev.members(g) {
			b.add(u.SAM, u.UPN, "")
		}
	}
}

func lowerTrim(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
