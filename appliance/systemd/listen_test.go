package systemd_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/appliance/systemd"
	"github.com/rdpbroker/rdpbroker/appliance/systemd/sdtest"
)

const childEnv = "SYSTEMD_TEST_ACTIVATION_CHILD"

// TestActivationChild is the socket-activated process of
// TestSocketActivation (this test binary re-executed); it is skipped in a
// normal run. It reports on stdout what Listeners found, then serves one
// TCP client and echoes one UDP datagram on the sockets it was passed.
func TestActivationChild(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		t.Skip("the child half of TestSocketActivation")
	}
	act, err := systemd.Listeners("client")
	report := func(k, v string) { fmt.Printf("sdchild %s %s\n", k, v) }
	report("err", fmt.Sprint(err))
	report("client", fmt.Sprint(act.Client.Addr()))
	for _, l := range act.Listeners {
		report("listener", l.Name+"="+l.Addr().String())
	}
	for _, p := range act.PacketConns {
		report("packet", p.Name+"="+p.LocalAddr().String())
	}
	for _, k := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		if v, ok := os.LookupEnv(k); ok {
			report("env", k+"="+v)
		}
	}
	// As the upgraded process would: announce itself as the main pid.
	if err := systemd.New(systemd.Options{}).TakeOver(); err != nil {
		t.Fatal(err)
	}
	report("ready", "")
	c, err := act.Client.Accept()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "hello %d\n", os.Getpid())
	c.Close()
	buf := make([]byte, 64)
	pc := act.PacketConns[0]
	k, from, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.WriteTo(append([]byte("echo:"), buf[:k]...), from); err != nil {
		t.Fatal(err)
	}
}

// sockets opens what systemd would pass, in LISTEN_FDS order: an admin
// listener, a UDP socket, a pipe (neither kind: must be reported), and the
// client listener named "client" last, so the name, not the position,
// picks it.
func sockets(t *testing.T) (names []string, files []*os.File, admin, udp, client string) {
	t.Helper()
	add := func(name string, f *os.File, err error) {
		if err != nil {
			t.Fatal(err)
		}
		names, files = append(names, name), append(files, f)
	}
	a, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	f, err := a.File()
	add("admin", f, err)
	u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	f, err = u.File()
	add("rdp-udp", f, err)
	r, w, err := os.Pipe()
	add("junk", r, err)
	w.Close()
	c, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f, err = c.File()
	add("client", f, err)
	return names, files, a.Addr().String(), u.LocalAddr().String(), c.Addr().String()
}

// startChild runs TestActivationChild socket-activated, in its own process
// group, killed when the test ends; it returns the child's report.
func startChild(t *testing.T, env []string, names []string, files []*os.File) (*exec.Cmd, map[string][]string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestActivationChild$", "-test.count=1")
	cmd.Env = append(append(os.Environ(), childEnv+"=1"), env...)
	sdtest.Activate(cmd, names, files...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	for _, f := range files {
		f.Close() // the child holds the only copies now
	}
	reportc := make(chan map[string][]string, 1)
	go func() { reportc <- readReport(out) }()
	select {
	case r := <-reportc:
		return cmd, r
	case <-time.After(30 * time.Second):
		t.Fatal("the activated child did not report within 30s")
	}
	return nil, nil
}

func readReport(out io.Reader) map[string][]string {
	r := make(map[string][]string)
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "sdchild ")
		if !ok {
			continue
		}
		k, v, _ := strings.Cut(rest, " ")
		if k == "ready" {
			go io.Copy(io.Discard, out)
			return r
		}
		r[k] = append(r[k], v)
	}
	return r
}

func TestSocketActivation(t *testing.T) {
	sock := sdtest.Listen(t)
	names, files, admin, udp, client := sockets(t)
	cmd, rep := startChild(t, []string{sock.Env()}, names, files)

	want := map[string]string{
		"client":   client,
		"listener": "admin=" + admin,
		"packet":   "rdp-udp=" + udp,
	}
	for k, v := range want {
		if got := rep[k]; len(got) != 1 || got[0] != v {
			t.Errorf("child %s = %q, want [%q]", k, got, v)
		}
	}
	if env := rep["env"]; len(env) != 0 {
		t.Errorf("LISTEN_* left in the child's environment: %q", env)
	}
	if e := strings.Join(rep["err"], ""); !strings.Contains(e, `descriptor 5 ("junk")`) || !strings.Contains(e, "neither") {
		t.Errorf("error for the pipe = %q", e)
	}

	// The sockets serve in the child, which is the pid LISTEN_PID named.
	c, err := net.DialTimeout("tcp", client, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if want := "hello " + strconv.Itoa(cmd.Process.Pid) + "\n"; line != want {
		t.Fatalf("client listener answered %q, want %q", line, want)
	}
	u, err := net.Dial("udp", udp)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	u.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := u.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, err := u.Read(buf)
	if err != nil || string(buf[:n]) != "echo:ping" {
		t.Fatalf("UDP echo = %q, %v", buf[:n], err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}

	// Its notification came from its own pid, MAINPID first.
	m, err := sock.WaitState(5*time.Second, "READY=1")
	if err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	if want := fmt.Sprintf("MAINPID=%d\nREADY=1", pid); m.State != want || m.PID != pid {
		t.Fatalf("child notified %q from pid %d, want %q from pid %d", m.State, m.PID, want, pid)
	}
}

// Variables meant for another process (LISTEN_PID not ours) are ignored,
// and unset all the same.
func TestListenersNotForUs(t *testing.T) {
	cases := map[string][3]string{
		"not activated":        {"", "", ""},
		"another pid":          {strconv.Itoa(os.Getpid() + 1), "2", "client:admin"},
		"pid but no fds":       {strconv.Itoa(os.Getpid()), "0", ""},
		"malformed LISTEN_FDS": {strconv.Itoa(os.Getpid()), "x", ""},
	}
	for name, env := range cases {
		t.Run(name, func(t *testing.T) {
			for i, k := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
				t.Setenv(k, env[i])
			}
			act, err := systemd.Listeners("client")
			if err != nil || act.Client != nil || len(act.Listeners) != 0 || len(act.PacketConns) != 0 {
				t.Fatalf("Listeners() = %+v, %v; want nothing", act, err)
			}
			for _, k := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
				if v, ok := os.LookupEnv(k); ok {
					t.Errorf("%s=%q left in the environment", k, v)
				}
			}
		})
	}
}
