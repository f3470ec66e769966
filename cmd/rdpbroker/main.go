// Command rdpbroker is an RDP gateway: one TCP entry point that reads the
// first RDP packet, routes the login to a pool of terminal servers and
// splices the connection.
//
//	rdpbroker serve --config /etc/rdpbroker/rdpbroker.yaml [--pprof 127.0.0.1:6060]
//	rdpbroker check-config --config /etc/rdpbroker/rdpbroker.yaml
//	rdpbroker demo
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/rdpbroker/rdpbroker/appliance"
)

const usage = `usage:
  rdpbroker serve --config FILE [--pprof 127.0.0.1:PORT]
                                        run the broker (--pprof: Go's profiler, loopback only)
  rdpbroker check-config --config FILE  validate FILE, exit 1 on any problem
  rdpbroker demo [--listen ADDR]        run the broker on an embedded demo config with fake RDP servers
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "/etc/rdpbroker/rdpbroker.yaml", "configuration file")
	listen := fs.String("listen", "127.0.0.1:13389", "demo: client-facing address")
	pprof := fs.String("pprof", "", "serve: loopback address for Go's profiler (/debug/pprof/)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var err error
	switch cmd {
	case "serve":
		err = appliance.Serve(context.Background(), *config, appliance.ServeOptions{Pprof: *pprof}, stderr)
	case "check-config":
		err = appliance.CheckConfig(*config, stdout)
	case "demo":
		err = appliance.Demo(context.Background(), *listen, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "rdpbroker: unknown command %q\n%s", cmd, usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "rdpbroker %s: %v\n", cmd, err)
		return 1
	}
	return 0
}
