package migrate

import (
	"fmt"
	"strconv"
	"strings"
)

// Config is a parsed haproxy.cfg: its sections in file order, each
// directive with its line number. It keeps every directive, known or not:
// Translate decides what each one becomes.
type Config struct {
	// File names the configuration in warnings ("haproxy.cfg").
	File string
	// Sections are the sections in file order.
	Sections []*Section
}

// Section is one section: "global", "defaults", "frontend NAME",
// "backend NAME", "listen NAME", or another HAProxy section (peers,
// userlist, ...), kept so that it can be reported.
type Section struct {
	Kind string // section keyword, lower-cased
	Name string // "" for global and unnamed defaults
	Line int    // line of the section keyword
	// Directives are the section's lines, words unquoted.
	Directives []Directive
}

// Directive is one configuration line split into words.
type Directive struct {
	Line  int
	Words []string
}

// Keyword is the directive's first word.
func (d Directive) Keyword() string { return d.Words[0] }

// Args are the words after the keyword.
func (d Directive) Args() []string { return d.Words[1:] }

// String is the directive as HAProxy would read it back, for messages.
func (d Directive) String() string { return strings.Join(d.Words, " ") }

// sectionKinds are HAProxy's section keywords.
var sectionKinds = map[string]bool{
	"global": true, "defaults": true, "frontend": true, "backend": true, "listen": true,
	"peers": true, "resolvers": true, "userlist": true, "mailers": true, "program": true,
	"http-errors": true, "ring": true, "cache": true, "log-forward": true, "fcgi-app": true,
}

// Parse splits an haproxy.cfg into sections and directives, the way
// HAProxy's tokenizer does: words separated by blanks, '#' starts a
// comment, backslash escapes (\ , \#, \\, \", \', \t, \n, \r, \xHH),
// "double" and 'single' quotes. file names the configuration in errors.
// A directive before the first section or an unterminated quote is an
// error.
func Parse(file string, data []byte) (*Config, error) {
	cfg := &Config{File: file}
	var cur *Section
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		words, err := splitWords(strings.TrimRight(line, "\r"))
		if err != nil {
			return nil, fmt.Errorf("migrate: parse %s:%d: %w", file, n, err)
		}
		if len(words) == 0 {
			continue
		}
		if kind := strings.ToLower(words[0]); sectionKinds[kind] {
			cur = &Section{Kind: kind, Line: n}
			if len(words) > 1 {
				cur.Name = words[1]
			}
			cfg.Sections = append(cfg.Sections, cur)
			continue
		}
		if cur == nil {
			return nil, fmt.Errorf("migrate: parse %s:%d: %q outside any section", file, n, words[0])
		}
		cur.Directives = append(cur.Directives, Directive{Line: n, Words: words})
	}
	return cfg, nil
}

// splitWords tokenizes one line.
func splitWords(line string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	quote := byte(0)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote == '\'' && c != '\'':
			w.WriteByte(c)
		case quote != 0 && c == quote:
			quote = 0
		case c == '\\' && quote != '\'':
			if i+1 >= len(line) {
				return nil, fmt.Errorf("backslash at end of line")
			}
			n, err := unescape(line[i+1:], &w)
			if err != nil {
				return nil, err
			}
			i += n
			inWord = true
		case quote == 0 && (c == '"' || c == '\''):
			quote, inWord = c, true
		case quote == 0 && c == '#':
			i = len(line)
		case quote == 0 && (c == ' ' || c == '\t'):
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

// unescape writes the character escaped at the start of s (what follows a
// backslash) and returns how many bytes of s it used.
func unescape(s string, w *strings.Builder) (int, error) {
	switch s[0] {
	case 't':
		w.WriteByte('\t')
	case 'n':
		w.WriteByte('\n')
	case 'r':
		w.WriteByte('\r')
	case 'x':
		if len(s) < 3 {
			return 0, fmt.Errorf("truncated \\x escape")
		}
		b, err := strconv.ParseUint(s[1:3], 16, 8)
		if err != nil {
			return 0, fmt.Errorf("bad \\x escape %q", s[:3])
		}
		w.WriteByte(byte(b))
		return 3, nil
	default:
		w.WriteByte(s[0])
	}
	return 1, nil
}
