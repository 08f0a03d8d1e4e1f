// Package peer is the authenticated node-to-node transport of a Portico
// cluster: one mutual-TLS listener (Server) on which node mounts the peer
// handlers of cache and limiter, and the client side (NewTransport), an
// http.RoundTripper those packages are handed. It owns the peer
// credentials (Credentials), the request and response size caps and the
// per-request deadline. It does not know what travels over it (cache
// fills, limiter hits, purges), who the members are, or where they are:
// callers pass addresses, and PeerName tells a handler who is calling.
//
// # Trust: mutual TLS keyed by the cluster key
//
// Every node that holds the cluster key derives the same CA private key,
// ed25519.NewKeyFromSeed(HKDF-SHA256(key, salt "portico peer ca v1")),
// signs its own certificate for a fresh ed25519 key (CN and SAN = node
// name, plus the SAN "portico-peer" that clients verify instead of an
// address, which NAT and containers change) and trusts exactly the CAs of
// the keys it holds. TLS 1.3 only; both sides must present a certificate
// from one of those CAs. With several keys (rotation: install, switch
// primary, remove) a node trusts all of them and signs with the first.
//
// Protocols other than HTTP ride the same trust: StreamListener accepts
// only connections that completed the mutual handshake for its one ALPN
// protocol (Raft's port uses "portico-raft"), and DialStream is its
// client. Refused connections never reach the caller and are logged once
// per address per RefusalLogEvery, so a scanner or a node with another key
// doesn't flood the log.
//
// Why not an HMAC over each request: mutual TLS also encrypts cache
// bodies and limiter traffic, and rules out replays without a nonce
// store. Why not a CA distributed through Raft: a joining node would need
// the CA before it can talk to anyone. The cost: anyone with the key can
// mint a certificate for any node name, so a peer's name is as
// trustworthy as the key holders, no more; the key is the trust boundary,
// as it already is for gossip encryption.
//
// Only standard library packages are imported (crypto/hkdf among them),
// nothing of Portico's.
package peer
