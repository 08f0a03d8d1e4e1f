package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// adminClient talks to a node's admin API for the CLI's cluster and
// config commands.
type adminClient struct {
	base  string
	token string
	http  *http.Client
}

// devTokenFile is where `portico dev` writes the admin token of its
// first node, so the CLI works with no flags right after `make run`.
// $PORTICO_ADMIN_TOKEN_FILE overrides it.
func devTokenFile() string {
	if f := os.Getenv("PORTICO_ADMIN_TOKEN_FILE"); f != "" {
		return f
	}
	return filepath.Join(os.TempDir(), "portico-dev", "admin.token")
}

// adminFlags adds --admin and --token-file to fs. Defaults: the first
// local node ($PORTICO_ADMIN_ADDR or 127.0.0.1:9901) and its token file
// ($PORTICO_ADMIN_TOKEN_FILE, else the dev cluster's); $PORTICO_ADMIN_TOKEN
// wins over any file.
func adminFlags(fs *flag.FlagSet) func() (*adminClient, error) {
	addr := fs.String("admin", envOrDefault("PORTICO_ADMIN_ADDR", "127.0.0.1:9901"), "admin API address of any node")
	tokenFile := fs.String("token-file", devTokenFile(), "file holding the admin token")
	return func() (*adminClient, error) {
		token := os.Getenv("PORTICO_ADMIN_TOKEN")
		if token == "" {
			b, err := os.ReadFile(*tokenFile)
			switch {
			case err == nil:
				token = strings.TrimSpace(string(b))
			case !os.IsNotExist(err):
				return nil, fmt.Errorf("read token file: %w", err)
			}
		}
		base := *addr
		if !strings.Contains(base, "://") {
			base = "http://" + base
		}
		return &adminClient{base: strings.TrimRight(base, "/"), token: token, http: &http.Client{Timeout: 30 * time.Second}}, nil
	}
}

func envOrDefault(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// do sends a request and returns the body of a 2xx answer; any other
// answer becomes an error carrying the problem's detail.
func (c *adminClient) do(method, path string, body io.Reader, hdr map[string]string) ([]byte, http.Header, error) {
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		return nil, nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("admin API at %s: %w (is a node running? set --admin)", c.base, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return nil, nil, err
	}
	if res.StatusCode/100 != 2 {
		return nil, res.Header, problemError(res.StatusCode, b)
	}
	return b, res.Header, nil
}

// problemError renders an admin problem+json answer for a terminal.
func problemError(status int, body []byte) error {
	var p struct {
		Title, Detail string
		Errors        []string
	}
	if json.Unmarshal(body, &p) != nil || p.Title == "" {
		return fmt.Errorf("admin API answered %d: %s", status, strings.TrimSpace(string(body)))
	}
	msg := fmt.Sprintf("%s (%d): %s", p.Title, status, p.Detail)
	for _, e := range p.Errors {
		msg += "\n  " + e
	}
	return fmt.Errorf("%s", msg)
}
