// Package guard owns the stages that refuse requests by their shape before
// anything else of the route looks at them. Today that is the body size
// limit (413); the threat-protection stages (JSON and XML limits, SQL
// injection, the WAF) join it here.
//
// Each stage is a constructor that checks and precomputes its settings
// once per config snapshot and returns an http.Handler wrapping the next
// stage. It imports node/config, node/exchange and problem only.
package guard
