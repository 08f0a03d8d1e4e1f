package config

// This file holds the schema: plain data, no behaviour beyond what the
// decoder needs. Every field documents its YAML key, its default and its
// units. The zero value of a field means "use the default"; defaults are
// applied in one place (defaults.go) after decoding and before validation.
//
// A file has two kinds of settings (docs/architecture.md "Config: two kinds"):
//   - node-local: everything under the top-level `node:` key (addresses, data
//     dir, admin, access log, edge limits). They come from the node's own file
//     and flags and are never replicated.
//   - cluster-wide: every other top-level key (upstreams, routes, and later
//     consumers, plans, cache and limit policies). This is the Gateway document
//     that a cluster replicates through Raft and that `PUT /config` replaces.

// File is one decoded configuration file.
type File struct {
	// Node holds the node-local settings (key `node`).
	Node Node `yaml:"node"`
	// Gateway holds the cluster-wide document; its keys sit at the top level
	// of the file, beside `node`.
	Gateway Gateway `yaml:",inline"`
}

// Node is the node-local part of a configuration file.
type Node struct {
	// Name identifies this node in logs, metrics and (later) the cluster.
	// (Optional) Defaults to the host name.
	Name string `yaml:"name"`
	// DataDir holds the node's persistent state. (Optional) Defaults to
	// "./data".
	DataDir string `yaml:"data_dir"`
	// Listen is the cleartext edge address (HTTP/1.1, and HTTP/2 with
	// server.h2c). (Optional) Defaults to ":8080". "off" disables it; then
	// tls must be set.
	Listen string `yaml:"listen"`
	// TLS serves HTTPS (HTTP/1.1 and HTTP/2 by ALPN) and HTTP/3 on one
	// port number. Absent: cleartext only.
	TLS *TLS `yaml:"tls"`
	// Admin configures the admin API listener.
	Admin Admin `yaml:"admin"`
	// AccessLog configures the JSON access log.
	AccessLog AccessLog `yaml:"access_log"`
	// Log configures the process log (not the access log).
	Log Log `yaml:"log"`
	// TrustedProxies lists CIDRs (or single IPs) whose X-Forwarded-* and
	// Forwarded headers are believed. Requests from elsewhere have those
	// headers replaced. (Optional) Defaults to none.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// Server holds connection-level limits of the edge listener.
	Server Server `yaml:"server"`
	// Cache sizes this node's part of the shared response cache.
	Cache NodeCache `yaml:"cache"`
	// Limiter tunes this node's side of global rate limits.
	Limiter NodeLimiter `yaml:"limiter"`
	// ShutdownTimeout bounds the drain on SIGTERM: in-flight requests get
	// this long to finish. (Optional) Defaults to 30s.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	// Region places the node: the cluster scopes cache ownership per
	// region. (Optional) Defaults to "default".
	Region string `yaml:"region"`
	// Zone places the node inside its region (informational for now).
	Zone string `yaml:"zone"`
	// Cluster joins this node to a Portico cluster: membership by gossip,
	// the gateway document through Raft. Absent: a single node whose
	// gateway document comes from this file and PUT /config.
	Cluster *Cluster `yaml:"cluster"`
}

// Cluster configures clustering (node-local: each node's own addresses,
// seeds and key).
type Cluster struct {
	// Gossip is the membership address (TCP and UDP). Defaults to bind
	// ":7946".
	Gossip Endpoint `yaml:"gossip"`
	// Raft is the consensus address (TCP). Defaults to bind ":7947".
	Raft Endpoint `yaml:"raft"`
	// Peer is the authenticated node-to-node RPC address (TCP, mutual
	// TLS keyed by the cluster key). Defaults to bind ":7948".
	Peer Endpoint `yaml:"peer"`
	// Join lists seed gossip addresses (host:port); a name resolving to
	// several addresses counts as several seeds. Joining is retried with
	// backoff until one answers. Empty: wait to be joined.
	Join []string `yaml:"join"`
	// BootstrapExpect is the number of servers of a brand-new cluster:
	// once that many have found each other, they bootstrap Raft exactly
	// once. 0 (default): never bootstrap; join an existing cluster.
	BootstrapExpect int `yaml:"bootstrap_expect"`
	// Voters caps Raft voters (1, 3, 5 or 7); further servers follow as
	// non-voters. (Optional) Defaults to 3.
	Voters int `yaml:"voters"`
	// DeadServerTimeout removes a server that failed this long ago from
	// Raft, so quorum survives the permanent loss of a node. (Optional)
	// Defaults to 30m.
	DeadServerTimeout Duration `yaml:"dead_server_timeout"`
	// GossipKey is the cluster key (base64 of 16, 24 or 32 bytes; make
	// one with `portico keygen`), usually "${PORTICO_GOSSIP_KEY}". It
	// encrypts gossip and keys the peer transport. One of GossipKey and
	// GossipKeyFile is required.
	GossipKey string `yaml:"gossip_key" secret:"true"`
	// GossipKeyFile holds one base64 key per line, the first one primary:
	// rotation is install (append), use (move first), remove, each
	// followed by SIGHUP on every node.
	GossipKeyFile string `yaml:"gossip_key_file"`
	// Profile tunes failure detection: "lan" (default) or "wan".
	Profile string `yaml:"profile"`
	// Server says whether this node takes part in Raft. (Optional)
	// Defaults to true.
	Server *bool `yaml:"server"`
}

