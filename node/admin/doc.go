// Package admin is the gateway node's admin API: its mux and every
// handler (/health, /ready, GET and PUT /config, /metrics, POST
// /cache/purge, the consumers' usage and usage reset, /cluster/members,
// /cluster/status, /debug/pprof), the bearer-token check, the guard
// against browsers' cross-site requests and DNS rebinding, and the shapes
// of its JSON answers. Every refusal it makes is a problem of package
// problem; the mux's own 404 (unknown path) and 405 (with Allow) are
// net/http's short text answers.
//
// It owns no state of the node: New takes small interfaces (Options) that
// package node implements over the running node (node/adminapi.go), so
// the handlers can be tested against fakes. It does not own the admin
// listener, its TLS, or what a purge, usage read or config write does.
//
// It imports, of this module, only node/config and problem (the stage
// rule of docs/architecture.md, enforced by .ci/deps-check.sh).
package admin
