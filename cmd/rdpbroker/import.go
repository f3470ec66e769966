package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/rdpbroker/rdpbroker/appliance/migrate"
)

// cmdImport is `rdpbroker import haproxy --config haproxy.cfg [--acl-root
// DIR] [--table FILE | --stats-socket PATH] --out rdpbroker.yaml
// [--state-dir DIR] [--known-logins FILE] [--whole-logins]`: it translates the HAProxy
// configuration (logins files go to a "logins" directory next to --out),
// checks the result as check-config does, seeds the affinity store of
// --state-dir from the stick table, and prints every warning and a
// summary. Exit 0 done, 1 failure, 2 usage.
func cmdImport(args []string, stdout, stderr io.Writer) int {
	const usage = "usage: rdpbroker import haproxy --config haproxy.cfg [--acl-root DIR] [--table FILE | --stats-socket PATH] --out rdpbroker.yaml [--state-dir DIR] [--known-logins FILE] [--whole-logins]\n"
	if len(args) == 0 || args[0] != "haproxy" {
		fmt.Fprint(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("import haproxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "HAProxy configuration to translate (required)")
	aclRoot := fs.String("acl-root", "", "where to look for -f files whose paths do not exist here (a copy of the old server's files)")
	table := fs.String("table", "", "file holding a show table dump to seed affinity from")
	socket := fs.String("stats-socket", "", "HAProxy's stats socket to read the stick tables from, live")
	outPath := fs.String("out", "", "rdpbroker configuration to write (required); logins files go to its directory's logins/")
	stateDir := fs.String("state-dir", "/var/lib/rdpbroker", "rdpbroker state directory: state_dir, and where affinity is seeded")
	known := fs.String("known-logins", "", "file of logins, one per line (e.g. every AD user name): stick keys cut by bytes(0,N) are seeded for those they start")
	whole := fs.Bool("whole-logins", false, "compare whole logins where HAProxy compared a bytes(0,N) prefix")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *config == "" || *outPath == "" || (*table != "" && *socket != "") || fs.NArg() > 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	req := migrate.Request{Config: *config, ACLRoot: *aclRoot, Table: *table, StatsSocket: *socket,
		Out: *outPath, StateDir: *stateDir, WholeLogins: *whole, KnownLogins: *known}
	if err := migrate.Import(context.Background(), req, stdout); err != nil {
		fmt.Fprintf(stderr, "rdpbroker import: %v\n", err)
		return 1
	}
	return 0
}