// Endpoint is a listener's bind address and the address other nodes
// use to reach it (containers, NAT).
type Endpoint struct {
	// Bind is host:port to listen on.
	Bind string `yaml:"bind"`
	// Advertise is host:port others dial; defaults to Bind, with an
	// unspecified host replaced by the node's first private address.
	Advertise string `yaml:"advertise"`
}

// Admin configures the admin API (health, readiness, config, metrics).
type Admin struct {
	// Listen is the admin address. (Optional) Defaults to "127.0.0.1:9901".
	// "off" disables the admin API. A non-loopback address requires Token.
	Listen string `yaml:"listen"`
	// Token is the bearer token every admin request must carry, except
	// /health and /ready. Usually "${PORTICO_ADMIN_TOKEN}". On a loopback
	// address it may be empty (dev only). Never logged nor returned.
	Token string `yaml:"token" secret:"true"`
	// TLS, if set, serves the admin API over HTTPS (and, with client_ca,
	// asks every client for a certificate signed by it). (Optional)
	// Certificate files are read at start; changing them needs a restart.
	TLS *AdminTLS `yaml:"tls"`
}

// AdminTLS is the admin API's certificate and optional client CA (mTLS).
type AdminTLS struct {
	// Cert is the PEM certificate chain file.
	Cert string `yaml:"cert"`
	// Key is the PEM private key file.
	Key string `yaml:"key"`
	// ClientCA, if set, is a PEM file of CAs; every admin client must then
	// present a certificate signed by one of them. (Optional)
	ClientCA string `yaml:"client_ca"`
}

// NodeCache sizes the node's tiers of the shared response cache.
type NodeCache struct {
	// MaxBytes bounds the entries this node owns (bodies, headers and
	// keys). (Optional) Defaults to 256MiB.
	MaxBytes Size `yaml:"max_bytes"`
	// NearMaxBytes bounds the near tier: hot entries owned by other
	// nodes, kept briefly here. (Optional) Defaults to 32MiB.
	NearMaxBytes Size `yaml:"near_max_bytes"`
	// NearTTL caps how long a near entry is kept. (Optional) Defaults to
	// 5s.
	NearTTL Duration `yaml:"near_ttl"`
	// PeerTimeout bounds the wait for an owner's answer before this node
	// fetches from the upstream itself. (Optional) Defaults to 2s.
	PeerTimeout Duration `yaml:"peer_timeout"`
}

// NodeLimiter tunes how this node asks the owners of global rate limits.
type NodeLimiter struct {
	// DecisionTimeout bounds how long a strict global limit waits for the
	// key's owner; past it this node decides that request alone (the
	// limit divided among live nodes, the admission charged to the owner
	// later). Sized for a loaded machine; an owner is left alone for a
	// second only after a refused connection, an error, or three missed
	// deadlines in a row. (Optional) Defaults to 250ms.
	DecisionTimeout Duration `yaml:"decision_timeout"`
}

// AccessLog configures the per-request JSON access log.
type AccessLog struct {
	// Output is "stdout" (default), "stderr", "off", or a file path
	// (appended to, created 0640).
	Output string `yaml:"output"`
	// Sample is the fraction of requests logged, in (0, 1]. Errors (status
	// >= 500) are always logged. (Optional) Defaults to 1.
	Sample float64 `yaml:"sample"`
}

// Log configures the process log.
type Log struct {
	// Level is one of debug, info (default), warn, error.
	Level string `yaml:"level"`
	// Format is "text" (default) or "json".
	Format string `yaml:"format"`
}

// TLS configures the HTTPS edge: TCP for HTTP/1.1 and HTTP/2, UDP for
// HTTP/3, on the same port number.
type TLS struct {
	// Listen is host:port for TCP and (with http3) UDP. (Optional)
	// Defaults to ":8443".
	Listen string `yaml:"listen"`
	// Certificates are PEM certificate (chain) and key files. A client's
	// SNI picks the certificate whose names (SANs, "*.example.com"
	// wildcards) match; no SNI or an unknown name gets the first. Files
	// are reloaded when they change (and on SIGHUP). Required unless
	// dev_certificate.
	Certificates []Certificate `yaml:"certificates"`
	// MinVersion is the oldest TLS version accepted: "1.2" (default) or
	// "1.3".
	MinVersion string `yaml:"min_version"`
	// DevCertificate, with no certificates, makes a local development CA
	// and a certificate for localhost, 127.0.0.1 and ::1 in data_dir/tls
	// (reused while valid) and logs the CA's path for curl --cacert. For
	// development only.
	DevCertificate bool `yaml:"dev_certificate"`
	// HTTP3 configures HTTP/3 (QUIC) on listen's port number over UDP.
	HTTP3 HTTP3 `yaml:"http3"`
}

