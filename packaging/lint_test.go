package packaging

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// testLintian: no error and no warning; the ones that cannot be avoided
// are overridden in lintian-overrides, each with its reason.
func testLintian(t *testing.T, deb string) {
	tmp := t.TempDir() // lintian leaves /tmp/mldbm-elf-* files behind
	out := cmd{name: "lintian", args: []string{"--no-cfg", deb}, env: []string{"TMPDIR=" + tmp}}.exec(t, 5*time.Minute)
	for _, line := range strings.Split(out.out, "\n") {
		if strings.HasPrefix(line, "E: ") || strings.HasPrefix(line, "W: ") {
			t.Errorf("lintian: %s", line)
		}
	}
	if out.err != nil {
		t.Errorf("lintian: %v\n%s", out.err, out.out)
	}
}

// rpmlintAllowed are the findings README.md lists with their reasons:
// errors only those a static Go binary and an unsigned package cannot avoid.
var rpmlintAllowed = map[string]bool{
	"E: statically-linked-binary":        true,
	"E: no-signature":                    true,
	"W: only-non-binary-in-usr-lib":      true,
	"W: no-manual-page-for-binary":       true,
	"W: manpage-not-compressed":          true,
	"W: invalid-license":                 true,
	"W: incoherent-version-in-changelog": true,
}

var rpmlintLine = regexp.MustCompile(`^rdpbroker\.x86_64: ([EW]: [a-z0-9-]+)`)

// testRpmlint runs rpmlint with the package's filters. Debian's rpmlint
// unpacks with `cpio -id`, which would write nfpm's absolute paths into
// the real /: a cpio wrapper first on PATH adds --no-absolute-filenames.
func testRpmlint(t *testing.T, rpm string) {
	tmp := t.TempDir()
	wrapper := filepath.Join(tmp, "bin")
	if err := os.MkdirAll(wrapper, 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\nexec /usr/bin/cpio --no-absolute-filenames \"$@\"\n"
	if err := os.WriteFile(filepath.Join(wrapper, "cpio"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	_, before := os.Stat("/usr/bin/rdpbroker")
	rcfile, err := filepath.Abs("rdpbroker.rpmlintrc")
	if err != nil {
		t.Fatal(err)
	}
	out := cmd{name: "rpmlint", args: []string{"-r", rcfile, rpm}, dir: tmp,
		env: []string{"TMPDIR=" + tmp, "PATH=" + wrapper + ":" + os.Getenv("PATH")}}.exec(t, 5*time.Minute)
	if _, after := os.Stat("/usr/bin/rdpbroker"); os.IsNotExist(before) && after == nil {
		t.Error("rpmlint unpacked the rpm into the real / (the cpio wrapper was not used)")
	}
	found := 0
	for _, line := range strings.Split(out.out, "\n") {
		m := rpmlintLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		found++
		if !rpmlintAllowed[m[1]] {
			t.Errorf("rpmlint: %s (not in the documented findings)", line)
		}
	}
	if found == 0 || !strings.Contains(out.out, "packages and 0 specfiles checked") {
		t.Errorf("rpmlint did not check the package (%v):\n%s", out.err, out.out)
	}
}
