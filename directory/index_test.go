package directory

import (
	"slices"
	"strconv"
	"testing"

	"github.com/rdpbroker/rdpbroker/rdp"
	"github.com/rdpbroker/rdpbroker/routing"
)

func testSnapshot() *Snapshot {
	b := newBuilder()
	b.add("alice", "alice@corp.example.test", "Engineering")
	b.add("alicia", "", "Sales")
	b.add("bob", "bob@corp.example.test", "Engineering")
	b.add("ivan", "ivan.petrov@example.com", "Engineering")
	b.add("Judy", "", "")
	// mallory's explicit UPN is bob's implicit one: the explicit UPN wins.
	b.add("mallory", "bob2@corp.example.test", "")
	return &Snapshot{NetBIOS: "corp", DNSDomain: "corp.example.test", Users: b.build()}
}

func keys(ids []routing.Identity) []string {
	var out []string
	for _, id := range ids {
		out = append(out, id.Key)
	}
	return out
}

func TestIndexResolve(t *testing.T) {
	x := NewIndex(testSnapshot())
	tests := []struct {
		name, login string
		want        []string
	}{
		{"bare", "alice", []string{"alice"}},
		{"upper case", "ALICE", []string{"alice"}},
		{"netbios domain", `CORP\alice`, []string{"alice"}},
		{"dns domain", `corp.example.test\bob`, []string{"bob"}},
		{"implicit upn", "alice@corp.example.test", []string{"alice"}},
		{"explicit upn", "ivan.petrov@example.com", []string{"ivan"}},
		{"implicit upn of explicit-upn user", "ivan@corp.example.test", []string{"ivan"}},
		{"foreign domain", `OTHER\alice`, nil},
		{"foreign realm", "alice@other.test", nil},
		{"unknown", "zed", nil},
		{"no group but known", "judy", []string{"judy"}},
		{"truncated netbios, two candidates", `CORP\alic`, []string{"alice", "alicia"}},
		{"truncated netbios, one candidate", `CORP\ivan`, []string{"ivan"}},
		{"truncated upn", "ivan.petr", []string{"ivan"}},
		{"truncated implicit upn", "bob@corp.", []string{"bob"}},
		{"exact 9 chars also a prefix", "mallory@c", []string{"mallory"}},
		{"truncated nothing", `CORP\zzzz`, nil},
		{"empty", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := keys(x.Resolve(rdp.NormalizeLogin(tc.login)))
			if !slices.Equal(got, tc.want) {
				t.Errorf("Resolve(%q) = %v, want %v", tc.login, got, tc.want)
			}
		})
	}
	if ids := x.Resolve(rdp.NormalizeLogin("bob2@corp.example.test")); len(ids) != 1 || ids[0].Key != "mallory" {
		t.Errorf("explicit UPN must win over an implicit one: %v", ids)
	}
	if ids := x.Resolve(rdp.NormalizeLogin(`CORP\alice`)); !slices.Equal(ids[0].Groups, []string{"Engineering"}) {
		t.Errorf("alice's groups = %v", ids[0].Groups)
	}
}

func BenchmarkIndexResolve(b *testing.B) {
	bl := newBuilder()
	for i := range 100_000 {
		bl.add("user"+strconv.Itoa(i), "", "g"+strconv.Itoa(i%1000))
	}
	x := NewIndex(&Snapshot{NetBIOS: "corp", DNSDomain: "corp.example.test", Users: bl.build()})
	exact := rdp.NormalizeLogin(`CORP\user12345`)
	b.Run("exact", func(b *testing.B) {
		for b.Loop() {
			if len(x.Resolve(exact)) != 1 {
				b.Fatal("not found")
			}
		}
	})
	b.Run("truncated-9", func(b *testing.B) {
		t9 := rdp.NormalizeLogin("user1234@") // 9 characters: a prefix scan
		for b.Loop() {
			if len(x.Resolve(t9)) == 0 {
				b.Fatal("not found")
			}
		}
	})
}