// Certificate is one certificate and its private key.
type Certificate struct {
	// Cert is the PEM file of the certificate, then its intermediates.
	Cert string `yaml:"cert"`
	// Key is the PEM file of the private key.
	Key string `yaml:"key"`
}

// HTTP3 configures the QUIC listener. TCP responses advertise it with
// Alt-Svc so clients upgrade.
type HTTP3 struct {
	// Enabled serves HTTP/3. (Optional) Defaults to true.
	Enabled *bool `yaml:"enabled"`
	// ZeroRTT accepts requests in 0-RTT early data for safe methods (GET,
	// HEAD, OPTIONS, TRACE); other methods in early data get 425 Too
	// Early. (Optional) Defaults to true.
	ZeroRTT *bool `yaml:"zero_rtt"`
	// MaxStreams caps concurrent requests per QUIC connection.
	// (Optional) Defaults to 100.
	MaxStreams int `yaml:"max_streams"`
	// IdleTimeout closes a QUIC connection idle this long. (Optional)
	// Defaults to 30s.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// StreamReceiveWindow caps the receive window of one request body.
	// (Optional) Defaults to 6MiB.
	StreamReceiveWindow Size `yaml:"stream_receive_window"`
	// ConnectionReceiveWindow caps the receive window of a connection.
	// (Optional) Defaults to 15MiB.
	ConnectionReceiveWindow Size `yaml:"connection_receive_window"`
	// AltSvcMaxAge is how long clients may remember the HTTP/3 endpoint
	// (Alt-Svc ma). (Optional) Defaults to 24h.
	AltSvcMaxAge Duration `yaml:"alt_svc_max_age"`
	// RetryAboveHandshakes demands address validation (a QUIC Retry) from
	// new clients while more than this many handshakes are in flight
	// (handshake floods, amplification). (Optional) Defaults to 64; -1
	// always demands it.
	RetryAboveHandshakes int `yaml:"retry_above_handshakes"`
}

// Server holds the edge listener's connection-level limits.
type Server struct {
	// ReadHeaderTimeout bounds how long a client may take to send request
	// headers (slowloris). (Optional) Defaults to 10s.
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	// IdleTimeout closes idle keep-alive connections. (Optional) Defaults
	// to 120s.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// MaxHeaderBytes caps the request line plus headers. (Optional)
	// Defaults to 64KiB.
	MaxHeaderBytes Size `yaml:"max_header_bytes"`
	// MaxBodyBytes is the default request body cap for routes that don't
	// set their own; bigger bodies get 413. (Optional) Defaults to 10MiB.
	MaxBodyBytes Size `yaml:"max_body_bytes"`
	// MinBodyRate is the request body rate, in bytes per second, a client
	// must keep up after min_body_rate_grace; slower uploads are cut off
	// (slow-body attacks). (Optional) Defaults to 240; 0 disables.
	MinBodyRate *Size `yaml:"min_body_rate"`
	// MinBodyRateGrace is the time a body may take before min_body_rate
	// applies. (Optional) Defaults to 5s.
	MinBodyRateGrace Duration `yaml:"min_body_rate_grace"`
	// MaxConns caps the open client connections of the node (TCP and
	// QUIC). (Optional) Defaults to 10000; -1 means no cap.
	MaxConns int `yaml:"max_conns"`
	// MaxConnsPerIP caps the open connections of one client address.
	// (Optional) Defaults to 256; -1 means no cap.
	MaxConnsPerIP int `yaml:"max_conns_per_ip"`
	// TLSHandshakeTimeout closes connections that don't finish the TLS
	// handshake in time. (Optional) Defaults to 10s.
	TLSHandshakeTimeout Duration `yaml:"tls_handshake_timeout"`
	// H2C serves HTTP/2 over cleartext (prior knowledge) on listen.
	// (Optional) Defaults to false.
	H2C bool `yaml:"h2c"`
	// MaxConcurrentStreams caps concurrent requests per HTTP/2
	// connection. (Optional) Defaults to 250.
	MaxConcurrentStreams int `yaml:"max_concurrent_streams"`
	// IPRateLimit is a cheap per-client-IP limit checked before routing
	// and authentication (floods). Absent: off.
	IPRateLimit *IPRateLimit `yaml:"ip_rate_limit"`
	// MaxResetsPerSecond closes an HTTP/2 connection whose client cancels
	// more streams than this per second (rapid reset, CVE-2023-44487).
	// (Optional) Defaults to 500 (twice the default stream limit, so a
	// client dropping every stream at once is not taken for an attacker);
	// -1 disables the guard.
	MaxResetsPerSecond int `yaml:"max_resets_per_second"`
}

