package affinity

import (
	"bufio"
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Tests re-execute the test binary as a node process (persistence and
// replication tests) when this variable names a mode.
const childEnv = "AFFINITY_TEST_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
		code := m.Run()
		if bench1M.path != "" {
			os.RemoveAll(filepath.Dir(bench1M.path))
		}
		os.Exit(code)
	case "place":
		os.Exit(childPlace())
	case "node":
		os.Exit(childNode())
	default:
		fmt.Fprintln(os.Stderr, "unknown child mode")
		os.Exit(2)
	}
}

func childLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func childConfig() Config {
	cfg := DefaultConfig()
	if d, err := time.ParseDuration(os.Getenv("AFF_FLUSH")); err == nil {
		cfg.FlushInterval = d
	}
	return cfg
}

// childPlace places keys k0, k1, ... in a loop and prints "placed N"
// each time the first N are confirmed on disk, until killed (or a minute).
func childPlace() int {
	t, err := Open(os.Getenv("AFF_DB"), childConfig(), Options{Logger: childLogger(), Node: "placer"})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	deadline := time.Now().Add(time.Minute)
	for i := 0; time.Now().Before(deadline); {
		for j := 0; j < 25; j++ {
			t.Place("k"+strconv.Itoa(i), "srv"+strconv.Itoa(i%7))
			i++
		}
		if err := t.Flush(); err != nil {
			fmt.Println("error", err)
			return 1
		}
		fmt.Println("placed", i)
	}
	return 0
}

// childNode is one broker node driven by commands on stdin (see below);
// it answers each command with one line (dump: several, ending "end").
func childNode() int {
	logger := childLogger().With("node", os.Getenv("AFF_NODE"))
	t, err := Open(os.Getenv("AFF_DB"), childConfig(), Options{Logger: logger, Node: os.Getenv("AFF_NODE")})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Println("loaded", t.Len())
	pc := DefaultPeersConfig()
	pc.Listen = os.Getenv("AFF_LISTEN")
	pc.Members = strings.Split(os.Getenv("AFF_MEMBERS"), ",")
	pc.SecretFile = os.Getenv("AFF_SECRET")
	pc.PushPullInterval = 2 * time.Second
	pc.JoinRetryInterval = time.Second
	var r *Replicator
	start := func() {
		if r, err = StartReplication(context.Background(), t, pc, logger); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("ready", len(r.Members()))
	}
	if os.Getenv("AFF_NOJOIN") == "" {
		start()
	} else {
		fmt.Println("alone")
	}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "place": // place prefix from to server
			from, _ := strconv.Atoi(f[2])
			to, _ := strconv.Atoi(f[3])
			for i := from; i < to; i++ {
				t.Place(f[1]+strconv.Itoa(i), f[4])
			}
			fmt.Println("ok")
		case "delete":
			t.Delete(f[1])
			fmt.Println("ok")
		case "get":
			s, ok := t.Lookup(f[1])
			fmt.Println("get", f[1], s, ok)
		case "flush":
			fmt.Println("flushed", t.Flush())
		case "replicate":
			start()
		case "members":
			fmt.Println("members", strings.Join(r.Members(), ","))
		case "sum":
			fmt.Println("sum", dumpSum(t))
		case "dump":
			for _, e := range t.List(Filter{Tombstones: true}) {
				fmt.Println("e", dumpLine(e))
			}
			fmt.Println("end")
		case "quit":
			if r != nil {
				r.Close()
			}
			t.Close()
			fmt.Println("bye")
			return 0
		}
	}
	return 0
}

func dumpLine(e Entry) string {
	return fmt.Sprintf("%s %s %v %d %d %s", e.Key, e.Server, e.Deleted, e.Version.Wall, e.Version.Logical, e.Version.Node)
}

// dumpSum is a hash of the whole table and its size.
func dumpSum(t *Table) string {
	h := fnv.New64a()
	es := t.List(Filter{Tombstones: true})
	for _, e := range es {
		fmt.Fprintln(h, dumpLine(e))
	}
	return fmt.Sprintf("%x %d", h.Sum64(), len(es))
}
