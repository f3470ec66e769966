// Package directory keeps the broker's view of Active Directory group
// membership in step with AD, over LDAP (github.com/go-ldap/ldap/v3), and
// serves it to routing as a routing.Directory (Index).
//
// # Sync
//
// A Syncer connects to the configured domain controllers in turn
// (ldaps://, or ldap:// upgraded with StartTLS; plain LDAP only with
// allow_plain), verifying their certificates against ca_file, and binds
// with bind_dn and the password read from bind_password_file at every
// sync (never logged). Each sync opens a fresh connection and closes it:
// the broker never holds an idle LDAP connection that AD would drop after
// 15 minutes. A refused bind stops at the first DC, so a wrong password
// does not lock the account out faster.
//
// Membership of each configured group (a DN, or a bare name looked up
// under base_dn) is transitive: method "chain" asks AD with one paged
// search per group using LDAP_MATCHING_RULE_IN_CHAIN; method "walk" reads
// `member` breadth-first with range retrieval (member;range=lo-hi) and
// looks members up in batches; "auto" (default) walks a group whose chain
// search fails. Disabled accounts are left out by default, computers
// always. With index_all_users (default) every enabled user's names are
// loaded too, so truncated cookies are compared with all users.
// Membership through primaryGroupID is not seen (AD's chain rule does not
// follow it either).
//
// # Safety
//
// A sync builds a new immutable Snapshot; only a complete one replaces the
// current index (Options.Publish, wired to routing.Router.SetDirectory:
// an atomic swap, sessions untouched, no restart). A failed sync keeps the
// previous index and marks the status stale. The last good snapshot is
// written atomically to <state_dir>/directory-snapshot.json and published
// at Start, so a broker started while AD is unreachable routes as before.
// The shrink guard keeps a group's previous membership when it loses more
// than shrink_guard of its members in one sync, until an operator confirms
// (Syncer.Trigger(true)).
//
// # Names
//
// Index resolves every form of a user's name to one identity keyed by the
// lower-case sAMAccountName: alice, CORP\alice, corp.example.test\alice,
// alice@corp.example.test (implicit UPN) and the explicit UPN. A login
// that may be a truncated mstsc cookie (9 characters: CORP\alic) resolves
// to every user one of whose name forms it prefixes; routing then applies
// its `ambiguous` policy when they would go to different pools.
//
// directory/adtest runs a real Samba AD DC on loopback for the tests.
package directory
