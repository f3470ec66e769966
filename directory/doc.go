// Package directory will sync Active Directory group membership over LDAP
// and implement routing.Directory (issue 3). Until it lands, rules with
// `groups:` resolve through the configuration's `static_groups`
// (routing.StaticDirectory).
package directory
