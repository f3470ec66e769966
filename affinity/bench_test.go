package affinity

import (
	"context"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

// lookupTable is an in-memory table of 100k placed keys, and the keys.
func lookupTable(b *testing.B) (*Table, []string) {
	tb, err := Open("", DefaultConfig(), Options{Node: "a"})
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]string, 100000)
	for i := range keys {
		keys[i] = "user" + strconv.Itoa(i) + "@corp.example"
		tb.Place(keys[i], "ts"+strconv.Itoa(i%20))
	}
	return tb, keys
}

func BenchmarkLookup(b *testing.B) {
	tb, keys := lookupTable(b)
	defer tb.Close()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, ok := tb.Lookup(keys[i%len(keys)]); !ok {
				b.Fatal("miss")
			}
			i++
		}
	})
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)*float64(runtime.GOMAXPROCS(0)), "ns/lookup/core")
}

var bench1M struct {
	once sync.Once
	path string
	err  error
}

// build1M writes a store of 1M entries once per benchmark run.
func build1M(b *testing.B) string {
	bench1M.once.Do(func() {
		dir, err := mkdirTemp()
		if err != nil {
			bench1M.err = err
			return
		}
		bench1M.path = filepath.Join(dir, "affinity.db")
		tb, err := Open(bench1M.path, DefaultConfig(), Options{Node: "a"})
		if err != nil {
			bench1M.err = err
			return
		}
		for i := range 1_000_000 {
			tb.Place("user"+strconv.Itoa(i)+"@corp.example", "ts"+strconv.Itoa(i%20))
		}
		bench1M.err = tb.Close()
	})
	if bench1M.err != nil {
		b.Fatal(bench1M.err)
	}
	return bench1M.path
}

func BenchmarkRestartLoad1M(b *testing.B) {
	path := build1M(b)
	b.ResetTimer()
	var st Stats
	for range b.N {
		var ms0, ms1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms0)
		tb, err := Open(path, DefaultConfig(), Options{Node: "a"})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&ms1)
		st = tb.Stats()
		if st.Entries != 1_000_000 {
			b.Fatalf("loaded %d", st.Entries)
		}
		b.ReportMetric(float64(ms1.HeapAlloc-ms0.HeapAlloc)/1e6, "heap-bytes/entry")
		runtime.KeepAlive(tb)
		tb.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/load")
	b.ReportMetric(float64(st.StoreBytes)/1e6, "disk-bytes/entry")
}

func BenchmarkPlacePersisted(b *testing.B) {
	tb, err := Open(filepath.Join(b.TempDir(), "affinity.db"), DefaultConfig(), Options{Node: "a"})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		tb.Place("user"+strconv.Itoa(i), "ts"+strconv.Itoa(i%20))
	}
	if err := tb.Flush(); err != nil { // the placements are on disk
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "placements/s")
	tb.Close()
}

// BenchmarkReplicationDelay: two tables with memberlist on loopback; the
// time from Place on one to Lookup success on the other.
func BenchmarkReplicationDelay(b *testing.B) {
	dir := b.TempDir()
	secret := writeSecret(b, dir, "secret", 7)
	addrs := []string{rdptest.FreeTCPUDPAddr(b), rdptest.FreeTCPUDPAddr(b)}
	var tabs []*Table
	for i, name := range []string{"a", "b"} {
		tb, err := Open(filepath.Join(dir, name+".db"), DefaultConfig(), Options{Node: name})
		if err != nil {
			b.Fatal(err)
		}
		pc := DefaultPeersConfig()
		pc.Listen, pc.Members, pc.SecretFile = addrs[i], addrs[:1], secret
		r, err := StartReplication(context.Background(), tb, pc, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer tb.Close()
		defer r.Close()
		tabs = append(tabs, tb)
	}
	tabs[0].Place("warm", "s")
	rdptest.Eventually(b, 10*time.Second, "replication", func() bool { _, ok := tabs[1].Lookup("warm"); return ok })
	b.ResetTimer()
	delays := make([]time.Duration, 0, b.N)
	for i := range b.N {
		key := "k" + strconv.Itoa(i)
		start := time.Now()
		tabs[0].Place(key, "s1")
		for {
			if _, ok := tabs[1].Lookup(key); ok {
				break
			}
			if time.Since(start) > 5*time.Second {
				b.Fatalf("%s not replicated within 5s", key)
			}
			runtime.Gosched()
		}
		delays = append(delays, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(delays)
	b.ReportMetric(float64(delays[len(delays)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(delays[len(delays)*99/100].Microseconds())/1000, "p99-ms")
}

func BenchmarkLookupSerial(b *testing.B) {
	tb, keys := lookupTable(b)
	defer tb.Close()
	b.ResetTimer()
	for i := range b.N {
		if _, ok := tb.Lookup(keys[i%len(keys)]); !ok {
			b.Fatal("miss")
		}
	}
}
