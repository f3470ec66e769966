package main

import (
	"context"
	"flag"
	"io"
)

// cmdServe is `rdpbroker serve --config FILE`: the broker as a service
// (see service.go): SIGHUP reloads the file (a bad file is refused and the
// running configuration kept), SIGUSR1 logs the state, SIGTERM and SIGINT
// stop it gracefully.
func cmdServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", defaultConfigPath, "configuration file")
	if err := parseFlags(fs, args); err != nil {
		return 2
	}
	return exitErr(stderr, "serve", runService(context.Background(), *config, stderr, nil))
}
