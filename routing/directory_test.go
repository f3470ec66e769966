package routing

import (
	"slices"
	"testing"

	"github.com/rdpbroker/rdpbroker/rdp"
)

func TestStaticDirectory(t *testing.T) {
	d := NewStaticDirectory(map[string][]string{
		"Sales":      {"alice", `CORP\Alicia`, "", "bob@corp.example"},
		"ACCOUNTING": {"alicia", "carol"},
	}, []string{"alex", "alice", " "})
	tests := []struct {
		cookie string
		want   []string // Key:groups
	}{
		{"alice", []string{"alice:sales"}},
		{"ALICIA@corp.example", []string{"alicia:accounting,sales"}},
		{"alex", []string{"alex:"}},
		{"zed", nil},
		{`CORP\alic`, []string{"alice:sales", "alicia:accounting,sales"}},
		{`CORP\al`, nil},  // 7 characters: exact only
		{`CORP\ale`, nil}, // 8 characters: exact only
		{`CORP\alex`, []string{"alex:"}},
		{`CORP\bob`, []string{"bob:sales"}},
		{"", nil},
	}
	for _, tc := range tests {
		t.Run(tc.cookie, func(t *testing.T) {
			var got []string
			for _, id := range d.Resolve(rdp.NormalizeLogin(tc.cookie)) {
				g := ""
				for i, x := range id.Groups {
					if i > 0 {
						g += ","
					}
					g += x
				}
				got = append(got, id.Key+":"+g)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Resolve(%q) = %v, want %v", tc.cookie, got, tc.want)
			}
		})
	}
}
