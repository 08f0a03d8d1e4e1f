//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// writeBound is how long a config write may take to be answered, even
// without quorum (README: "config writes without quorum fail within
// seconds with 503").
const writeBound = 10 * time.Second

// client speaks HTTP to the nodes' published loopback ports. Keep-alives
// are off: a connection never outlives a request, so no transport
// goroutine outlives the test.
type client struct {
	http  *http.Client
	token string
}

func newClient(token string) *client {
	return &client{
		http:  &http.Client{Timeout: writeBound, Transport: &http.Transport{DisableKeepAlives: true}},
		token: token,
	}
}

// get sends GET http://addr/path and returns the status.
func (c *client) get(addr, path string) (int, error) {
	res, err := c.http.Get("http://" + addr + path)
	if err != nil {
		return 0, fmt.Errorf("GET %s%s: %w", addr, path, err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode, nil
}

// readyVersion asks a node's admin /ready (no token needed) which config
// version it serves.
func (c *client) readyVersion(admin string) (int64, error) {
	res, err := c.http.Get("http://" + admin + "/ready")
	if err != nil {
		return 0, fmt.Errorf("GET %s/ready: %w", admin, err)
	}
	defer res.Body.Close()
	var out struct {
		ConfigVersion int64 `json:"config_version"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return 0, fmt.Errorf("GET %s/ready answered %s: %w", admin, res.Status, err)
	}
	return out.ConfigVersion, nil
}

// putConfig replaces the gateway document through a node's admin API and
// returns the status and, on 200, the new version. The client's timeout
// (writeBound) bounds the answer.
func (c *client) putConfig(admin, doc string) (status int, version int64, body string, err error) {
	req, err := http.NewRequest(http.MethodPut, "http://"+admin+"/config", strings.NewReader(doc))
	if err != nil {
		return 0, 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/yaml")
	res, err := c.http.Do(req)
	if err != nil {
		return 0, 0, "", fmt.Errorf("PUT %s/config: %w", admin, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return res.StatusCode, 0, "", fmt.Errorf("PUT %s/config: reading the answer: %w", admin, err)
	}
	if res.StatusCode == http.StatusOK {
		var out struct{ Version int64 }
		if err := json.Unmarshal(b, &out); err != nil {
			return res.StatusCode, 0, string(b), fmt.Errorf("PUT %s/config: bad answer: %w", admin, err)
		}
		version = out.Version
	}
	return res.StatusCode, version, string(b), nil
}

// gatewayDoc is a gateway document whose only route takes /anything/<tag>/*
// to the demo upstream (which echoes /anything/...): a node serving it
// answers 200 there and 404 (no route) on any other tag's path.
func gatewayDoc(tag string) string {
	return fmt.Sprintf(`upstreams:
  - name: demo
    targets: [{url: "http://upstream:9000"}]
routes:
  - name: %[1]s
    match: {paths: ["/anything/%[1]s/*"]}
    upstream: demo
`, tag)
}

// getHeader sends GET http://addr/path and returns the status and the
// value of header name.
func (c *client) getHeader(addr, path, name string) (int, string, error) {
	res, err := c.http.Get("http://" + addr + path)
	if err != nil {
		return 0, "", fmt.Errorf("GET %s%s: %w", addr, path, err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode, res.Header.Get(name), nil
}

// purge asks a node's admin API to purge sel (JSON) on every live node
// and returns the status and the answer.
func (c *client) purge(admin, sel string) (int, string, error) {
	req, err := http.NewRequest(http.MethodPost, "http://"+admin+"/cache/purge", strings.NewReader(sel))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	res, err := c.http.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("POST %s/cache/purge: %w", admin, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	return res.StatusCode, string(b), nil
}

// sharedDoc caches /cache/* at its owner node and puts a cluster-wide
// strict limit of 3 requests (per hour, for the whole route) on
// /anything/limited/*.
const sharedDoc = `upstreams:
  - name: demo
    targets: [{url: "http://upstream:9000"}]
routes:
  - name: cached
    match: {paths: ["/cache/{s}"]}
    upstream: demo
    cache: {}
  - name: limited
    match: {paths: ["/anything/limited/*"]}
    upstream: demo
    rate_limits: [{rate: 3/h, burst: 3, by: [route], mode: strict}]
`