// IPRateLimit limits each client address on one node (IPv6 per /64).
type IPRateLimit struct {
	// Rate is the sustained rate per address, e.g. 200/s. (Required)
	Rate Rate `yaml:"rate"`
	// Burst is how many requests may come at once. (Optional) Defaults
	// to twice the rate's count.
	Burst int `yaml:"burst"`
	// MaxAddresses bounds the table of tracked addresses. (Optional)
	// Defaults to 65536.
	MaxAddresses int `yaml:"max_addresses"`
}

// Gateway is the cluster-wide document: what the gateway routes and where.
type Gateway struct {
	// Upstreams are the backend pools routes send traffic to.
	Upstreams []Upstream `yaml:"upstreams"`
	// Routes match requests and say what serves them.
	Routes []Route `yaml:"routes"`
	// Consumers are the known callers, identified by API key (routes
	// with auth), each optionally in a group and on a plan.
	Consumers []Consumer `yaml:"consumers"`
	// ConsumerGroups carry rate limits shared by their consumers' policy
	// (each consumer counted on its own).
	ConsumerGroups []ConsumerGroup `yaml:"consumer_groups"`
	// Plans are usage plans: rate limits and a quota per period.
	Plans []Plan `yaml:"plans"`
}

// Consumer is a caller of the gateway.
type Consumer struct {
	// Name identifies the consumer (usage, metrics, logs). (Required)
	// Unique.
	Name string `yaml:"name"`
	// Group names a consumer_groups entry whose limits apply too.
	Group string `yaml:"group"`
	// Plan names a plans entry: its limits and quota apply.
	Plan string `yaml:"plan"`
	// APIKeys are the SHA-256 hashes of the consumer's API keys,
	// "sha256:" and 64 hex digits (`portico apikey` makes a key and its
	// hash). The keys themselves are never stored nor logged.
	APIKeys []string `yaml:"api_keys"`
	// RateLimits apply to this consumer on every route that identifies it.
	RateLimits []RateLimit `yaml:"rate_limits"`
}

// ConsumerGroup is a named set of limits for consumers that name it.
type ConsumerGroup struct {
	// Name is what consumers' group refers to. (Required) Unique.
	Name string `yaml:"name"`
	// RateLimits apply to each consumer of the group.
	RateLimits []RateLimit `yaml:"rate_limits"`
}

// Plan is a usage plan.
type Plan struct {
	// Name is what consumers' plan refers to. (Required) Unique.
	Name string `yaml:"name"`
	// RateLimits apply to each consumer on the plan.
	RateLimits []RateLimit `yaml:"rate_limits"`
	// Quota caps a consumer's requests per calendar period (UTC).
	Quota *Quota `yaml:"quota"`
}

// Quota is a count per calendar period. Counters are kept by their owner
// node, persisted and replicated: they survive restarts.
type Quota struct {
	// Limit is the number of requests per period. (Required) > 0.
	Limit int64 `yaml:"limit"`
	// Per is "day", "week" (from Monday) or "month", in UTC. (Optional)
	// Defaults to "month".
	Per string `yaml:"per"`
}

// RateLimit is one limit. Several on one request all apply.
type RateLimit struct {
	// Name labels the limit in RateLimit-Policy headers and metrics.
	// (Optional) Defaults to the rate, e.g. "100/s".
	Name string `yaml:"name"`
	// Rate is the sustained rate, e.g. 100/s or 1000/h. (Required)
	Rate Rate `yaml:"rate"`
	// Burst is how many requests may come at once above the pace.
	// (Optional) Defaults to the rate's count.
	Burst int `yaml:"burst"`
	// By says what is counted separately: any of consumer, api_key,
	// client_ip (trusted proxies respected; IPv6 by /64), route, header:NAME; several
	// combine. (Optional) Defaults to [consumer] on plans, groups and
	// consumers, [client_ip] on routes.
	By []string `yaml:"by"`
	// Scope is "global" (default: the cluster counts together, the ring's
	// owner of the key holds the count) or "local" (each node alone).
	Scope string `yaml:"scope"`
	// Mode of a global limit: "async" (default: decide locally, send hits
	// to the owner every 50ms; small overshoot) or "strict" (ask the owner
	// each time; exact, one extra hop).
	Mode string `yaml:"mode"`
}

