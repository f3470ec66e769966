// Command rdpbroker is an RDP gateway: one TCP entry point that reads the
// first RDP packet, routes the login to a pool of terminal servers and
// splices the connection.
//
//	rdpbroker serve --config /etc/rdpbroker/rdpbroker.yaml
//	rdpbroker check-config --config /etc/rdpbroker/rdpbroker.yaml
//	rdpbroker demo
//	rdpbroker import haproxy --config haproxy.cfg --out rdpbroker.yaml
//
// One file per subcommand, each with its own flag set; this file only
// dispatches.
package main

import (
	"fmt"
	"io"
	"os"
)

const usage = `usage: rdpbroker COMMAND [flags]

commands:
  serve --config FILE          run the broker (SIGHUP reloads, SIGTERM stops gracefully)
  check-config --config FILE   validate FILE: every problem, one per line; exit 1 on any
  demo [--listen ADDR]         the broker on an embedded demo config with fake RDP servers
  import haproxy --config haproxy.cfg --out rdpbroker.yaml [--acl-root DIR]
         [--table FILE | --stats-socket PATH] [--state-dir DIR]
                               translate an HAProxy RDP setup and seed affinity from its stick table
  ctl [--socket PATH] [--json] COMMAND
                               operate the running broker over admin.socket: status, servers,
                               drain, maint, enable, weight, sessions, kill, affinity, route
                               explain, sync now, reload, upgrade ('rdpbroker ctl' lists them)
  version                      print the version (also --version)

Run 'rdpbroker COMMAND --help' for a command's flags.
`

// command runs one subcommand with its arguments; it returns the exit
// status: 0 done, 1 failed, 2 usage.
type command func(args []string, stdout, stderr io.Writer) int

var commands = map[string]command{
	"serve":        cmdServe,
	"check-config": cmdCheckConfig,
	"demo":         cmdDemo,
	"import":       cmdImport,
	"ctl":          cmdCtl,
	"version":      cmdVersion,
	"--version":    cmdVersion,
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "rdpbroker: unknown command %q\n%s", args[0], usage)
		return 2
	}
	return cmd(args[1:], stdout, stderr)
}

// exitErr prints err for cmd and returns the exit status for it.
func exitErr(stderr io.Writer, cmd string, err error) int {
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "rdpbroker %s: %v\n", cmd, err)
	return 1
}
