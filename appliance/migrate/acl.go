package migrate

import (
	"bytes"
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
)

// aclKind is what an ACL tests, as far as rdpbroker rules can express it.
type aclKind int

const (
	kindOther   aclKind = iota // not expressible; why says what
	kindLogin                  // the mstshash cookie against logins
	kindNetwork                // the client address against networks
	kindCookie                 // RDP_COOKIE: any cookie
	kindTrue                   // always true
	kindFalse                  // always false
)

// aclDef is one acl line (an ACL name may have several: they are ORed),
// or an anonymous { ... } ACL.
type aclDef struct {
	name     string
	line     int
	text     string // the criterion and flags as written, for messages
	kind     aclKind
	why      string // kindOther: why it cannot be translated
	truncate int    // bytes(0,N): N
	icase    bool
	files    []string // -f files as written
	entries  []string // values, then the files' patterns, in order
	outFile  string   // generated logins file name, once written
	reported bool     // its differences were reported
}

// predefined are HAProxy's predefined ACLs that can appear in an RDP
// frontend.
func predefined(name string, line int) *aclDef {
	switch name {
	case "RDP_COOKIE":
		return &aclDef{name: name, line: line, text: name, kind: kindCookie}
	case "TRUE":
		return &aclDef{name: name, line: line, text: name, kind: kindTrue}
	case "FALSE":
		return &aclDef{name: name, line: line, text: name, kind: kindFalse}
	case "LOCALHOST":
		return &aclDef{name: name, line: line, text: name, kind: kindNetwork, entries: []string{"127.0.0.0/8"}}
	}
	return nil
}

// acl parses an acl line and reads its -f files.
func (t *translator) acl(d Directive) error {
	args := d.Args()
	if len(args) < 2 {
		t.ws.warn(d.Line, "%q: incomplete acl: ignored", d.String())
		return nil
	}
	def, err := t.parseACL(args[0], args[1:], d.Line)
	if err != nil {
		return err
	}
	t.acls[args[0]] = append(t.acls[args[0]], def)
	return nil
}

// parseACL parses "CRITERION [flags] [values]" and reads the -f files.
func (t *translator) parseACL(name string, words []string, line int) (*aclDef, error) {
	def := &aclDef{name: name, line: line, text: strings.Join(words, " ")}
	def.kind, def.truncate, def.icase, def.why = criterion(words[0])
	method := ""
	i := 1
flags:
	for ; i < len(words); i++ {
		switch w := words[i]; w {
		case "-i":
			def.icase = true
		case "-f", "-m", "-u", "-M":
			if i+1 >= len(words) {
				return nil, fmt.Errorf("migrate: %s:%d: %w: %s needs an argument", t.cfg.File, line, ErrTranslate, w)
			}
			i++
			switch w {
			case "-f":
				def.files = append(def.files, words[i])
			case "-m":
				method = words[i]
			}
		case "-n":
		case "--":
			i++
			break flags
		default:
			break flags
		}
	}
	def.entries = append(def.entries, words[i:]...)
	switch {
	case def.kind == kindLogin && method != "" && method != "str":
		def.kind, def.why = kindOther, fmt.Sprintf("-m %s (rdpbroker compares whole logins only)", method)
	case def.kind == kindNetwork && method != "" && method != "ip":
		def.kind, def.why = kindOther, fmt.Sprintf("-m %s on src", method)
	}
	for _, f := range def.files {
		pats, err := t.readPatterns(f, line)
		if err != nil {
			return nil, err
		}
		def.entries = append(def.entries, pats...)
	}
	if def.kind == kindLogin {
		for _, e := range def.entries {
			t.known[strings.ToLower(strings.TrimSpace(e))] = true
		}
	}
	return def, nil
}

// criterion classifies a sample fetch with its converters.
func criterion(c string) (kind aclKind, truncate int, icase bool, why string) {
	parts := splitConverters(c)
	switch f := strings.ToLower(parts[0]); f {
	case "rdp_cookie(mstshash)", "req.rdp_cookie(mstshash)", "req_rdp_cookie(mstshash)":
		kind = kindLogin
	case "src":
		kind = kindNetwork
	case "always_true":
		return kindTrue, 0, false, ""
	case "always_false":
		return kindFalse, 0, false, ""
	default:
		return kindOther, 0, false, fmt.Sprintf("sample fetch %s (rules match logins, client networks, collections and times)", parts[0])
	}
	for _, conv := range parts[1:] {
		switch {
		case kind == kindLogin && (conv == "lower" || conv == "upper"):
			icase = true
		case kind == kindLogin && strings.HasPrefix(conv, "bytes(0,") && strings.HasSuffix(conv, ")"):
			n, err := strconv.Atoi(conv[len("bytes(0,") : len(conv)-1])
			if err != nil || n <= 0 {
				return kindOther, 0, false, "converter " + conv
			}
			truncate = n
		default:
			return kindOther, 0, false, "converter " + conv
		}
	}
	return kind, truncate, icase, ""
}

// splitConverters splits "fetch(a,b),conv1(x),conv2" at the commas
// outside parentheses.
func splitConverters(s string) []string {
	var parts []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}

// readPatterns reads an HAProxy pattern file the way HAProxy does: one
// pattern per line, leading blanks skipped, empty and '#' lines ignored.
// A path that does not exist here is looked for under Options.ACLRoot.
func (t *translator) readPatterns(path string, line int) ([]string, error) {
	found := t.resolve(path)
	if found == "" {
		hint := ""
		if t.opts.ACLRoot == "" {
			hint = " (copy the old server's files and give --acl-root)"
		}
		return nil, fmt.Errorf("migrate: %s:%d: %w: -f %s: file not found%s", t.cfg.File, line, ErrTranslate, path, hint)
	}
	data, err := t.opts.ReadFile(found)
	if err != nil {
		return nil, fmt.Errorf("migrate: %s:%d: %w: -f %s: %v", t.cfg.File, line, ErrTranslate, path, err)
	}
	var pats []string
	for _, l := range bytes.Split(data, []byte("\n")) {
		s := strings.TrimRight(strings.TrimLeft(string(l), " \t"), "\r")
		if s == "" || s[0] == '#' {
			continue
		}
		pats = append(pats, s)
	}
	return pats, nil
}

// resolve finds path: as is, then under ACLRoot by full path, then by
// base name. It returns "" when none exists.
func (t *translator) resolve(path string) string {
	cands := []string{path}
	if !filepath.IsAbs(path) && t.cfg.File != "" {
		cands = append(cands, filepath.Join(filepath.Dir(t.cfg.File), path))
	}
	if r := t.opts.ACLRoot; r != "" {
		cands = append(cands, filepath.Join(r, path), filepath.Join(r, filepath.Base(path)))
	}
	for _, c := range cands {
		if t.opts.Exists(c) {
			return c
		}
	}
	return ""
}

// networks parses the entries of a src ACL; bad ones are reported.
func (t *translator) networks(def *aclDef) []string {
	var nets []string
	for _, e := range def.entries {
		e = strings.TrimSpace(e)
		_, perr := netip.ParsePrefix(e)
		_, aerr := netip.ParseAddr(e)
		if perr != nil && aerr != nil {
			t.ws.warn(def.line, "acl %s: %q is not an IP address or network: left out", def.name, e)
			continue
		}
		nets = append(nets, e)
	}
	return nets
}