// Auth says how a route identifies consumers.
type Auth struct {
	// APIKey identifies consumers by an API key.
	APIKey *APIKeyAuth `yaml:"api_key"`
	// Optional lets requests without credentials through as anonymous
	// (limits by consumer then count them by client IP). Wrong
	// credentials are refused either way.
	Optional bool `yaml:"optional"`
	// UpstreamHeaders tells the upstream who the consumer is, in request
	// headers the gateway owns: whatever the client sent under these
	// names is removed first, so they can't be forged. An identified
	// request gets the consumer's name and, when it has one, its group;
	// an anonymous one (optional routes) gets neither, and the anonymous
	// header set to "true". (Optional) Absent: no identity headers are
	// sent and client headers of these names pass as they are;
	// upstream_headers: {} sends them under the default names.
	UpstreamHeaders *UpstreamHeaders `yaml:"upstream_headers"`
}

// UpstreamHeaders names the request headers that carry a route's
// consumer to the upstream (as Kong's X-Consumer-* headers do). Names
// must be distinct header names, none of them hop-by-hop, Host,
// Content-Length or the route's API key header.
type UpstreamHeaders struct {
	// Consumer carries the consumer's name. (Optional) Defaults to
	// "X-Consumer-Name".
	Consumer string `yaml:"consumer"`
	// Group carries the consumer's group (absent when it has none).
	// (Optional) Defaults to "X-Consumer-Groups".
	Group string `yaml:"group"`
	// Anonymous is set to "true" on requests an optional route lets
	// through without credentials. (Optional) Defaults to
	// "X-Anonymous-Consumer".
	Anonymous string `yaml:"anonymous"`
}

// APIKeyAuth reads an API key from a header, a query parameter or a
// cookie, in that order: the first that carries one is used. Every one
// configured is removed before proxying and logging, used or not.
type APIKeyAuth struct {
	// Header carries the key. (Optional) Defaults to "X-API-Key".
	Header string `yaml:"header"`
	// Query is a query parameter that may carry the key instead (removed
	// before proxying). (Optional) Empty: not read from the query.
	Query string `yaml:"query"`
	// Cookie is a cookie that may carry the key when neither the header
	// nor the query does (every cookie of that name is removed from the
	// Cookie header before proxying, the others kept as sent).
	// (Optional) Empty: not read from cookies.
	Cookie string `yaml:"cookie"`
}

// CORS is a route's cross-origin resource sharing policy (the Fetch
// standard's CORS protocol). The gateway owns the Access-Control-*
// response headers of the route: those the upstream sends are dropped.
type CORS struct {
	// AllowOrigins are the origins whose pages may call the route:
	// exact origins ("https://app.example.com", "http://localhost:3000"),
	// wildcard subdomains ("https://*.example.com": one or more labels
	// before .example.com, not example.com itself), or ["*"] alone for
	// any origin. Origins are scheme://host[:port], without a path.
	// (Required)
	AllowOrigins []string `yaml:"allow_origins"`
	// AllowMethods are the methods cross-origin pages may use (the
	// preflight's Access-Control-Request-Method). (Optional) Defaults to
	// the route's match.methods (with HEAD where GET is listed), or GET,
	// HEAD, POST when the route takes any method.
	AllowMethods []string `yaml:"allow_methods"`
	// AllowHeaders are the request headers cross-origin pages may send
	// (the preflight's Access-Control-Request-Headers); ["*"] allows any.
	// (Optional) Defaults to Accept, Content-Type and X-Requested-With,
	// plus the route's API key header when it has auth.
	AllowHeaders []string `yaml:"allow_headers"`
	// ExposeHeaders are the response headers, beyond the CORS-safelisted
	// ones, that pages may read (Access-Control-Expose-Headers), e.g.
	// [X-Request-Id, RateLimit]. (Optional) Defaults to none.
	ExposeHeaders []string `yaml:"expose_headers"`
	// AllowCredentials lets pages send cookies and HTTP authentication
	// and read the answer (Access-Control-Allow-Credentials: true). Not
	// with allow_origins ["*"]: the CORS protocol forbids it. (Optional)
	// Defaults to false.
	AllowCredentials bool `yaml:"allow_credentials"`
	// MaxAge is how long browsers may cache a preflight's answer
	// (Access-Control-Max-Age), in whole seconds, e.g. 10m. (Optional)
	// Defaults to 0: no header, the browser's own default (5s).
	MaxAge Duration `yaml:"max_age"`
}

