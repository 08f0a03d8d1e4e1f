package config

import (
	"strings"
	"testing"
	"time"
)

// upstream returns a one-upstream document whose upstream has the given
// extra lines (indented by 4); the extra lines start at line 4.
func upstreamDoc(extra ...string) string {
	lines := []string{"upstreams:", "  - name: u", `    targets: [{url: "http://127.0.0.1:9000"}]`}
	for _, e := range extra {
		lines = append(lines, "    "+e)
	}
	return y(lines...)
}

// routeDoc returns okUpstream and one route named r, using upstream u,
// whose extra lines (indented by 4) start at line 7.
func routeDoc(extra ...string) string {
	lines := []string{okUpstream, "routes:", "  - name: r", "    upstream: u"}
	for _, e := range extra {
		lines = append(lines, "    "+e)
	}
	return y(lines...)
}

func TestParse_ValidationErrors(t *testing.T) {
	tests := []errorCase{
		// Names and references.
		{name: "upstream name missing", doc: y("upstreams:", `  - targets: [{url: "http://a:1"}]`),
			want: `test.yaml:2:5: upstream is missing "name"`},
		{name: "upstream name empty", doc: y("upstreams:", `  - name: ""`, `    targets: [{url: "http://a:1"}]`),
			want: `test.yaml:2:5: upstream: "name" must not be empty`},
		{name: "duplicate upstream", doc: y(okUpstream, "  - name: u", `    targets: [{url: "http://a:1"}]`),
			want: `test.yaml:4:5: duplicate upstream name "u" (first defined at line 2)`},
		{name: "route name missing", doc: y(okUpstream, "routes:", "  - upstream: u"),
			want: `test.yaml:5:5: route is missing "name"`},
		{name: "route upstream missing", doc: y(okUpstream, "routes:", "  - name: r"),
			want: `test.yaml:5:5: route "r" is missing "upstream"`},
		{name: "duplicate route", doc: y(okUpstream, "routes:", "  - name: r", "    upstream: u", "    match: {paths: [/a]}", "  - name: r", "    upstream: u", "    match: {paths: [/b]}"),
			want: `test.yaml:8:5: duplicate route name "r" (first defined at line 5)`},
		{name: "undefined upstream with suggestion", doc: y(okUpstream, "routes:", "  - {name: r, upstream: uu}"),
			want: `test.yaml:5:15: route "r": upstream "uu" is not defined (did you mean "u"?)`},
		{name: "undefined upstream listed", doc: y(okUpstream, "routes:", "  - {name: r, upstream: orders}"),
			want: `test.yaml:5:15: route "r": upstream "orders" is not defined (defined: "u")`},
		{name: "no upstreams", doc: y("routes:", "  - {name: r, upstream: orders}"),
			want: `test.yaml:2:15: route "r": upstream "orders" is not defined (no upstreams are defined)`},

		// Targets.
		{name: "no targets", doc: y("upstreams:", "  - name: u", "    targets: []"),
			want: `test.yaml:3:5: upstream "u" needs at least one target`},
		{name: "targets missing", doc: y("upstreams:", "  - name: u"),
			want: `test.yaml:2:5: upstream "u" needs at least one target`},
		{name: "target url missing", doc: y("upstreams:", "  - name: u", "    targets: [{weight: 1}]"),
			want: `test.yaml:3:15: target is missing "url"`},
		{name: "target scheme", doc: y("upstreams:", "  - name: u", "    targets: [{url: ftp://a:1}]"),
			want: `test.yaml:3:16: target url "ftp://a:1" must start with http:// or https://`},
		{name: "target without scheme", doc: y("upstreams:", "  - name: u", "    targets: [{url: a:1}]"),
			want: `test.yaml:3:16: target url "a:1" must start with http:// or https://`},
		{name: "target host", doc: y("upstreams:", "  - name: u", `    targets: [{url: "http://:8080"}]`),
			want: `test.yaml:3:16: target url "http://:8080" needs a host, e.g. http://10.0.0.5:8080`},
		{name: "target query", doc: y("upstreams:", "  - name: u", `    targets: [{url: "http://a:1/?x=1"}]`),
			want: `test.yaml:3:16: target url "http://a:1/?x=1" must not have a query ("?")`},
		{name: "target fragment", doc: y("upstreams:", "  - name: u", `    targets: [{url: "http://a:1/#top"}]`),
			want: `test.yaml:3:16: target url "http://a:1/#top" must not have a fragment ("#")`},
		{name: "target userinfo", doc: y("upstreams:", "  - name: u", `    targets: [{url: "http://me:pw@a:1"}]`),
			want: `test.yaml:3:16: target url "http://me:pw@a:1" must not contain user info: send credentials in a header`},
		{name: "target port", doc: y("upstreams:", "  - name: u", `    targets: [{url: "http://a:70000"}]`),
			want: `test.yaml:3:16: target url "http://a:70000" has an invalid port: use 1 to 65535`},
		{name: "target url from variable", doc: y("upstreams:", "  - name: u", `    targets: [{url: "${BACKEND}"}]`),
			env:  map[string]string{"BACKEND": "http://a:1/?token=s3cret"},
			want: `test.yaml:3:16: target url "${BACKEND}" (after substitution) must not have a query ("?")`},
		{name: "all weights zero", doc: y("upstreams:", "  - name: u", `    targets: [{url: "http://a:1", weight: 0}, {url: "http://b:1", weight: 0}]`),
			want: `test.yaml:3:5: upstream "u": every target has weight 0; give at least one a weight > 0`},
		{name: "h2c over https", doc: y("upstreams:", "  - name: u", "    protocol: h2c", `    targets: [{url: "https://a:1"}]`),
			want: `test.yaml:4:16: target url "https://a:1" uses https, but upstream "u" speaks h2c (cleartext HTTP/2): use http:// or protocol http1`},

		// Enums and formats.
		{name: "balance", doc: upstreamDoc("balance: fastest"),
			want: `test.yaml:4:5: upstream "u": balance "fastest" is not valid: use one of round_robin, least_conn, weighted, hash, random`},
		{name: "rate limit without rate", doc: routeDoc("rate_limits: [{burst: 5}]"),
			want: `test.yaml:7:19: route "r": rate limit #1 needs a rate, e.g. rate: 100/s`},
		{name: "rate limit by consumer without auth", doc: routeDoc("rate_limits: [{rate: 10/s, by: [consumer]}]"),
			want: `test.yaml:7:37: route "r": rate limit by consumer needs the route to identify consumers: add auth: {api_key: {}}`},
		{name: "rate limit by", doc: routeDoc("rate_limits: [{rate: 10/s, by: [user]}]"),
			want: `test.yaml:7:37: route "r": rate limit by "user" is not valid: use consumer, api_key, client_ip, route or header:NAME`},
		{name: "consumer plan undefined", doc: y(okUpstream, "consumers: [{name: c, plan: gold}]"),
			want: `test.yaml:4:23: consumer "c": plan "gold" is not defined`},
		{name: "consumer api key not a hash", doc: y(okUpstream, "consumers: [{name: c, api_keys: [s3cret-key]}]"),
			want: "test.yaml:4:34: consumer \"c\": api_keys entry must be \"sha256:\" and 64 hex digits, the hash of a key (make one with `portico apikey`); keys themselves are never stored"},
		{name: "quota limit", doc: y(okUpstream, "plans: [{name: p, quota: {limit: 0}}]"),
			want: `test.yaml:4:27: plan "p": quota.limit must be a positive count`},
		{name: "quota per", doc: y(okUpstream, "plans: [{name: p, quota: {limit: 5, per: year}}]"),
			want: `test.yaml:4:37: plan "p": quota.per "year" is not valid: use one of day, week, month`},
		{name: "cache method", doc: routeDoc("cache: {methods: [GET, POST]}"),
			want: `test.yaml:7:28: route "r": cache.methods entry "POST" is not cacheable here: use GET and/or HEAD`},
		{name: "cache status", doc: routeDoc("cache: {statuses: [200, 99]}"),
			want: `test.yaml:7:29: route "r": cache.statuses entry 99 is not a final HTTP status (200-599)`},
		{name: "cache scope", doc: routeDoc("cache: {scope: planet}"),
			want: `test.yaml:7:13: route "r": cache.scope "planet" is not valid: use one of region, cluster, node`},
		{name: "cache key header", doc: routeDoc(`cache: {key: {headers: ["Bad Name"]}}`),
			want: `test.yaml:7:29: route "r": cache.key.headers entry "Bad Name" is not a valid header or cookie name`},
		{name: "protocol", doc: upstreamDoc("protocol: quic"),
			want: `test.yaml:4:5: upstream "u": protocol "quic" is not valid: use one of http1, h2, h2c, h3`},
		{name: "h3 needs https", doc: upstreamDoc("protocol: h3"),
			want: `test.yaml:3:16: target url "http://127.0.0.1:9000" uses http, but upstream "u" speaks h3, which needs TLS: use https:// or protocol h2c/http1`},
		{name: "retries on", doc: upstreamDoc("retries: {on: [connect, 4xx]}"),
			want: `test.yaml:4:29: upstream "u": retries.on entry "4xx" is not valid: use one of connect, 5xx`},
		{name: "hash without hash_on", doc: upstreamDoc("balance: hash"),
			want: `test.yaml:4:5: upstream "u": balance hash needs hash_on: "header:NAME", "cookie:NAME" or "client_ip"`},
		{name: "hash_on format", doc: upstreamDoc("balance: hash", "hash_on: ip"),
			want: `test.yaml:5:5: upstream "u": hash_on "ip" must be "header:NAME", "cookie:NAME" or "client_ip"`},
		{name: "hash_on header name", doc: upstreamDoc("balance: hash", `hash_on: "header:X Y"`),
			want: `test.yaml:5:5: upstream "u": hash_on "header:X Y" must be "header:NAME", "cookie:NAME" or "client_ip"`},
		{name: "hash_on without hash", doc: upstreamDoc("hash_on: client_ip"),
			want: `test.yaml:4:5: upstream "u": hash_on is used only with balance: hash`},
		{name: "budget above 1", doc: upstreamDoc("retries: {budget: 1.5}"),
			want: `test.yaml:4:23: "budget" must be in [0, 1], got "1.5"`},
		{name: "budget negative", doc: upstreamDoc("retries: {budget: -0.1}"),
			want: `test.yaml:4:23: "budget" must be in [0, 1], got "-0.1"`},
		{name: "error ratio above 1", doc: upstreamDoc("circuit_breaker: {error_ratio: 2}"),
			want: `test.yaml:4:36: "error_ratio" must be in [0, 1], got "2"`},
		{name: "active health path", doc: upstreamDoc("health: {active: {path: healthz}}"),
			want: `test.yaml:4:23: upstream "u": health.active.path "healthz" must be a path starting with "/"`},

		// Paths.
		{name: "path without slash", doc: routeDoc("match: {paths: [users]}"),
			want: `test.yaml:7:21: route "r": match.paths entry "users" must start with "/"`},
		{name: "path with query", doc: routeDoc(`match: {paths: ["/a?b=1"]}`),
			want: `test.yaml:7:21: route "r": match.paths entry "/a?b=1" must not contain "?" or "#": match query parameters with match.query`},
		{name: "path with fragment", doc: routeDoc(`match: {paths: ["/a#b"]}`),
			want: `test.yaml:7:21: route "r": match.paths entry "/a#b" must not contain "?" or "#": match query parameters with match.query`},
		{name: "catch-all not last", doc: routeDoc(`match: {paths: ["/f/{p...}/x"]}`),
			want: `test.yaml:7:21: route "r": match.paths entry "/f/{p...}/x" may use the catch-all {p...} only as the final segment`},
		{name: "too many params", doc: routeDoc(`match: {paths: ["/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}"]}`),
			want: `test.yaml:7:21: route "r": match.paths entry "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}" defines 9 parameters; at most 8 are allowed`},
		{name: "encoded dot segment", doc: routeDoc(`match: {paths: ["/x/%2e%2E/y"]}`),
			want: `test.yaml:7:21: route "r": match.paths entry "/x/%2e%2E/y" must not contain "." or ".." segments (also encoded): request paths are cleaned before matching`},
		{name: "bad escape", doc: routeDoc(`match: {paths: ["/x/%zz"]}`),
			want: `test.yaml:7:21: route "r": match.paths entry "/x/%zz" has an invalid percent-escape: "%" must be followed by two hex digits`},
		{name: "truncated escape", doc: routeDoc(`match: {paths: ["/x/%4"]}`),
			want: `test.yaml:7:21: route "r": match.paths entry "/x/%4" has an invalid percent-escape: "%" must be followed by two hex digits`},
		{name: "encoded NUL", doc: routeDoc(`match: {paths: ["/x%00"]}`),
			want: `test.yaml:7:21: route "r": match.paths entry "/x%00" must not contain an encoded NUL (%00)`},
		{name: "backslash", doc: routeDoc(`match: {paths: ["/x\\y"]}`),
			want: `test.yaml:7:21: route "r": match.paths entry "/x\\y" must not contain a backslash`},
		{name: "encoded backslash", doc: routeDoc(`match: {paths: ["/x%5cy"]}`),
			want: `test.yaml:7:21: route "r": match.paths entry "/x%5cy" must not contain a backslash (%5C)`},
		{name: "strip prefix dot segment", doc: routeDoc(`strip_prefix: "/a/../b"`),
			want: `test.yaml:7:5: route "r": strip_prefix "/a/../b" must not contain "." or ".." segments (also encoded): request paths are cleaned before matching`},
		{name: "star not last", doc: routeDoc(`match: {paths: ["/a/*/b"]}`),
			want: `test.yaml:7:21: route "r": match.paths entry "/a/*/b" may use "*" only as the final segment, as in "/api/*"`},
		{name: "star inside segment", doc: routeDoc(`match: {paths: ["/api*"]}`),
			want: `test.yaml:7:21: route "r": match.paths entry "/api*" may use "*" only as the whole final segment, as in "/api/*"`},
		{name: "param not identifier", doc: routeDoc(`match: {paths: ["/u/{user-id}"]}`),
			want: `test.yaml:7:21: route "r": match.paths entry "/u/{user-id}" has an invalid parameter name "user-id": use letters, digits and _`},
		{name: "empty param", doc: routeDoc(`match: {paths: ["/u/{}"]}`),
			want: `test.yaml:7:21: route "r": match.paths entry "/u/{}" has an invalid parameter name "": use letters, digits and _`},
		{name: "param twice", doc: routeDoc(`match: {paths: ["/u/{id}/{id}"]}`),
			want: `test.yaml:7:21: route "r": match.paths entry "/u/{id}/{id}" defines parameter {id} twice`},
		{name: "param inside segment", doc: routeDoc(`match: {paths: ["/u/id-{id}"]}`),
			want: `test.yaml:7:21: route "r": match.paths entry "/u/id-{id}" must use a parameter as a whole segment, as in "/users/{id}"`},
		{name: "empty segment", doc: routeDoc(`match: {paths: ["/a//b"]}`),
			want: `test.yaml:7:21: route "r": match.paths entry "/a//b" has an empty segment ("//")`},
		{name: "dot segment", doc: routeDoc(`match: {paths: ["/a/../b"]}`),
			want: `test.yaml:7:21: route "r": match.paths entry "/a/../b" must not contain "." or ".." segments: request paths are cleaned before matching`},
		{name: "space in path", doc: routeDoc(`match: {paths: ["/a b"]}`),
			want: `test.yaml:7:21: route "r": match.paths entry "/a b" must not contain spaces or control characters`},

		{name: "path from variable", doc: routeDoc(`match: {paths: ["${P}"]}`), env: map[string]string{"P": "/u/{s3cret-x}"},
			want: `test.yaml:7:21: route "r": match.paths entry "${P}" (after substitution) has an invalid parameter name: use letters, digits and _`},

		// Hosts.
		{name: "host upper case", doc: routeDoc("match: {hosts: [API.Example.com]}"),
			want: `test.yaml:7:21: route "r": match.hosts entry "API.Example.com" must be lower case ("api.example.com")`},
		{name: "host with port", doc: routeDoc(`match: {hosts: ["example.com:443"]}`),
			want: `test.yaml:7:21: route "r": match.hosts entry "example.com:443" must not include a port: the port of a request's Host is ignored when matching`},
		{name: "wildcard inside", doc: routeDoc(`match: {hosts: ["api.*.com"]}`),
			want: `test.yaml:7:21: route "r": match.hosts entry "api.*.com" may use a wildcard only as the whole first label, as in "*.example.com"`},
		{name: "wildcard alone", doc: routeDoc(`match: {hosts: ["*"]}`),
			want: `test.yaml:7:21: route "r": match.hosts entry "*" is not a host: leave hosts empty to match any host`},
		{name: "host bad character", doc: routeDoc(`match: {hosts: ["a_b.com"]}`),
			want: `test.yaml:7:21: route "r": match.hosts entry "a_b.com" is not a DNS name: use letters, digits, hyphens and dots`},
		{name: "host empty label", doc: routeDoc(`match: {hosts: ["a..com"]}`),
			want: `test.yaml:7:21: route "r": match.hosts entry "a..com" is not a DNS name: each dot-separated label has 1 to 63 characters`},

		{name: "host from variable", doc: routeDoc(`match: {hosts: ["${H}"]}`), env: map[string]string{"H": "S3CRET.com"},
			want: `test.yaml:7:21: route "r": match.hosts entry "${H}" (after substitution) must be lower case`},

		// Methods, headers, query.
		{name: "method lower case", doc: routeDoc("match: {methods: [get]}"),
			want: `test.yaml:7:23: route "r": match.methods entry "get" must be upper case ("GET")`},
		{name: "method from variable", doc: routeDoc(`match: {methods: ["${M}"]}`), env: map[string]string{"M": "s3cret"},
			want: `test.yaml:7:23: route "r": match.methods entry "${M}" (after substitution) must be upper case`},
		{name: "method not a token", doc: routeDoc(`match: {methods: ["GE T"]}`),
			want: `test.yaml:7:23: route "r": match.methods entry "GE T" is not an HTTP method`},
		{name: "header name", doc: routeDoc(`match: {headers: {"X Y": "1"}}`),
			want: `test.yaml:7:23: route "r": match.headers name "X Y" is not a valid header name`},
		{name: "header name from variable", doc: routeDoc(`match: {headers: {"${H}": "1"}}`),
			want: `test.yaml:7:23: route "r": match.headers name "${H}" is not a valid header name (variables are substituted in values, not in keys)`},
		{name: "header names differ in case only", doc: routeDoc(`match: {headers: {X-Env: a, x-env: b}}`),
			want: `test.yaml:7:33: route "r": match.headers names "X-Env" and "x-env" are the same header (names ignore case)`},
		{name: "empty query name", doc: routeDoc(`match: {query: {"": x}}`),
			want: `test.yaml:7:21: route "r": match.query has an empty parameter name`},

		// strip_prefix and rewrite.
		{name: "strip_prefix without slash", doc: routeDoc("strip_prefix: api"),
			want: `test.yaml:7:5: route "r": strip_prefix "api" must start with "/"`},
		{name: "strip_prefix with param", doc: routeDoc(`strip_prefix: "/u/{id}"`),
			want: `test.yaml:7:5: route "r": strip_prefix "/u/{id}" must be a literal path prefix (no "{", "}", "*", "?" or "#")`},
		{name: "strip_prefix and rewrite", doc: routeDoc("strip_prefix: /api", "rewrite: /v2"),
			want: `test.yaml:8:5: route "r": strip_prefix and rewrite can't be combined: rewrite sets the whole upstream path (use the route's {params} in it)`},
		{name: "rewrite undefined param", doc: routeDoc(`match: {paths: ["/users/{id}", "/me"]}`, `rewrite: "/v2/users/{id}"`),
			want: `test.yaml:8:5: route "r": rewrite uses {id}, but path "/me" doesn't define it`},
		{name: "rewrite unbalanced", doc: routeDoc(`match: {paths: ["/users/{id}"]}`, `rewrite: "/v2/{id"`),
			want: `test.yaml:8:5: route "r": rewrite "/v2/{id" has a "{" without its "}"`},
		{name: "rewrite relative", doc: routeDoc(`rewrite: "v2"`),
			want: `test.yaml:7:5: route "r": rewrite "v2" must start with "/"`},
		{name: "rewrite with query", doc: routeDoc(`rewrite: "/v2?a=1"`),
			want: `test.yaml:7:5: route "r": rewrite "/v2?a=1" must not contain "?" or "#": it replaces the path only`},

		// Node.
		{name: "listen without port", doc: y("node:", "  listen: localhost"),
			want: `test.yaml:2:3: node.listen "localhost" must be host:port, e.g. ":8080" or "127.0.0.1:8080", or "off"`},
		{name: "listen bad port", doc: y("node:", `  listen: ":http"`),
			want: `test.yaml:2:3: node.listen ":http" has an invalid port: use a number from 0 to 65535, or "off"`},
		{name: "listen off without tls", doc: y("node:", `  listen: "off"`),
			want: `test.yaml:2:3: node.listen is "off" and node.tls is not set: the node would serve nothing; set node.tls or a listen address`},
		{name: "tls without certificates", doc: y("node:", "  tls:", "    listen: 127.0.0.1:8443"),
			want: `test.yaml:2:3: node.tls needs certificates (- {cert: FILE, key: FILE}) or dev_certificate: true for a local development CA`},
		{name: "tls same port", doc: y("node:", "  listen: :8443", "  tls: {dev_certificate: true}"),
			want: `test.yaml:3:3: node.tls.listen ":8443" uses the same port as node.listen ":8443": give HTTPS its own port (e.g. :8443)`},
		{name: "tls certificate without key", doc: y("node:", "  tls:", "    certificates:", "      - cert: a.pem"),
			want: `test.yaml:4:9: node.tls.certificates[0] is missing "key"`},
		{name: "tls min version", doc: y("node:", "  tls: {dev_certificate: true, min_version: \"1.1\"}"),
			want: `test.yaml:2:32: node.tls.min_version "1.1" is not valid: use one of 1.2, 1.3`},
		{name: "http3 windows", doc: y("node:", "  tls:", "    dev_certificate: true", "    http3: {stream_receive_window: 32MiB}"),
			want: `test.yaml:4:13: node.tls.http3.stream_receive_window (32MiB) is larger than connection_receive_window (15MiB)`},
		{name: "server per-ip above total", doc: y("node:", "  server: {max_conns: 10, max_conns_per_ip: 20}"),
			want: `test.yaml:2:27: node.server.max_conns_per_ip (20) is larger than max_conns (10)`},
		{name: "server resets", doc: y("node:", "  server: {max_resets_per_second: -2}"),
			want: `test.yaml:2:35: "max_resets_per_second" must be -1 (off) or a count >= 0, got "-2"`},
		{name: "admin listen", doc: y("node:", "  admin: {listen: nowhere}"),
			want: `test.yaml:2:11: node.admin.listen "nowhere" must be host:port, e.g. ":8080" or "127.0.0.1:8080", or "off"`},
		{name: "admin public without token", doc: y("node:", `  admin: {listen: ":9901"}`),
			want: `test.yaml:2:11: node.admin.listen ":9901" is reachable from other hosts, so the admin API needs a token: set node.admin.token (e.g. token: "${PORTICO_ADMIN_TOKEN}") or listen on 127.0.0.1`},
		{name: "admin token from empty variable", doc: y("node:", `  admin: {listen: "10.0.0.1:9901", token: "${TOKEN}"}`),
			env:  map[string]string{"TOKEN": ""},
			want: `test.yaml:2:11: node.admin.listen "10.0.0.1:9901" is reachable from other hosts, so the admin API needs a token: set node.admin.token (e.g. token: "${PORTICO_ADMIN_TOKEN}") or listen on 127.0.0.1`},
		{name: "admin public with a short token", doc: y("node:", `  admin: {listen: "10.0.0.1:9901", token: "${TOKEN}"}`),
			env:  map[string]string{"TOKEN": "0123456789abcde"},
			want: "test.yaml:2:36: node.admin.token has 15 characters; an admin API reachable from other hosts (node.admin.listen \"10.0.0.1:9901\") needs at least 16 (make one with `openssl rand -hex 16`)"},
		{name: "admin tls without key", doc: y("node:", `  admin: {tls: {cert: a.pem}}`),
			want: `test.yaml:2:11: node.admin.tls is missing "key"`},
		{name: "cache partial content", doc: routeDoc(`cache: {statuses: [200, 206]}`),
			want: `test.yaml:7:29: route "r": cache.statuses entry 206 can't be stored: 206 (part of a range) and 304 (a revalidation) answer one request, not the resource`},
		{name: "sample above 1", doc: y("node:", "  access_log: {sample: 1.5}"),
			want: `test.yaml:2:24: "sample" must be in (0, 1], got "1.5"`},
		{name: "sample negative", doc: y("node:", "  access_log: {sample: -0.5}"),
			want: `test.yaml:2:24: "sample" must be in (0, 1], got "-0.5"`},
		{name: "sample zero", doc: y("node:", "  access_log: {sample: 0}"),
			want: `test.yaml:2:24: "sample" must be in (0, 1], got "0"`},
		{name: "log level", doc: y("node:", "  log: {level: verbose}"),
			want: `test.yaml:2:9: node.log.level "verbose" is not valid: use one of debug, info, warn, error`},
		{name: "log format", doc: y("node:", "  log: {format: xml}"),
			want: `test.yaml:2:9: node.log.format "xml" is not valid: use one of text, json`},
		{name: "trusted proxy", doc: y("node:", "  trusted_proxies: [10.0.0.0/8, 10.0.0.0/33]"),
			want: `test.yaml:2:33: node.trusted_proxies entry "10.0.0.0/33" is not a CIDR or an IP address (e.g. 10.0.0.0/8, 192.0.2.7)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(t, tt.doc, tt.env)
			checkOneError(t, err, tt.want)
			if err != nil && strings.Contains(strings.ToLower(err.Error()), "s3cret") {
				t.Errorf("error shows a variable's value: %v", err)
			}
		})
	}
}

func TestParse_ValidDetails(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		env  map[string]string
	}{
		{"admin off without token", y("node:", "  admin: {listen: \"off\"}"), nil},
		{"admin public with token", y("node:", `  admin: {listen: ":9901", token: "${T}"}`), map[string]string{"T": "x123456789abcdef"}},
		{"admin on localhost", y("node:", `  admin: {listen: "localhost:9901"}`), nil},
		{"admin on IPv6 loopback", y("node:", `  admin: {listen: "[::1]:9901"}`), nil},
		{"listen port 0", y("node:", `  listen: "127.0.0.1:0"`), nil},
		{"trusted proxies", y("node:", `  trusted_proxies: [10.0.0.0/8, 192.0.2.1, "2001:db8::/32", "::1"]`), nil},
		{"target without port, with base path", y("upstreams:", "  - name: u", "    targets: [{url: https://a.internal/base}]"), nil},
		{"h2c", upstreamDoc("protocol: h2c"), nil},
		{"hash on cookie", upstreamDoc("balance: hash", "hash_on: cookie:sid"), nil},
		{"one weight enough", y("upstreams:", "  - name: u", `    targets: [{url: "http://a:1", weight: 0}, {url: "http://b:1"}]`), nil},
		{"attempts and failures off", upstreamDoc("retries: {attempts: -1}", "health: {passive: {failures: -1}}"), nil},
		{"paths", routeDoc(`match: {paths: ["/", "/a/", "/u/{id}/x", "/f/{rest...}", "/api/*", "/*", "/a-b.c~d%20"]}`), nil},
		{"hosts", routeDoc(`match: {hosts: [example.com, "*.example.com", xn--bcher-kva.example, 10.0.0.1]}`), nil},
		{"rewrite with catch-all", routeDoc(`match: {paths: ["/s/{f...}", "/t/{f}"]}`, `rewrite: "/assets/{f}"`), nil},
		{"custom method", routeDoc(`match: {methods: [PURGE, GET]}`), nil},
		{"header any value", routeDoc(`match: {headers: {X-Env: "*"}}`), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := parse(t, tt.doc, tt.env); err != nil {
				t.Errorf("Parse: unexpected error:\n%v", err)
			}
		})
	}
}

// TestParse_AllErrorsAtOnce checks that decoding and validation problems
// are reported together, sorted, and that a value that failed to decode
// isn't reported again by validation.
func TestParse_AllErrorsAtOnce(t *testing.T) {
	doc := y(
		"node:",
		"  log: {level: loud}",
		"upstreams:",
		"  - name: u",
		"    targets: [{url: ftp://a}]",
		"    balance: 7x",
		"    timeouts: {connect: soon}",
		"routes:",
		"  - name: r",
		"    upstream: missing",
		"    match: {paths: [nope], methods: [get]}",
		"    priority: high",
		"  - name: r",
		"    upstream: u",
	)
	want := []string{
		`test.yaml:2:9: node.log.level "loud" is not valid: use one of debug, info, warn, error`,
		`test.yaml:5:16: target url "ftp://a" must start with http:// or https://`,
		`test.yaml:6:5: upstream "u": balance "7x" is not valid: use one of round_robin, least_conn, weighted, hash, random`,
		`test.yaml:7:25: "connect": invalid duration "soon": use a number with a unit, e.g. 500ms, 30s, 5m`,
		`test.yaml:10:5: route "r": upstream "missing" is not defined (defined: "u")`,
		`test.yaml:11:21: route "r": match.paths entry "nope" must start with "/"`,
		`test.yaml:11:38: route "r": match.methods entry "get" must be upper case ("GET")`,
		`test.yaml:12:15: "priority" must be an integer, got "high"`,
		`test.yaml:13:5: duplicate route name "r" (first defined at line 9)`,
	}
	_, err := parse(t, doc, nil)
	got := problems(t, err)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got errors:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestParse_ClusterSection(t *testing.T) {
	const key = "c2l4dGVlbiBieXRlIGtleQ==" // 16 bytes
	tests := []struct {
		name, node string
		want       []string // substrings of the errors; none = valid
	}{
		{"valid", "cluster: {join: [\"10.0.0.2:7946\"], bootstrap_expect: 3, gossip_key: \"" + key + "\"}", nil},
		{"no key", "cluster: {bootstrap_expect: 1}", []string{"test.yaml:2:3: node.cluster needs a cluster key"}},
		{"bad key", "cluster: {gossip_key: \"bm90IGEga2V5\"}", []string{"gossip_key decodes to 9 bytes"}},
		{"both keys", "cluster: {gossip_key: \"" + key + "\", gossip_key_file: /k}", []string{"not both"}},
		{"even voters", "cluster: {voters: 4, gossip_key: \"" + key + "\"}", []string{"voters must be 1, 3, 5 or 7"}},
		{"bad seed", "cluster: {join: [nohost], gossip_key: \"" + key + "\"}", []string{`join entry "nohost" must be host:port`}},
		{"bad bind", "cluster: {raft: {bind: x}, gossip_key: \"" + key + "\"}", []string{`raft.bind "x" must be host:port`}},
		{"client bootstraps", "cluster: {server: false, bootstrap_expect: 3, gossip_key: \"" + key + "\"}", []string{"bootstrap_expect needs node.cluster.server: true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := "node:\n  " + tt.node + "\nupstreams: [{name: u, targets: [{url: \"http://a:1\"}]}]\nroutes: [{name: r, upstream: u}]\n"
			f, err := Parse("test.yaml", []byte(doc), nil)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				c := f.Node.Cluster
				if c.Voters != 3 || c.Gossip.Bind != ":7946" || !*c.Server || c.DeadServerTimeout.D() != 30*time.Minute {
					t.Errorf("cluster defaults not applied: %+v", c)
				}
				return
			}
			if err == nil {
				t.Fatal("Parse accepted the document")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("errors lack %q:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), key) {
				t.Errorf("error echoes the key: %v", err)
			}
		})
	}
}
