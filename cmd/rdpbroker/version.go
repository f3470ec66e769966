package main

import (
	"fmt"
	"io"
	"runtime/debug"
)

// version is set at build time by the packages (-ldflags "-X
// main.version=1.2.3"); otherwise it comes from the build info.
var version = ""

// Version returns the program's version.
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

func cmdVersion(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintln(stderr, "usage: rdpbroker version")
		return 2
	}
	fmt.Fprintf(stdout, "rdpbroker %s\n", Version())
	return 0
}
