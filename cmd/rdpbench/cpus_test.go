package main

import (
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func TestParseCPUList(t *testing.T) {
	tests := []struct {
		in   string
		want []int
	}{
		{"0", []int{0}},
		{"0-3", []int{0, 1, 2, 3}},
		{"8-9,2,4-5", []int{2, 4, 5, 8, 9}},
		{" 1-2 , 2-3\n", []int{1, 2, 3}}, // /proc's trailing newline; overlaps merge
	}
	for _, tc := range tests {
		got, err := parseCPUList(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("parseCPUList(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if back, _ := parseCPUList(formatCPUList(got)); !slices.Equal(back, got) {
			t.Errorf("formatCPUList(%v) = %q does not read back", got, formatCPUList(got))
		}
	}
	for _, bad := range []string{"", "a", "3-1", "-1", "1-", "1,,2", "0-1024"} {
		if got, err := parseCPUList(bad); err == nil {
			t.Errorf("parseCPUList(%q) = %v, want an error", bad, got)
		}
	}
}

func TestFormatCPUList(t *testing.T) {
	if got := formatCPUList([]int{0, 1, 2, 3, 5, 7, 8}); got != "0-3,5,7-8" {
		t.Errorf("formatCPUList = %q, want 0-3,5,7-8", got)
	}
}

func cpuRange(lo, hi int) []int {
	var out []int
	for c := lo; c <= hi; c++ {
		out = append(out, c)
	}
	return out
}

func TestParseCPUs(t *testing.T) {
	all16 := cpuRange(0, 15)
	tests := []struct {
		name, spec        string
		allowed           []int
		proxy, load, farm string
		err               string // part of the error; "" = valid
	}{
		{"none", "", all16, "", "", "", ""},
		{"explicit", "proxy=0-7,load=8-11,farm=12-15", all16, "0-7", "8-11", "12-15", ""},
		{"commas inside sets", "farm=4, proxy=0,2,load=1,3", all16, "0,2", "1,3", "4", ""},
		{"not disjoint", "proxy=0,load=1,farm=1", cpuRange(0, 1), "", "", "", "load and farm share CPU 1: the sets must be disjoint"},
		{"outside allowed", "proxy=0-3,load=4,farm=16", all16, "", "", "", "farm CPU 16 is not one this process may run on (0-15)"},
		{"missing set", "proxy=0,load=1", all16, "", "", "", "no farm= set"},
		{"unknown set", "proxy=0,load=1,farm=2,disk=3", all16, "", "", "", `unknown set "disk"`},
		{"twice", "proxy=0,load=1,farm=2,proxy=3", all16, "", "", "", "set proxy given twice"},
		{"list first", "0,proxy=1,load=2,farm=3", all16, "", "", "", "comes before any"},
		{"bad list", "proxy=0-x,load=1,farm=2", all16, "", "", "", "proxy: cpu list"},
		{"auto on 2", "auto", cpuRange(0, 1), "", "", "", "auto needs at least 4 CPUs; this process may run on 2 (0-1)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := parseCPUs(tc.spec, tc.allowed)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("parseCPUs(%q) error %v, want one saying %q", tc.spec, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := []string{formatCPUList(p.proxy), formatCPUList(p.load), formatCPUList(p.farm)}
			if want := []string{tc.proxy, tc.load, tc.farm}; !slices.Equal(got, want) {
				t.Errorf("sets %v, want %v", got, want)
			}
		})
	}
}

func TestAutoCPUs(t *testing.T) {
	tests := []struct {
		allowed           []int
		proxy, load, farm string
	}{
		{cpuRange(0, 15), "0-7", "8-11", "12-15"},
		{cpuRange(0, 3), "0-1", "2", "3"},
		{cpuRange(0, 5), "0-2", "3", "4-5"},
		{[]int{2, 3, 5, 7, 9, 11, 12, 13}, "2-3,5,7", "9,11", "12-13"}, // a cpuset with holes
	}
	for _, tc := range tests {
		p, err := autoCPUs(tc.allowed)
		if err != nil {
			t.Fatal(err)
		}
		got := []string{formatCPUList(p.proxy), formatCPUList(p.load), formatCPUList(p.farm)}
		if want := []string{tc.proxy, tc.load, tc.farm}; !slices.Equal(got, want) {
			t.Errorf("auto on %v: %v, want %v", formatCPUList(tc.allowed), got, want)
		}
		if err := p.validate(tc.allowed); err != nil {
			t.Errorf("auto on %v: %v", formatCPUList(tc.allowed), err)
		}
	}
	for _, n := range []int{1, 2, 3} {
		if _, err := autoCPUs(cpuRange(0, n-1)); err == nil || !strings.Contains(err.Error(), "needs at least 4 CPUs") {
			t.Errorf("auto on %d CPUs: %v, want 'needs at least 4 CPUs'", n, err)
		}
	}
}

func TestCPUPlanString(t *testing.T) {
	if s := (cpuPlan{}).String(); s != "not pinned" {
		t.Errorf("zero plan: %q", s)
	}
	p := cpuPlan{proxy: cpuRange(0, 7), load: cpuRange(8, 11), farm: cpuRange(12, 15)}
	if s := p.String(); s != "proxy CPUs 0-7, load generator 8-11, farm 12-15" {
		t.Errorf("plan: %q", s)
	}
}

// TestStartOn: a child started on a set runs on it, and the thread that
// started it gets its own set back.
func TestStartOn(t *testing.T) {
	allowed, err := allowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	last := allowed[len(allowed)-1:]
	cmd := exec.Command("grep", "Cpus_allowed_list", "/proc/self/status")
	var out strings.Builder
	cmd.Stdout = &out
	if err := startOn(last, cmd.Start); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(strings.TrimPrefix(out.String(), "Cpus_allowed_list:")); got != formatCPUList(last) {
		t.Errorf("child ran on %q, want %q", got, formatCPUList(last))
	}
	for _, task := range threadSets(t) {
		if task != formatCPUList(allowed) {
			t.Errorf("a thread of this process is left on %q, want %q", task, formatCPUList(allowed))
		}
	}
}

// TestPinSelf pins every thread of the test process to one CPU, then
// back.
func TestPinSelf(t *testing.T) {
	allowed, err := allowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	procs := runtime.GOMAXPROCS(0)
	defer func() {
		pinSelf(allowed)
		runtime.GOMAXPROCS(procs)
	}()
	one := allowed[:1]
	if err := pinSelf(one); err != nil {
		t.Fatal(err)
	}
	if n := runtime.GOMAXPROCS(0); n != 1 {
		t.Errorf("GOMAXPROCS %d, want 1", n)
	}
	for _, set := range threadSets(t) {
		if set != formatCPUList(one) {
			t.Errorf("a thread is on %q, want %q", set, formatCPUList(one))
		}
	}
}

// threadSets is the CPU list of every thread of this process.
func threadSets(t *testing.T) []string {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	var sets []string
	for _, task := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + task.Name() + "/status")
		if err != nil {
			continue // ended meanwhile
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "Cpus_allowed_list:"); ok {
				sets = append(sets, strings.TrimSpace(v))
			}
		}
	}
	return sets
}
