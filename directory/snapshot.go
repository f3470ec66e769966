package directory

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Snapshot is one complete, consistent view of the directory: every user
// the routing may need to know and the configured groups each belongs to.
// Snapshots are immutable once built.
type Snapshot struct {
	// Taken is when the sync that produced it finished.
	Taken time.Time `json:"taken"`
	// NetBIOS is the domain's NetBIOS name, lower case ("corp").
	NetBIOS string `json:"netbios"`
	// DNSDomain is the domain's DNS name, lower case ("corp.example.test").
	DNSDomain string `json:"dns_domain"`
	// Groups describes each configured group (key: name used in rules).
	Groups map[string]GroupInfo `json:"groups"`
	// Users are sorted by SAM; SAMs are unique.
	Users []User `json:"users"`
}

// GroupInfo is what the sync learnt about one configured group.
type GroupInfo struct {
	// DN is the group's distinguished name.
	DN string `json:"dn"`
	// Members is the number of (enabled, person) members, transitively.
	Members int `json:"members"`
	// Kept is set when this group's membership was carried over from the
	// previous snapshot (shrink guard), with the reason.
	Kept string `json:"kept,omitempty"`
}

// User is one account.
type User struct {
	// SAM is the lower-case sAMAccountName: the canonical login.
	SAM string `json:"sam"`
	// UPN is the lower-case explicit userPrincipalName, if any.
	UPN string `json:"upn,omitempty"`
	// Groups are the configured group names the user belongs to, sorted.
	Groups []string `json:"groups,omitempty"`
}

// snapshotVersion is the on-disk format version.
const snapshotVersion = 1

type snapshotFile struct {
	Version  int       `json:"version"`
	Snapshot *Snapshot `json:"snapshot"`
}

// ErrSnapshotVersion: the snapshot file was written by an incompatible
// version.
var ErrSnapshotVersion = errors.New("unsupported snapshot version")

// SaveSnapshot writes s to path atomically (temporary file, fsync,
// rename, fsync of the directory): a crash leaves the old or the new file,
// never a torn one.
func SaveSnapshot(path string, s *Snapshot) (err error) {
	data, err := json.Marshal(snapshotFile{Version: snapshotVersion, Snapshot: s})
	if err != nil {
		return fmt.Errorf("directory: save snapshot %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("directory: save snapshot %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			err = fmt.Errorf("directory: save snapshot %s: %w", path, err)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Chmod(f.Name(), 0o600); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// LoadSnapshot reads a snapshot written by SaveSnapshot. A missing file
// returns an error wrapping os.ErrNotExist.
func LoadSnapshot(path string) (*Snapshot, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("directory: load snapshot %s: %w", path, err)
	}
	var f snapshotFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("directory: load snapshot %s: %w", path, err)
	}
	if f.Version != snapshotVersion || f.Snapshot == nil {
		return nil, fmt.Errorf("directory: load snapshot %s: %w %d", path, ErrSnapshotVersion, f.Version)
	}
	if err := f.Snapshot.check(); err != nil {
		return nil, fmt.Errorf("directory: load snapshot %s: %w", path, err)
	}
	return f.Snapshot, nil
}

// check verifies the invariants Index relies on.
func (s *Snapshot) check() error {
	for i, u := range s.Users {
		if u.SAM == "" || u.SAM != strings.ToLower(u.SAM) {
			return fmt.Errorf("user %d: bad sam %q", i, u.SAM)
		}
		if i > 0 && s.Users[i-1].SAM >= u.SAM {
			return fmt.Errorf("users not sorted or duplicated at %q", u.SAM)
		}
	}
	return nil
}

// builder accumulates users during a sync.
type builder struct {
	users map[string]*User // by SAM
}

func newBuilder() *builder { return &builder{users: make(map[string]*User)} }

// add records the account (sam, upn) and, if group is not empty, its
// membership of group.
func (b *builder) add(sam, upn, group string) {
	sam = strings.ToLower(strings.TrimSpace(sam))
	if sam == "" {
		return
	}
	u := b.users[sam]
	if u == nil {
		u = &User{SAM: sam, UPN: strings.ToLower(strings.TrimSpace(upn))}
		b.users[sam] = u
	}
	if group != "" && !slices.Contains(u.Groups, group) {
		u.Groups = append(u.Groups, group)
	}
}

// members returns the SAMs of group's members.
func (s *Snapshot) members(group string) []User {
	var out []User
	for _, u := range s.Users {
		if slices.Contains(u.Groups, group) {
			out = append(out, u)
		}
	}
	return out
}

// build returns the snapshot's sorted user list.
func (b *builder) build() []User {
	out := make([]User, 0, len(b.users))
	for _, u := range b.users {
		slices.Sort(u.Groups)
		out = append(out, *u)
	}
	slices.SortFunc(out, func(a, b User) int { return strings.Compare(a.SAM, b.SAM) })
	return out
}
