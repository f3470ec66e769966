package migrate

import (
	"fmt"
	"strings"

	"github.com/rdpbroker/rdpbroker/routing"
)

// aclRef is one ACL named in a condition, maybe negated.
type aclRef struct {
	neg  bool
	name string
	defs []*aclDef
}

// useBackend translates "use_backend B [if|unless COND]" into rules: one
// per alternative (||) of the condition, and per definition of an ACL
// defined on several lines (they are ORed too).
func (t *translator) useBackend(d Directive) error {
	args := d.Args()
	if len(args) == 0 {
		t.ws.warn(d.Line, "%q: no backend: ignored", d.String())
		return nil
	}
	be := args[0]
	if strings.Contains(be, "%[") {
		t.ws.warn(d.Line, "%q: dynamic backend names are not translated: the requests it would route go to the next rule or the default pool", d.String())
		return nil
	}
	if t.res.Backends[be] == nil {
		return fmt.Errorf("migrate: %s:%d: %w: use_backend %s: no TCP backend of that name", t.cfg.File, d.Line, ErrTranslate, be)
	}
	if len(args) == 1 {
		t.unconditionalBackend(d, be)
		return nil
	}
	if args[1] == "unless" {
		t.ws.warn(d.Line, "%q: rdpbroker rules cannot negate a condition: not translated; the requests it would route go to the next rule or the default pool", d.String())
		return nil
	}
	if args[1] != "if" {
		t.ws.warn(d.Line, "%q: expected if or unless: ignored", d.String())
		return nil
	}
	terms, err := t.condition(args[2:], d.Line)
	if err != nil {
		return err
	}
	n := 0
	for _, term := range terms {
		for _, combo := range expand(term) {
			if t.unconditional {
				return nil
			}
			n++
			if err := t.ruleFor(d, be, combo, n); err != nil {
				return err
			}
		}
	}
	return nil
}

// unconditionalBackend: a use_backend without condition sends everything
// that reaches it to be; nothing after it matters.
func (t *translator) unconditionalBackend(d Directive, be string) {
	if t.o.defaultPool != "" && t.o.defaultPool != be {
		t.ws.note(d.Line, "%q matches every request: default_backend %s is never used (as in HAProxy); default pool %s", d.String(), t.o.defaultPool, be)
	}
	t.o.defaultPool, t.o.defaultFrom = be, fmt.Sprintf("%s:%d %s", t.cfg.File, d.Line, d.String())
	t.unconditional = true
}

// condition parses the words of a condition into alternatives of ACL
// references (AND inside an alternative).
func (t *translator) condition(words []string, line int) ([][]aclRef, error) {
	var terms [][]aclRef
	var cur []aclRef
	for i := 0; i < len(words); i++ {
		w := words[i]
		if w == "||" || w == "or" {
			terms, cur = append(terms, cur), nil
			continue
		}
		ref := aclRef{}
		if strings.HasPrefix(w, "!") {
			ref.neg, w = true, strings.TrimPrefix(w, "!")
			if w == "" && i+1 < len(words) {
				i++
				w = words[i]
			}
		}
		if w == "{" {
			end := i + 1
			for end < len(words) && words[end] != "}" {
				end++
			}
			if end-i < 3 || end == len(words) {
				return nil, fmt.Errorf("migrate: %s:%d: %w: malformed anonymous ACL", t.cfg.File, line, ErrTranslate)
			}
			def, err := t.parseACL("{ "+strings.Join(words[i+1:end], " ")+" }", words[i+1:end], line)
			if err != nil {
				return nil, err
			}
			ref.name, ref.defs, i = def.name, []*aclDef{def}, end
		} else {
			ref.name, ref.defs = w, t.acls[w]
			if ref.defs == nil {
				if p := predefined(w, line); p != nil {
					ref.defs = []*aclDef{p}
				} else {
					return nil, fmt.Errorf("migrate: %s:%d: %w: unknown ACL %q", t.cfg.File, line, ErrTranslate, w)
				}
			}
		}
		cur = append(cur, ref)
	}
	return append(terms, cur), nil
}

// combo is one conjunction of ACL definitions, one per reference.
type combo struct {
	refs []aclRef  // the references, for names and negation
	defs []*aclDef // the chosen definition of each
}

// expand distributes an alternative over the definitions of its ACLs.
func expand(term []aclRef) []combo {
	out := []combo{{}}
	for _, r := range term {
		var next []combo
		for _, c := range out {
			for _, d := range r.defs {
				next = append(next, combo{refs: append(append([]aclRef(nil), c.refs...), r), defs: append(append([]*aclDef(nil), c.defs...), d)})
			}
		}
		out = next
	}
	return out
}

// ruleFor turns one conjunction into a rule (or reports why it cannot).
func (t *translator) ruleFor(d Directive, be string, c combo, n int) error {
	var names []string
	var login, network *aclDef
	for i, def := range c.defs {
		names = append(names, c.refs[i].name)
		skip := func(why string) error {
			t.ws.warn(d.Line, "%q: %s: this alternative is not translated; the requests it would send to %s go to the next rule or the default pool", d.String(), why, be)
			return nil
		}
		switch {
		case c.refs[i].neg:
			return skip("rdpbroker rules cannot negate an ACL (!" + c.refs[i].name + ")")
		case def.kind == kindFalse:
			return nil // never matches, in HAProxy too
		case def.kind == kindOther:
			return skip(fmt.Sprintf("acl %s (line %d): %s", def.name, def.line, def.why))
		case def.kind == kindLogin && login != nil, def.kind == kindNetwork && network != nil:
			return skip("two ACLs of the same kind that must both match (" + def.name + ")")
		case def.kind == kindLogin:
			login = def
		case def.kind == kindNetwork:
			network = def
		}
	}
	for i, def := range c.defs {
		if def.kind == kindCookie && login == nil {
			t.ws.warn(d.Line, "%q: %s (any cookie) alone cannot be expressed: this alternative is not translated; the requests it would send to %s go to the next rule or the default pool", d.String(), c.refs[i].name, be)
			return nil
		}
	}
	if login == nil && network == nil {
		t.unconditionalBackend(d, be)
		return nil
	}
	r := rule{RuleConfig: routing.RuleConfig{Name: t.ruleName(strings.Join(names, "+")), Pool: be},
		from: fmt.Sprintf("%s:%d %s", t.cfg.File, d.Line, d.String())}
	if network != nil {
		if r.Networks = t.networks(network); len(r.Networks) == 0 {
			t.ws.warn(d.Line, "%q: acl %s lists no usable network: rule left out (it never matches)", d.String(), network.name)
			return nil
		}
	}
	if login != nil {
		ok, err := t.logins(d, login, &r)
		if err != nil || !ok {
			return err
		}
	}
	t.o.rules = append(t.o.rules, r)
	return nil
}

// ruleName returns base, or base#N when taken.
func (t *translator) ruleName(base string) string {
	name := base
	for i := 2; t.o.ruleNames[name] || name == routing.RuleDefault || name == routing.RuleNoCookie || name == routing.RuleMSTSToken; i++ {
		name = fmt.Sprintf("%s#%d", base, i)
	}
	t.o.ruleNames[name] = true
	return name
}