// Upstream is a named pool of backend targets.
type Upstream struct {
	// Name is referenced by routes. (Required) Unique.
	Name string `yaml:"name"`
	// Targets are the backends. (Required) At least one.
	Targets []Target `yaml:"targets"`
	// Balance picks a target: round_robin (default), least_conn, weighted,
	// hash (consistent hash on HashOn) or random.
	Balance string `yaml:"balance"`
	// HashOn is the key for balance: hash — "header:NAME", "cookie:NAME"
	// or "client_ip". Required when Balance is hash.
	HashOn string `yaml:"hash_on"`
	// Protocol spoken to targets: "http1" (default; HTTP/1.1, or HTTP/2 when
	// a https target offers it by ALPN), "h2" (HTTP/2 over TLS only: https
	// targets, no HTTP/1.1 fallback), "h2c" (HTTP/2 over cleartext) or "h3"
	// (HTTP/3 over QUIC: https targets; WebSocket upgrades use HTTP/1.1).
	Protocol string `yaml:"protocol"`
	// TLS configures HTTPS to the targets (https:// URLs, h2, h3): which
	// CAs to trust, the name to verify, a client certificate.
	TLS UpstreamTLS `yaml:"tls"`
	// Timeouts are the defaults for routes using this upstream.
	Timeouts Timeouts `yaml:"timeouts"`
	// Retries retries failed idempotent requests on another target.
	Retries Retries `yaml:"retries"`
	// Health configures passive and active health checking.
	Health Health `yaml:"health"`
	// CircuitBreaker opens a target's circuit when its error ratio is high.
	CircuitBreaker CircuitBreaker `yaml:"circuit_breaker"`
	// MaxIdleConnsPerTarget sizes the keep-alive pool per target.
	// (Optional) Defaults to 256.
	MaxIdleConnsPerTarget int `yaml:"max_idle_conns_per_target"`
	// MaxConnsPerTarget caps open connections per target; 0 means no cap.
	MaxConnsPerTarget int `yaml:"max_conns_per_target"`
}

