package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/rdpbroker/rdpbroker/appliance"
)

// cmdCheckConfig is `rdpbroker check-config --config FILE`: it validates
// FILE as serve would load it and prints a one-line summary, or every
// problem (unknown keys, wrong types, invalid values) one per line with its
// full key path, and exits 1.
func cmdCheckConfig(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", defaultConfigPath, "configuration file")
	if err := parseFlags(fs, args); err != nil {
		return 2
	}
	cfg, err := appliance.LoadConfig(*config)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	servers := 0
	for _, p := range cfg.Routing.Pools {
		servers += len(p.Servers)
	}
	fmt.Fprintf(stdout, "%s: OK (%d pools, %d servers, %d rules, default pool %q)\n",
		*config, len(cfg.Routing.Pools), servers, len(cfg.Routing.Rules), cfg.Routing.DefaultPool)
	return 0
}

// defaultConfigPath is where the packages install the configuration.
const defaultConfigPath = "/etc/rdpbroker/rdpbroker.yaml"

// parseFlags parses args with fs and refuses positional arguments: a
// command's flags are its own, and a stray word is a mistake.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected argument %q", fs.Arg(0))
		fmt.Fprintf(fs.Output(), "rdpbroker %s: %v\n", fs.Name(), err)
		fs.Usage()
		return err
	}
	return nil
}
