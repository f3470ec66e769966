package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// cpuTime is CPU time in seconds, split the way the kernel accounts it:
// user is the process's own code (utime), sys the kernel working on its
// behalf (stime: syscalls, and for a proxy most of the TCP stack). A proxy
// that copies with splice(2) and one that copies with recv/send differ in
// where their time goes as much as in how much there is.
type cpuTime struct{ user, sys float64 }

func (c cpuTime) total() float64 { return c.user + c.sys }

func (c cpuTime) sub(o cpuTime) cpuTime { return cpuTime{c.user - o.user, c.sys - o.sys} }

// procCPU reads the CPU time of pid from /proc (zero when it cannot).
func procCPU(pid int) cpuTime {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return cpuTime{}
	}
	return parseStat(string(b))
}

// parseStat takes utime and stime (fields 14 and 15, in clock ticks) from
// the text of /proc/PID/stat. The command name, field 2, is in parentheses
// and may itself hold spaces and parentheses, so fields count from the last
// ')'.
func parseStat(s string) cpuTime {
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 > len(s) {
		return cpuTime{}
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return cpuTime{}
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	const userHZ = 100 // USER_HZ: /proc reports in it, and it is 100 on Linux
	return cpuTime{user: ut / userHZ, sys: st / userHZ}
}

// procRSS reads VmRSS of pid from /proc, in bytes.
func procRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// procFDs counts the open file descriptors of pid.
func procFDs(pid int) int {
	es, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0
	}
	return len(es)
}

// procSwitches sums the context switches (voluntary and involuntary) of
// every live thread of pid.
func procSwitches(pid int) int64 {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0
	}
	var n int64
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, task.Name()))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "voluntary_ctxt_switches:"); ok {
				k, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				n += k
			} else if v, ok := strings.CutPrefix(l, "nonvoluntary_ctxt_switches:"); ok {
				k, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				n += k
			}
		}
	}
	return n
}
