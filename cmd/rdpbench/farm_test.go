package main

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

// TestMain lets the test binary be its own farm child, as rdpbench is:
// startFarmChild re-executes os.Executable.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == farmChildArg {
		os.Exit(runFarmChild(os.Args[2:]))
	}
	os.Exit(m.Run())
}

// dialFarm checks that every address answers like a farm server.
func dialFarm(t *testing.T, addrs []string) {
	t.Helper()
	for _, a := range addrs {
		c, _, err := rdptest.Dial(a, "idle00001", 2*time.Second)
		if err != nil {
			t.Fatalf("farm server %s: %v", a, err)
		}
		c.Close()
	}
}

func TestFarmChildStopsOnEOFOrSignal(t *testing.T) {
	tests := []struct {
		name string
		end  func(stdin io.Closer, stop chan<- os.Signal)
	}{
		{"stdin EOF", func(stdin io.Closer, _ chan<- os.Signal) { stdin.Close() }},
		{"signal", func(_ io.Closer, stop chan<- os.Signal) { stop <- os.Interrupt }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inR, inW := io.Pipe()
			outR, outW := io.Pipe()
			stop := make(chan os.Signal, 1)
			done := make(chan error, 1)
			go func() { done <- farmChild(3, inR, outW, stop) }()
			line, err := bufio.NewReader(outR).ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			addrs := strings.Fields(line)
			if len(addrs) != 3 {
				t.Fatalf("addresses %q, want 3", line)
			}
			dialFarm(t, addrs)
			tc.end(inW, stop)
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(3 * time.Second):
				t.Fatal("farm child still serving")
			}
			if c, _, err := rdptest.Dial(addrs[0], "x", time.Second); err == nil {
				c.Close()
				t.Fatal("farm still listening after it returned")
			}
		})
	}
}

func TestFarmChildRejectsBadCount(t *testing.T) {
	if err := farmChild(0, strings.NewReader(""), io.Discard, nil); err == nil {
		t.Fatal("0 servers accepted")
	}
}

func TestStartFarmChild(t *testing.T) {
	f, err := startFarmChild(2, filepath.Join(t.TempDir(), "farm.log"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	if len(f.addrs) != 2 || f.srvs != nil || f.child == nil {
		t.Fatalf("farm %+v", f)
	}
	live.Lock()
	_, registered := live.procs[f.child]
	live.Unlock()
	if !registered {
		t.Error("the farm child is not in live: stopAll would miss it")
	}
	dialFarm(t, f.addrs)
	f.close()
	if st := f.child.cmd.ProcessState; st == nil || !st.Exited() || st.ExitCode() != 0 {
		t.Errorf("farm child after close: %v; want a clean exit on SIGTERM", st)
	}
	if c, _, err := rdptest.Dial(f.addrs[0], "x", time.Second); err == nil {
		c.Close()
		t.Fatal("farm child still listening after close")
	}
	f.close() // twice is fine
}
