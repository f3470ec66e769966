package admin

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// MinTokenLen is the shortest token accepted from token_file.
const MinTokenLen = 16

// ReadToken reads the bearer token from path: the file's first line,
// trailing white space removed. It must be at least MinTokenLen
// characters long.
func ReadToken(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("admin: token: %w", err)
	}
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	b = bytes.TrimSpace(b)
	if len(b) < MinTokenLen {
		return nil, fmt.Errorf("admin: token: %s: %d characters, want at least %d (head -c 32 /dev/urandom | base64)",
			path, len(b), MinTokenLen)
	}
	return b, nil
}

// requireToken wraps h: a request must carry "Authorization: Bearer
// <token>", or HTTP Basic credentials whose password is the token (any
// user name; what a browser prompts for, so the status page can be read
// without JavaScript). Anything else is 401.
func requireToken(token []byte, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !tokenOK(token, r) {
			w.Header().Set("WWW-Authenticate", `Basic realm="rdpbroker", charset="UTF-8"`)
			http.Error(w, "401 unauthorized: a bearer token is required", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func tokenOK(token []byte, r *http.Request) bool {
	got := ""
	if _, pw, ok := r.BasicAuth(); ok {
		got = pw
	} else if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		got = strings.TrimSpace(a[7:])
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), token) == 1
}