// UpstreamTLS configures the TLS client of an upstream. Files are paths on
// each node, read when the upstream is built (a config change or a
// restart).
type UpstreamTLS struct {
	// CA is a PEM file of the CA certificates that sign the targets'
	// certificates, trusted instead of the system roots (internal CAs).
	CA string `yaml:"ca"`
	// ServerName is the name sent in SNI and verified in the targets'
	// certificates. (Optional) Defaults to each target's host.
	ServerName string `yaml:"server_name"`
	// Cert and Key are a PEM client certificate and its key, presented to
	// targets that ask for one (mutual TLS).
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// InsecureSkipVerify accepts any certificate. For tests only: it
	// allows anyone on the path to read and change the traffic.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// Target is one backend of an upstream.
type Target struct {
	// URL is "http://host:port" or "https://host:port", optionally with a
	// base path that is prefixed to every proxied path. (Required)
	URL string `yaml:"url"`
	// Weight is the relative share for balance: weighted (and a tie-break
	// for the others). (Optional) Defaults to 1. Must be >= 0; 0 drains.
	Weight *int `yaml:"weight"`
}

// Timeouts bound one proxied exchange. Zero fields inherit: route from
// upstream, upstream from the defaults.
type Timeouts struct {
	// Connect bounds the TCP (and TLS) connect to a target. Default 5s.
	Connect Duration `yaml:"connect"`
	// ResponseHeader bounds the wait for the upstream's response headers
	// once the request is written. Default 30s.
	ResponseHeader Duration `yaml:"response_header"`
	// Total bounds the whole exchange including streaming the response
	// body. Default 0: no total limit (streams and WebSockets live on).
	Total Duration `yaml:"total"`
}

// Retries configures retrying a failed request on another target.
//
// Retries are for failures where the target never got to answer; a
// target's 5xx answer is passed to the client unless On lists "5xx". A
// client's fault (a malformed or oversized body, a slow upload, leaving
// early) is never retried.
type Retries struct {
	// Enabled turns retries on or off. (Optional) Defaults to true;
	// "enabled: false" turns them off.
	Enabled *bool `yaml:"enabled"`
	// Attempts is the number of retries after the first try (so 2 means up
	// to 3 tries). Only idempotent methods (GET, HEAD, OPTIONS, TRACE, PUT,
	// DELETE) with no body or a replayable body are retried. Default 2.
	// -1 is the older spelling of "enabled: false" and still works: once
	// defaults are applied (as Parse returns a File) it reads attempts 0,
	// enabled false.
	Attempts int `yaml:"attempts"`
	// Backoff is the base delay before a retry; it doubles per attempt with
	// jitter. Default 25ms.
	Backoff Duration `yaml:"backoff"`
	// Budget caps retries as a fraction of recent requests (a retry storm
	// guard), e.g. 0.2 = retries may add at most 20% load. Default 0.2.
	Budget float64 `yaml:"budget"`
	// On lists what is retried: "connect" (dial and TLS failures, resets
	// before any response), "5xx" (502, 503, 504 from the target; opt-in).
	// Default [connect].
	On []string `yaml:"on"`
}

// Health configures target health tracking.
type Health struct {
	// Passive ejects a target after consecutive failures of live traffic.
	Passive PassiveHealth `yaml:"passive"`
	// Active probes each target periodically. Off unless Path is set.
	Active ActiveHealth `yaml:"active"`
}

// PassiveHealth ejects targets that fail live requests.
//
// Only the target's failures count: a client's fault (a malformed or
// oversized body, a slow upload, leaving early) never does. The last
// target of an upstream still available is never ejected (nginx's rule):
// it keeps being tried, so a lone target that fails gives 502s, not 503
// "no healthy upstream".
type PassiveHealth struct {
	// Enabled turns passive ejection on or off. (Optional) Defaults to
	// true; "enabled: false" turns it off.
	Enabled *bool `yaml:"enabled"`
	// Failures is the count of consecutive failures (of the kinds On
	// lists) that ejects a target. Default 5. -1 is the older spelling of
	// "enabled: false" and still works: once defaults are applied (as
	// Parse returns a File) it reads failures 0, enabled false.
	Failures int `yaml:"failures"`
	// Cooldown is how long an ejected target stays out. Default 10s.
	Cooldown Duration `yaml:"cooldown"`
	// On lists what counts as a failure: "connect" (dial and TLS failures,
	// resets, malformed responses), "timeout" (connect and response-header
	// timeouts), "5xx" (any 500-599 answer; opt-in, as nginx's
	// max_fails with http_5xx). Default [connect, timeout].
	On []string `yaml:"on"`
}

// ActiveHealth probes targets out of band.
type ActiveHealth struct {
	// Path is requested with GET on each target; a 2xx or 3xx is healthy.
	// Empty disables active checks.
	Path string `yaml:"path"`
	// Interval between probes. Default 5s.
	Interval Duration `yaml:"interval"`
	// Timeout of one probe. Default 2s.
	Timeout Duration `yaml:"timeout"`
	// Healthy is the consecutive successes that bring a target back.
	// Default 2.
	Healthy int `yaml:"healthy"`
	// Unhealthy is the consecutive failures that take a target out.
	// Default 3.
	Unhealthy int `yaml:"unhealthy"`
}

// CircuitBreaker opens a target's circuit when too many recent requests
// failed, then lets a few probes through after OpenFor. A failure is the
// target's: a connect or TLS failure, a reset, a timeout or a 5xx answer;
// a client's fault (its body, leaving early) never counts.
type CircuitBreaker struct {
	// ErrorRatio in (0, 1] opens the circuit. 0 (default) disables the
	// breaker.
	ErrorRatio float64 `yaml:"error_ratio"`
	// MinRequests is the minimum requests in Window before the ratio is
	// judged. Default 20.
	MinRequests int `yaml:"min_requests"`
	// Window is the sliding window the ratio is computed over. Default 10s.
	Window Duration `yaml:"window"`
	// OpenFor is how long the circuit stays open before half-open probes.
	// Default 30s.
	OpenFor Duration `yaml:"open_for"`
}

// Route matches requests and sends them to an upstream.
type Route struct {
	// Name identifies the route in logs, metrics and errors. (Required)
	// Unique.
	Name string `yaml:"name"`
	// Match says which requests this route takes.
	Match Match `yaml:"match"`
	// Priority breaks ties the specificity rules leave; higher wins.
	// (Optional) Defaults to 0.
	Priority int `yaml:"priority"`
	// Upstream names the pool that serves the route. (Required)
	Upstream string `yaml:"upstream"`
	// StripPrefix removes this literal prefix from the path before
	// proxying (after normalization). Must start with "/".
	StripPrefix string `yaml:"strip_prefix"`
	// Rewrite replaces the upstream path with a template that may use the
	// route's path parameters, e.g. "/v2/users/{id}". Applied instead of
	// StripPrefix when both are set is an error.
	Rewrite string `yaml:"rewrite"`
	// Timeouts override the upstream's timeouts for this route.
	Timeouts Timeouts `yaml:"timeouts"`
	// MaxBodyBytes caps the request body; bigger gets 413. Defaults to
	// node.server.max_body_bytes.
	MaxBodyBytes Size `yaml:"max_body_bytes"`
	// PreserveHost sends the client's Host header upstream instead of the
	// target's host. Default false.
	PreserveHost bool `yaml:"preserve_host"`
	// Upgrades lists the protocols a client may switch to on this route
	// (Connection: Upgrade), e.g. [websocket]; an Upgrade the route does
	// not allow is dropped and the request proxied as a plain one.
	// (Optional) Defaults to [websocket]; [none] allows none (an empty
	// list reads as unset, as every list in this file does).
	// h2c is never allowed: an h2c upgrade would hand the client an
	// HTTP/2 connection to the target that no route governs.
	Upgrades []string `yaml:"upgrades"`
	// Cache stores this route's responses in the cluster's shared cache
	// (RFC 9111 shared-cache rules). Absent: nothing is cached.
	Cache *RouteCache `yaml:"cache"`
	// Auth identifies the consumer (401 when it fails). Absent: anonymous.
	Auth *Auth `yaml:"auth"`
	// CORS answers browsers' cross-origin requests at the gateway:
	// preflights get 204 without reaching auth, limits or the upstream,
	// and actual requests from allowed origins get the CORS headers.
	// Absent: the gateway adds no CORS headers (the upstream's pass).
	CORS *CORS `yaml:"cors"`
	// RateLimits apply to every request of the route (with the
	// consumer's, group's and plan's): 429 with Retry-After and RateLimit
	// headers when one is exceeded.
	RateLimits []RateLimit `yaml:"rate_limits"`
}

// RouteCache is a route's caching policy. Upstream Cache-Control and
// Expires decide freshness; TTL fills in when they say nothing.
type RouteCache struct {
	// TTL is the freshness of responses whose upstream gives none (no
	// max-age, s-maxage or Expires). (Optional) Defaults to 0: such
	// responses are not stored.
	TTL Duration `yaml:"ttl"`
	// Override makes TTL win over the upstream's freshness too (never
	// over no-store or private).
	Override bool `yaml:"override"`
	// Key adds request parts to the cache key, or drops query parameters
	// from it. The default key is method, scheme, host, normalized path
	// and sorted query.
	Key CacheKey `yaml:"key"`
	// Vary lists request headers that always split entries, besides those
	// the upstream's Vary names.
	Vary []string `yaml:"vary"`
	// Methods are cached. (Optional) Defaults to [GET, HEAD].
	Methods []string `yaml:"methods"`
	// Statuses may be stored with the route's ttl when the upstream gives
	// no freshness; a response with its own (max-age, s-maxage, Expires)
	// is storable whatever its final status, but 206 and 304. (Optional)
	// Defaults to the cacheable ones of RFC 9110: 200, 203, 204, 300,
	// 301, 308, 404, 405, 410, 414, 501.
	Statuses []int `yaml:"statuses"`
	// MaxObjectSize caps a stored response (headers and body); bigger ones
	// stream through uncached. (Optional) Defaults to 8MiB.
	MaxObjectSize Size `yaml:"max_object_size"`
	// StaleWhileRevalidate serves a stale entry this long after it
	// expired while one background request refreshes it (RFC 5861; the
	// upstream's own stale-while-revalidate wins when longer).
	StaleWhileRevalidate Duration `yaml:"stale_while_revalidate"`
	// StaleIfError serves a stale entry this long after it expired when
	// the upstream fails, times out or answers 5xx.
	StaleIfError Duration `yaml:"stale_if_error"`
	// Scope is where an entry lives: "region" (default: the owner among
	// the nodes of this node's region), "cluster" (one owner cluster-wide)
	// or "node" (each node its own copy).
	Scope string `yaml:"scope"`
	// AllowAuthorization stores responses to requests that carry
	// Authorization even when the response doesn't say public (RFC 9111
	// §3.5); add the credential's identity to the key (key.headers or
	// key.consumer) unless the responses are the same for everyone.
	AllowAuthorization bool `yaml:"allow_authorization"`
	// AllowSetCookie stores responses that set cookies. Default false.
	AllowSetCookie bool `yaml:"allow_set_cookie"`
	// TagHeaders are response headers listing an entry's purge tags.
	// (Optional) Defaults to [Surrogate-Key, Cache-Tag].
	TagHeaders []string `yaml:"tag_headers"`
}

// CacheKey adjusts the cache key of a route.
type CacheKey struct {
	// Headers are request headers added to the key.
	Headers []string `yaml:"headers"`
	// Cookies are request cookies added to the key (by name).
	Cookies []string `yaml:"cookies"`
	// Consumer adds the authenticated consumer to the key. Routes with
	// auth always do, so one consumer's answers are never served to
	// another.
	Consumer bool `yaml:"consumer"`
	// IgnoreQuery lists query parameters left out of the key (e.g.
	// utm_source); "*" leaves out the whole query.
	IgnoreQuery []string `yaml:"ignore_query"`
}

// Match is a route's request predicate. Every listed condition must hold;
// an empty list means "any".
type Match struct {
	// Hosts are exact names ("api.example.com") or one leading wildcard
	// label ("*.example.com", which matches one or more labels). A port in
	// the request's Host is ignored. Empty: any host.
	Hosts []string `yaml:"hosts"`
	// Paths are patterns: "/users" (exact), "/users/{id}" (one segment),
	// "/files/{path...}" (the rest, catch-all, last only), "/api/*" (prefix:
	// "/api" and everything below it). Empty: "/*".
	Paths []string `yaml:"paths"`
	// Methods are HTTP methods, upper case. Empty: any method.
	Methods []string `yaml:"methods"`
	// Headers maps a header name to the value it must have exactly; the
	// value "*" means "present with any value".
	Headers map[string]string `yaml:"headers"`
	// Query maps a query parameter to the value it must have exactly; "*"
	// means present.
	Query map[string]string `yaml:"query"`
}
