package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

// cpuPlan is -cpus: the CPU sets the proxies, the load generator (this
// process) and the fake farm (a child process) run on. On a machine with
// enough CPUs, disjoint sets keep the three from competing for the same
// cores, so that a proxy's numbers are its own. The zero plan pins nothing.
type cpuPlan struct {
	proxy, load, farm []int
}

func (p cpuPlan) pinned() bool { return len(p.proxy) > 0 }

// String is the report's description of the plan.
func (p cpuPlan) String() string {
	if !p.pinned() {
		return "not pinned"
	}
	return fmt.Sprintf("proxy CPUs %s, load generator %s, farm %s",
		formatCPUList(p.proxy), formatCPUList(p.load), formatCPUList(p.farm))
}

// maxCPU bounds the CPU numbers accepted: the affinity mask setAffinity
// passes holds 1024 (the kernel's cpu_set_t).
const maxCPU = 1024

// parseCPUList reads the kernel's cpulist syntax ("0-3,8,10-11") into
// sorted, distinct CPU numbers.
func parseCPUList(s string) ([]int, error) {
	var cpus []int
	for _, part := range strings.Split(strings.TrimSpace(s), ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, errA := strconv.Atoi(lo)
		b, errB := a, error(nil)
		if isRange {
			b, errB = strconv.Atoi(hi)
		}
		if errA != nil || errB != nil || a < 0 || b < a || b >= maxCPU {
			return nil, fmt.Errorf("cpu list %q: bad element %q", s, part)
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	slices.Sort(cpus)
	return slices.Compact(cpus), nil
}

// formatCPUList writes sorted CPU numbers in cpulist syntax.
func formatCPUList(cpus []int) string {
	var parts []string
	for i := 0; i < len(cpus); {
		j := i
		for j+1 < len(cpus) && cpus[j+1] == cpus[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(cpus[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", cpus[i], cpus[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// parseCPUs reads -cpus against the CPUs this process may run on: "" pins
// nothing, "auto" splits allowed (autoCPUs), anything else names the three
// sets, "proxy=0-7,load=8-11,farm=12-15" (a set may itself hold commas:
// "proxy=0,2,load=1,3,farm=4").
func parseCPUs(spec string, allowed []int) (cpuPlan, error) {
	switch strings.TrimSpace(spec) {
	case "":
		return cpuPlan{}, nil
	case "auto":
		return autoCPUs(allowed)
	}
	sets, err := splitRoles(spec)
	if err != nil {
		return cpuPlan{}, err
	}
	p := cpuPlan{proxy: sets["proxy"], load: sets["load"], farm: sets["farm"]}
	return p, p.validate(allowed)
}

// splitRoles reads "role=cpulist,role=cpulist" into a cpulist per role.
func splitRoles(spec string) (map[string][]int, error) {
	lists := map[string]string{}
	var role string
	for _, tok := range strings.Split(spec, ",") {
		if name, list, ok := strings.Cut(tok, "="); ok {
			role = strings.TrimSpace(name)
			if !slices.Contains([]string{"proxy", "load", "farm"}, role) {
				return nil, fmt.Errorf("unknown set %q (want proxy=, load=, farm=)", role)
			}
			if _, dup := lists[role]; dup {
				return nil, fmt.Errorf("set %s given twice", role)
			}
			lists[role] = list
			continue
		}
		if role == "" {
			return nil, fmt.Errorf("%q comes before any proxy=, load= or farm=", tok)
		}
		lists[role] += "," + tok
	}
	sets := map[string][]int{}
	for _, role := range []string{"proxy", "load", "farm"} {
		list, ok := lists[role]
		if !ok {
			return nil, fmt.Errorf("no %s= set (all of proxy=, load= and farm= are needed)", role)
		}
		cpus, err := parseCPUList(list)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", role, err)
		}
		sets[role] = cpus
	}
	return sets, nil
}

// validate checks that the sets are disjoint and within allowed.
func (p cpuPlan) validate(allowed []int) error {
	owner := map[int]string{}
	for _, s := range []struct {
		role string
		cpus []int
	}{{"proxy", p.proxy}, {"load", p.load}, {"farm", p.farm}} {
		for _, c := range s.cpus {
			if !slices.Contains(allowed, c) {
				return fmt.Errorf("%s CPU %d is not one this process may run on (%s)", s.role, c, formatCPUList(allowed))
			}
			if o, ok := owner[c]; ok {
				return fmt.Errorf("%s and %s share CPU %d: the sets must be disjoint", o, s.role, c)
			}
			owner[c] = s.role
		}
	}
	return nil
}

// autoCPUs splits allowed: the proxy gets the first half, the load
// generator the next quarter, the farm the rest. The proxy gets the most:
// it is what is measured, and the load generator and farm must not be the
// bottleneck; below 4 CPUs one of the three would get none.
func autoCPUs(allowed []int) (cpuPlan, error) {
	n := len(allowed)
	if n < 4 {
		return cpuPlan{}, fmt.Errorf("auto needs at least 4 CPUs; this process may run on %d (%s)", n, formatCPUList(allowed))
	}
	half, quarter := n/2, n/4
	return cpuPlan{
		proxy: slices.Clone(allowed[:half]),
		load:  slices.Clone(allowed[half : half+quarter]),
		farm:  slices.Clone(allowed[half+quarter:]),
	}, nil
}

// allowedCPUs is the CPUs this process may run on (its affinity, which a
// cgroup cpuset or an outer taskset may have narrowed).
func allowedCPUs() ([]int, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil, fmt.Errorf("allowed CPUs: %w", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Cpus_allowed_list:"); ok {
			return parseCPUList(v)
		}
	}
	return nil, errors.New("allowed CPUs: no Cpus_allowed_list in /proc/self/status")
}

// cpuMask is the kernel's cpu_set_t.
type cpuMask [maxCPU / 64]uint64

// setAffinity pins thread tid (0: the calling thread) to cpus. It uses
// the raw system call, which the syscall package lacks a wrapper for.
func setAffinity(tid int, cpus []int) error {
	var m cpuMask
	for _, c := range cpus {
		m[c/64] |= 1 << (c % 64)
	}
	_, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, uintptr(tid), unsafe.Sizeof(m), uintptr(unsafe.Pointer(&m)))
	if e != 0 {
		return fmt.Errorf("sched_setaffinity %d %s: %w", tid, formatCPUList(cpus), e)
	}
	return nil
}

// getAffinity is the calling thread's CPU set.
func getAffinity() ([]int, error) {
	var m cpuMask
	_, _, e := syscall.RawSyscall(syscall.SYS_SCHED_GETAFFINITY, 0, unsafe.Sizeof(m), uintptr(unsafe.Pointer(&m)))
	if e != 0 {
		return nil, fmt.Errorf("sched_getaffinity: %w", e)
	}
	var cpus []int
	for c := 0; c < maxCPU; c++ {
		if m[c/64]&(1<<(c%64)) != 0 {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}

// pinSelf pins every thread of this process to cpus (threads created later
// inherit the set of the thread creating them) and sizes GOMAXPROCS to it.
// A thread may be created while the others are being pinned, from one not
// yet pinned: passes repeat until one finds no thread it had not pinned.
func pinSelf(cpus []int) error {
	done := map[string]bool{}
	for pass := 0; pass < 10; pass++ {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return fmt.Errorf("pin load generator: %w", err)
		}
		fresh := 0
		for _, t := range tasks {
			if done[t.Name()] {
				continue
			}
			tid, _ := strconv.Atoi(t.Name())
			if err := setAffinity(tid, cpus); err != nil && !errors.Is(err, syscall.ESRCH) { // ESRCH: the thread ended
				return fmt.Errorf("pin load generator: %w", err)
			}
			done[t.Name()] = true
			fresh++
		}
		if fresh == 0 {
			runtime.GOMAXPROCS(len(cpus))
			return nil
		}
	}
	return errors.New("pin load generator: threads kept appearing")
}

// startOn runs start (an exec.Cmd's Start) from an OS thread pinned to
// cpus, so that the child inherits the set from the fork; no cpus: as is.
// The thread gets its own set back before it serves other goroutines; it
// must not end instead, as a locked thread's goroutine returning would: a
// child with Pdeathsig is killed when the thread that forked it exits.
func startOn(cpus []int, start func() error) error {
	if len(cpus) == 0 {
		return start()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		own, err := getAffinity()
		if err != nil {
			errc <- err
			runtime.UnlockOSThread()
			return
		}
		if err := setAffinity(0, cpus); err != nil {
			errc <- err
			runtime.UnlockOSThread()
			return
		}
		err = start()
		if rerr := setAffinity(0, own); rerr != nil {
			// The thread keeps the child's set: leave it locked, and
			// (Pdeathsig) alive, parked for the rest of the run.
			errc <- errors.Join(err, rerr)
			select {}
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}
