// Package cache owns Portico's distributed HTTP response cache: cache keys,
// RFC 9111 shared-cache freshness, the local tiers (ristretto, sized in
// bytes), the distributed tier (owner lookup, peer fetch, request
// coalescing at both hops) and purges by key, URL prefix and tag.
//
// It imports nothing of Portico's but the pure problem table. It declares
// what it needs (OwnerPicker, an http.RoundTripper for peers, and each
// cached route's fill chain, a FillHandler: the route's upstream and
// response stages) and node adapts the cluster to it; node mounts
// PeerHandler on the peer listener and publishes each config snapshot's
// Routes (Cache.Publish) when it swaps the snapshot in. It does not
// decide gateway error statuses: upstream errors come from next as
// responses (or an http.ErrAbortHandler panic) and go out as they came,
// unless a stale entry may stand in; its own answer, the only-if-cached
// 504, is the not-cached problem.
//
// # A request's way (groupcache's Get, for HTTP)
//
// Routes.Middleware builds a route's handler for one config version, in
// front of the route's fill chain (next). A client's request reaches it
// after the node's client stages (routing, authentication, limits). It
// computes the key (KeyOf) and asks the OwnerPicker. The owner serves
// from its owner tier; another node serves from its near tier
// (short-lived copies of hot keys owned elsewhere, capped by NearTTL and
// NearMaxBytes, fresh only), else asks the owner over the peer protocol
// (peer.go) with a Fill (the route, the config version it routed the
// request under, the key's consumer), else — the owner down, erroring or
// silent for PeerTimeout — fetches from next.ServeHTTP itself and keeps a
// near copy. On the owner a peer's fill takes the shortest way: peer
// listener → PeerHandler → the published Routes' handler of that route →
// next.ServeFill, nothing else of the node's (the client stages ran on
// the asker). The owner keys it with the Fill's consumer and serves it as
// owner, never forwarding it again, so nodes whose rings disagree for a
// moment cannot loop. An owner that serves the route under another
// config version answers a fresh entry it holds for the request (the key
// the asker sent) but fills nothing under a version it was not asked
// for; one that would have to fill then, serves no such cached route,
// has none published, or where either side's version is 0 (a node on
// its own file before any cluster config: the version names no one
// config) refuses the fill, and the asker fills it itself as when the
// owner is down, but counts it in
// portico_cache_peer_version_mismatches_total{reason="config"}, not as
// a peer error: it happens for a moment whenever the config changes. An
// owner of an older binary, which knows no /cache/v2/fill, answers 404
// and is counted alike with reason="protocol": the fill protocol's
// version is in its path (peer.go) because an old owner would ignore
// the descriptor's route, version and consumer and key every consumer's
// fill as anonymous, serving one consumer's answer to another. Fills
// are coalesced on the key at each hop (flight.go): one upstream request
// per cold key cluster-wide while the nodes serve the same config
// version and the owner answers; while versions differ (the owner lacks
// the entry) or the owner is down, each asker fills the key itself,
// once per asker.
//
// A fill buffers the response until it is known to be shareable and
// complete, then stores it, hands it to the waiters and serves it to its
// own client from the entry. A response that is not shareable (no-store,
// private, Set-Cookie, a status not listed and no explicit freshness,
// larger than MaxObjectSize — known from Content-Length or when the
// buffer overflows) is streamed to the fill's own client from then on,
// flushes included, and releases the waiters at once to go upstream
// themselves, uncoalesced, as nginx's proxy_cache_lock does: a private
// answer is never shared, and a large body is never held whole. Fills run detached from the client's
// cancellation while they may still be stored (others wait for them), and
// stop when their client leaves once they stream.
//
// # Freshness (RFC 9111, RFC 5861, RFC 9213)
//
// The response's directives come from the first valid targeted field,
// Portico-Cache-Control (Portico's alone, never passed on) then
// CDN-Cache-Control (passed on, to caches in front), else from
// Cache-Control; a targeted field replaces Cache-Control and Expires
// altogether, as Fastly's Surrogate-Control and Cloudflare's
// CDN-Cache-Control do, and one that does not parse as a structured
// dictionary is ignored. HTTP dates are the three RFC 9110 forms,
// exactly (date.go); anything else is invalid: an invalid Expires means
// already expired, an invalid Date is the time the response came. Of an
// Age list the first value counts, and no answer's Age is below the Age
// received. Explicit freshness (s-maxage, max-age, Expires) makes any
// final status storable but 206 and 304; Policy.Statuses limits only
// what the policy's TTL stores.
//
// Lifetime is s-maxage, max-age, Expires - Date, else the policy's TTL;
// with Override the TTL wins over all of those and over no-cache, never
// over no-store, private, Vary: * or the Authorization/Set-Cookie rules.
// There is no heuristic freshness: without any of them (and no TTL) a
// response is not stored. Age follows §4.2.3 with the injected clock. A
// response to a request with Authorization is stored only when it says
// public, s-maxage or must-revalidate, or the policy allows it; Set-Cookie
// (and Set-Cookie2, alike) is stored only when allowed, and then without
// the cookie lines (only the fetching client gets them). A 103 Early
// Hints reaches the fill's client, relayed by the owner over the peer
// protocol, and is never stored: hits and coalesced waiters get none. Vary (upstream's plus Policy.Vary)
// makes secondary keys: a marker at the key lists the headers, each
// variant is stored beside it; Vary: * is not stored. Stale entries are
// revalidated with their validators; a 304 refreshes them. Within
// stale-while-revalidate one background request refreshes the entry while
// it is served: the route's handler fills it as owner with a copy of the
// request that found it stale (sharing nothing with it) and fetches
// through next.ServeFill with that request's Fill (its route, the
// version of its Routes, the key's consumer); within stale-if-error it
// stands in for a 5xx, a failed or timed out upstream. must-revalidate, proxy-revalidate, s-maxage and no-cache
// forbid both. Clients get 304 to If-None-Match / If-Modified-Since from
// a fresh 200, a Range of it, and Age and Cache-Status (RFC 9211) on
// every answer: "Portico; hit; node=a", "Portico; fwd=miss; stored;
// node=b", "Portico; hit; stale; detail=stale-while-revalidate; node=a",
// with node the node that stored the entry: the owner, or this node for
// a near copy it filled itself (the owner down, erroring or on another
// config), whose hits read "Portico; hit; node=<self>". A hit of a near
// copy of an owner's entry adds "detail=near" ("Portico; hit; node=a;
// detail=near"); coalesced waiters add "collapsed".
//
// Client request directives: no-cache, max-age=0 and Pragma are ignored,
// as most CDNs do, so that clients cannot force origin traffic; they and
// the client's conditionals are not forwarded on fills. only-if-cached is
// honoured (504, the not-cached problem, on a miss, after asking the
// owner). Request no-store stops
// the response from being stored.
//
// # Safety
//
// The key is method, scheme, host, normalized path and sorted query plus
// what the policy adds (KeyOf). What the key leaves out the upstream
// does not see on a fill, so that one client cannot choose an answer
// for everybody (cache poisoning): the fill's Host is the key's (lower
// case, no port, no trailing dot — nginx's $host; the node's proxy
// derives X-Forwarded-Host and Forwarded from it), and the request
// headers that some upstreams build links, redirects or routes from are
// removed unless keyed (Key.Headers or Vary). The one list
// (upstream.go's overrideHeaders; the README's cache section names the
// same): X-Forwarded-Host, X-Forwarded-Server, X-Host,
// X-HTTP-Host-Override, X-Original-Host, Forwarded, X-Forwarded-Proto,
// X-Forwarded-Scheme, X-Forwarded-Ssl, Front-End-Https, X-Url-Scheme,
// X-Forwarded-Port, X-Original-URL, X-Original-URI, X-Rewrite-URL,
// X-Forwarded-Path, X-Forwarded-Prefix, X-Forwarded-Uri,
// X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override. Requests
// with a body, Upgrade, If-Match, If-Unmodified-Since or If-Range bypass
// the cache; a Range request that misses passes through uncached. Purge
// tag headers are removed from client responses.
//
// # Invalidation (RFC 9111 §4.4)
//
// An unsafe request (any method but GET, HEAD, OPTIONS and TRACE, unknown
// ones included) on a cached route goes around the cache, and when its
// status is 2xx or 3xx it invalidates, by URL (Selector.URL: every
// method, variant and key extra), its target and its Location and
// Content-Location when they name the same host, on this node and on
// every live peer (Config.Peers, PurgeCluster: owners and near tiers),
// before its response header goes to the client; the wait for peers is
// bounded by PeerTimeout, and a peer that did not confirm is counted as a
// peer error. Unsafe requests on routes without a cache section
// invalidate nothing. The cache's own requests (peers' fills, refreshes) are always GET or HEAD: they
// never invalidate.
//
// # Memory
//
// Each tier is a ristretto cache whose cost is an entry's body, headers,
// keys and tags plus a fixed 512-byte overhead that covers ristretto's
// item, the entry struct and its purge-index records. The purge index
// (index.go) holds exactly the entries ristretto holds, kept in step by
// ristretto's OnExit, so the budget bounds it too. ristretto expires
// entries (real time) after their freshness, stale windows and, with
// validators, a revalidation grace; freshness itself is judged with
// Config.Now. Prefix purges scan the index: O(entries). Outside the
// budget: ristretto's frequency counters (about 1.5% of MaxBytes), fills
// in progress (each buffers up to its MaxObjectSize) and the peer
// protocol's buffers.
package cache
