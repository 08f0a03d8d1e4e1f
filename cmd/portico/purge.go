package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
)

// cmdPurge removes cache entries on every live node: by exact key, URL
// prefix or tag. Exit 0 when every node confirmed, 1 otherwise.
func cmdPurge(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("portico purge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	key := fs.String("key", "", `an exact cache key, as in "GET https://host/path?q=1"`)
	prefix := fs.String("prefix", "", `a URL prefix: every entry under "https://host/path"`)
	tag := fs.String("tag", "", "a tag from the responses' Surrogate-Key or Cache-Tag headers")
	client := adminFlags(fs)
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	sel := map[string]string{}
	for name, v := range map[string]string{"key": *key, "prefix": *prefix, "tag": *tag} {
		if v != "" {
			sel[name] = v
		}
	}
	if len(sel) != 1 || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "portico purge: give exactly one of --key, --prefix or --tag")
		return 2
	}
	c, err := client()
	if err != nil {
		fmt.Fprintf(stderr, "portico: %v\n", err)
		return 1
	}
	body, _ := json.Marshal(sel)
	req, err := http.NewRequest("POST", c.base+"/cache/purge", bytes.NewReader(body))
	if err != nil {
		fmt.Fprintf(stderr, "portico: %v\n", err)
		return 1
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "portico: admin API at %s: %v (is a node running? set --admin)\n", c.base, err)
		return 1
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	var out struct {
		Removed  map[string]int
		Failed   map[string]string
		Complete bool
	}
	if (res.StatusCode != 200 && res.StatusCode != 502) || json.Unmarshal(b, &out) != nil {
		fmt.Fprintf(stderr, "portico: %v\n", problemError(res.StatusCode, b))
		return 1
	}
	names := make([]string, 0, len(out.Removed))
	total := 0
	for n, k := range out.Removed {
		names = append(names, n)
		total += k
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d", n, out.Removed[n])
	}
	// Counts include near copies: a hot entry lives on its owner and,
	// briefly, on the nodes that asked for it.
	fmt.Fprintf(stdout, "purged %d entries (%s)\n", total, strings.Join(parts, ", "))
	for n, why := range out.Failed {
		fmt.Fprintf(stdout, "NOT confirmed by %s: %s\n", n, why)
	}
	if !out.Complete {
		return 1
	}
	return 0
}
