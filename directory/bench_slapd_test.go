package directory

// BenchmarkSyncLargeDirectory: one full sync of a large directory served
// by OpenLDAP slapd (loaded with slapadd) with the AD-like schema in
// testdata/slapd: 100,000 users (2% disabled) in 1,000 groups (three
// groups per user, the first 100 groups nesting the next 100), every group
// configured. slapd has no LDAP_MATCHING_RULE_IN_CHAIN, so this measures
// the walk method (member with range retrieval + batched lookups) plus the
// all-users index: the slow path. Reports seconds per sync and peak memory
// (Go heap, and process RSS above the pre-sync baseline).
//
//	go test -run '^$' -bench SyncLargeDirectory -benchtime 1x ./directory/
//
// RDPBROKER_BENCH_USERS / RDPBROKER_BENCH_GROUPS change the size.

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

const benchBase = "DC=corp,DC=example,DC=test"

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func BenchmarkSyncLargeDirectory(b *testing.B) {
	if _, err := exec.LookPath("slapd"); err != nil {
		if _, err := os.Stat("/usr/sbin/slapd"); err != nil {
			b.Skip("slapd not installed (scripts/install-bench-deps.sh)")
		}
	}
	users, groups := envInt("RDPBROKER_BENCH_USERS", 100_000), envInt("RDPBROKER_BENCH_GROUPS", 1000)
	dir := b.TempDir()
	t0 := time.Now()
	addr := startSlapd(b, dir, users, groups)
	b.Logf("slapd loaded with %d users, %d groups in %v", users, groups, time.Since(t0).Round(time.Millisecond))

	cfg := DefaultConfig()
	cfg.URLs = []string{"ldap://" + addr}
	cfg.AllowPlain = true
	cfg.BindDN = "CN=admin," + benchBase
	cfg.BindPasswordFile = filepath.Join(dir, "pw")
	os.WriteFile(cfg.BindPasswordFile, []byte("secret"), 0o600)
	cfg.BaseDN = benchBase
	cfg.Method = MethodWalk
	cfg.PageSize = 1000
	cfg.Groups = make(map[string]string, groups)
	for g := range groups {
		cfg.Groups[fmt.Sprintf("g%04d", g)] = fmt.Sprintf("CN=g%04d,CN=Groups,%s", g, benchBase)
	}
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	s := NewSyncer(cfg, Options{Logger: slog.New(slog.DiscardHandler)})

	runtime.GC()
	debug.FreeOSMemory()
	baseRSS := rssBytes()
	var peakHeap, peakRSS atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if h := ms.HeapInuse + ms.StackInuse; h > peakHeap.Load() {
				peakHeap.Store(h)
			}
			if r := rssBytes(); r > peakRSS.Load() {
				peakRSS.Store(r)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	b.ResetTimer()
	for b.Loop() {
		if err := s.Sync(context.Background(), false); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	close(stop)
	<-sampled
	st := s.Status()
	if st.Users < users*9/10 || len(st.Groups) != groups {
		b.Fatalf("synced %d users, %d groups; want ~%d, %d", st.Users, len(st.Groups), users, groups)
	}
	// The walk must find exactly the generated members of a group.
	g := groups - 1
	want := 0
	for i := range users {
		if i%50 != 0 && (i%groups == g || (7*i+3)%groups == g || (13*i+5)%groups == g) {
			want++
		}
	}
	if got := st.Groups[fmt.Sprintf("g%04d", g)].Members; got != want {
		b.Fatalf("group g%04d: %d members, want %d", g, got, want)
	}
	b.ReportMetric(st.LastDuration.Seconds(), "s/sync")
	b.ReportMetric(float64(peakHeap.Load())/(1<<20), "MB-peak-heap")
	b.ReportMetric(float64(peakRSS.Load()-min(baseRSS, peakRSS.Load()))/(1<<20), "MB-peak-rss-delta")
	b.ReportMetric(float64(peakRSS.Load())/(1<<20), "MB-peak-rss")
	b.ReportMetric(float64(st.Users), "users")
}

// rssBytes is this process's resident set size.
func rssBytes() uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// startSlapd writes the configuration and the LDIF, loads it with
// slapadd, starts slapd on a free loopback port (own process group,
// killed at cleanup) and waits until it accepts connections.
func startSlapd(b *testing.B, dir string, users, groups int) string {
	schema, err := filepath.Abs("testdata/slapd/ad-lite.schema")
	if err != nil {
		b.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "db"), 0o700)
	rootDSE := filepath.Join(dir, "rootdse.ldif")
	os.WriteFile(rootDSE, []byte("dn:\ndefaultNamingContext: "+benchBase+"\nconfigurationNamingContext: CN=Configuration,"+benchBase+"\n"), 0o600)
	conf := filepath.Join(dir, "slapd.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(`include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include %s
pidfile %s/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
rootDSE %s
sizelimit unlimited
database mdb
maxsize 8589934592
suffix "%s"
rootdn "CN=admin,%s"
rootpw secret
directory %s/db
index objectClass,objectCategory,sAMAccountName,distinguishedName eq
`, schema, dir, rootDSE, benchBase, benchBase, dir)), 0o600)

	ldif := filepath.Join(dir, "data.ldif")
	writeBenchLDIF(b, ldif, users, groups)
	if out, err := exec.Command("slapadd", "-q", "-f", conf, "-l", ldif).CombinedOutput(); err != nil {
		b.Fatalf("slapadd: %v\n%s", err, out)
	}
	os.Remove(ldif)

	addr := rdptest.FreeAddr(b)
	cmd := exec.Command("slapd", "-d", "0", "-f", conf, "-h", "ldap://"+addr+"/")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{}) // closed once cmd.Wait returned waitErr
	go func() { waitErr = cmd.Wait(); close(exited) }()
	b.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	})
	rdptest.Eventually(b, 30*time.Second, "slapd to accept connections", func() bool {
		select {
		case <-exited:
			b.Fatalf("slapd exited: %v", waitErr)
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return addr
}

// writeBenchLDIF writes the benchmark directory: user i is in groups
// i%G, (7i+3)%G and (13i+5)%G; groups 0..99 contain groups 100..199.
func writeBenchLDIF(b *testing.B, path string, users, groups int) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintf(w, "dn: %s\nobjectClass: top\nobjectClass: dcObject\nobjectClass: organization\ndc: corp\no: corp\n\n", benchBase)
	for _, cn := range []string{"Configuration", "Users", "Groups"} {
		fmt.Fprintf(w, "dn: CN=%s,%s\nobjectClass: adContainer\ncn: %s\n\n", cn, benchBase, cn)
	}
	fmt.Fprintf(w, "dn: CN=Partitions,CN=Configuration,%s\nobjectClass: adContainer\ncn: Partitions\n\n", benchBase)
	fmt.Fprintf(w, "dn: CN=CORP,CN=Partitions,CN=Configuration,%s\nobjectClass: crossRef\ncn: CORP\nnETBIOSName: CORP\ndnsRoot: corp.example.test\nnCName: %s\n\n", benchBase, benchBase)
	members := make([][]int, groups)
	for i := range users {
		for _, g := range []int{i % groups, (7*i + 3) % groups, (13*i + 5) % groups} {
			members[g] = append(members[g], i)
		}
		uac := 512
		if i%50 == 0 {
			uac = 514
		}
		dn := fmt.Sprintf("CN=u%06d,CN=Users,%s", i, benchBase)
		fmt.Fprintf(w, "dn: %s\nobjectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\nobjectClass: inetOrgPerson\nobjectClass: user\ncn: u%06d\nsn: u%06d\nsAMAccountName: u%06d\nuserPrincipalName: u%06d@corp.example.test\nuserAccountControl: %d\nobjectCategory: person\ndistinguishedName: %s\n\n",
			dn, i, i, i, i, uac, dn)
	}
	for g := range groups {
		dn := fmt.Sprintf("CN=g%04d,CN=Groups,%s", g, benchBase)
		fmt.Fprintf(w, "dn: %s\nobjectClass: top\nobjectClass: group\ncn: g%04d\nsAMAccountName: g%04d\nobjectCategory: group\ndistinguishedName: %s\n", dn, g, g, dn)
		for _, i := range members[g] {
			fmt.Fprintf(w, "member: CN=u%06d,CN=Users,%s\n", i, benchBase)
		}
		if g < 100 && g+100 < groups {
			fmt.Fprintf(w, "member: CN=g%04d,CN=Groups,%s\n", g+100, benchBase)
		}
		w.WriteString("\n")
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
}
