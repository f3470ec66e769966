package routing

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// checkAddress validates "host:port", host an IP address or a host name
// (syntax only: Compile does no DNS lookups), port 1..65535. It returns
// the address as an AddrPort when host is an IP address (zero for a host
// name), and a canonical form to detect duplicates ("10.0.0.1:03389" and
// "[::ffff:10.0.0.1]:3389" are "10.0.0.1:3389"; names are lower-cased).
func checkAddress(addr string) (ap netip.AddrPort, canon string, err error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) {
			return ap, "", errors.New(ae.Err)
		}
		return ap, "", err
	}
	if host == "" {
		return ap, "", errors.New("missing host")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return ap, "", fmt.Errorf("port %q: must be 1..65535", port)
	}
	if a, err := netip.ParseAddr(host); err == nil {
		ap = netip.AddrPortFrom(a.Unmap(), uint16(n))
		return ap, ap.String(), nil
	}
	if !validHostname(host) {
		return ap, "", fmt.Errorf("host %q: not an IP address or host name", host)
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return ap, net.JoinHostPort(host, strconv.Itoa(n)), nil
}

// validHostname reports whether h is a syntactically valid DNS name:
// dot-separated labels of 1..63 letters, digits, '-' (not at either end)
// or '_', at most 253 characters, an optional final dot.
func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			switch b := label[i]; {
			case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9', b == '-', b == '_':
			default:
				return false
			}
		}
	}
	return true
}
