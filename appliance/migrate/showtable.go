package migrate

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// TableEntry is one entry of an HAProxy `show table` dump.
type TableEntry struct {
	// Table is the table's name (the backend's), from the "# table:"
	// line before the entry; "" when the dump has none.
	Table string
	// Key is the stick key (the cookie, maybe truncated), unescaped.
	Key string
	// ServerID is server_id, HAProxy's numeric server id (0: absent).
	ServerID int
	// ServerName is server_key (HAProxy 2.5+) or server_name, "" when
	// absent.
	ServerName string
	// Exp is the time left before the entry expires; HasExp is false when
	// the table has no expire.
	Exp    time.Duration
	HasExp bool
	// Line is the entry's line in the dump.
	Line int
}

// ParseShowTable parses the output of one or more `show table NAME`
// commands:
//
//	# table: BK_RDP, type: string, size:10240, used:2
//	0x55a104292990: key=alice use=0 exp=28799535 server_id=1 server_key=TS01
//
// Keys are unescaped as HAProxy escapes them (\ , \=, \\, \t, \n, \r, \e,
// \xHH). A line that is neither a table header, an entry, a prompt nor
// blank is an error, so an error answer (an unknown table) is not taken
// for an empty table.
func ParseShowTable(text []byte) ([]TableEntry, error) {
	var out []TableEntry
	table := ""
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		line = strings.TrimSpace(strings.TrimPrefix(line, ">"))
		switch {
		case line == "":
		case strings.HasPrefix(line, "# table:"):
			name, _, _ := strings.Cut(strings.TrimSpace(strings.TrimPrefix(line, "# table:")), ",")
			table = strings.TrimSpace(name)
		case strings.HasPrefix(line, "0x"):
			e, err := parseEntry(line)
			if err != nil {
				return nil, fmt.Errorf("migrate: show table line %d: %w", n, err)
			}
			e.Table, e.Line = table, n
			out = append(out, e)
		default:
			return nil, fmt.Errorf("migrate: show table line %d: unexpected %q", n, line)
		}
	}
	return out, sc.Err()
}

// parseEntry parses "0x...: key=K use=0 exp=N server_id=N ...".
func parseEntry(line string) (TableEntry, error) {
	var e TableEntry
	_, rest, ok := strings.Cut(line, ": ")
	if !ok {
		return e, fmt.Errorf("no fields in %q", line)
	}
	hasKey := false
	for _, f := range splitEscaped(rest) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		var err error
		switch k {
		case "key":
			e.Key, hasKey = unescapeKey(v), true
		case "exp":
			var ms int64
			ms, err = strconv.ParseInt(v, 10, 64)
			e.Exp, e.HasExp = time.Duration(ms)*time.Millisecond, true
		case "server_id":
			e.ServerID, err = strconv.Atoi(v)
		case "server_key", "server_name":
			e.ServerName = unescapeKey(v)
		}
		if err != nil {
			return e, fmt.Errorf("%s=%q: %w", k, v, err)
		}
	}
	if !hasKey || e.Key == "" {
		return e, fmt.Errorf("no key in %q", line)
	}
	return e, nil
}

// splitEscaped splits at spaces not escaped by a backslash.
func splitEscaped(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case ' ':
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// unescapeKey undoes HAProxy's dump_text escaping.
func unescapeKey(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'e':
			b.WriteByte(0x1b)
		case 'x':
			if v, err := strconv.ParseUint(s[i+1:min(i+3, len(s))], 16, 8); err == nil && i+3 <= len(s) {
				b.WriteByte(byte(v))
				i += 2
			} else {
				b.WriteByte('x')
			}
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// ReadStatsSocket asks HAProxy's stats socket (a unix socket path, or
// host:port for a TCP one) for `show table NAME` of each table and returns
// the answers concatenated, ready for ParseShowTable.
func ReadStatsSocket(ctx context.Context, addr string, tables []string) ([]byte, error) {
	var all bytes.Buffer
	for _, tbl := range tables {
		if err := showTable(ctx, addr, tbl, &all); err != nil {
			return nil, err
		}
	}
	return all.Bytes(), nil
}

func showTable(ctx context.Context, addr, table string, w io.Writer) error {
	network := "unix"
	if !strings.Contains(addr, "/") {
		network = "tcp"
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return fmt.Errorf("migrate: stats socket %s: %w", addr, err)
	}
	defer c.Close()
	deadline := time.Now().Add(30 * time.Second)
	if dl, ok := ctx.Deadline(); ok {
		deadline = dl
	}
	if err := c.SetDeadline(deadline); err != nil {
		return fmt.Errorf("migrate: stats socket %s: %w", addr, err)
	}
	if _, err := io.WriteString(c, "show table "+table+"\n"); err != nil {
		return fmt.Errorf("migrate: stats socket %s: show table %s: %w", addr, table, err)
	}
	if _, err := io.Copy(w, c); err != nil { // HAProxy closes after one command
		return fmt.Errorf("migrate: stats socket %s: show table %s: %w", addr, table, err)
	}
	return nil
}
