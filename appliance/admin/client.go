package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client calls the API over the admin socket (what `rdpbroker ctl` uses).
//
//	c := admin.NewSocketClient("/run/rdpbroker/admin.sock")
//	var st admin.Status
//	err := c.Call(ctx, "GET", "/api/v1/status", nil, nil, &st)
type Client struct {
	http  *http.Client
	base  string
	token string
}

// NewSocketClient returns a client of the API on the Unix socket path.
func NewSocketClient(path string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		DisableKeepAlives: true,
	}
	return &Client{http: &http.Client{Transport: tr}, base: "http://rdpbroker"}
}

// NewHTTPClient returns a client of the API at base ("https://host:port")
// with a bearer token, over hc (nil: http.DefaultClient).
func NewHTTPClient(base, token string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{http: hc, base: strings.TrimRight(base, "/"), token: token}
}

// APIError is a refusal from the API: its HTTP status and its reason.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string { return e.Message }

// Call sends method path?query with body (JSON; nil: none) and decodes the
// answer into out (nil: discarded). A non-2xx answer is an *APIError.
// ctx bounds the whole call.
func (c *Client) Call(ctx context.Context, method, path string, query url.Values, body, out any) error {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("admin: %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("admin: %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("admin: %s %s: no answer in time: %w", method, path, err)
		}
		return fmt.Errorf("admin: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("admin: %s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var eb ErrorBody
		if json.Unmarshal(data, &eb) == nil && eb.Error != "" {
			return &APIError{Status: resp.StatusCode, Message: eb.Error}
		}
		if resp.StatusCode == http.StatusConflict && out != nil && json.Unmarshal(data, out) == nil {
			return &APIError{Status: resp.StatusCode, Message: "refused"}
		}
		return &APIError{Status: resp.StatusCode, Message: strings.TrimSpace(resp.Status + ": " + string(data))}
	}
	if out == nil {
		return nil
	}
	if raw, ok := out.(*json.RawMessage); ok {
		*raw = append((*raw)[:0], data...)
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("admin: %s %s: decoding the answer: %w", method, path, err)
	}
	return nil
}

// DefaultCallTimeout bounds a ctl call that answers from memory.
const DefaultCallTimeout = 10 * time.Second
