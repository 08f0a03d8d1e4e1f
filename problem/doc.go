// Package problem is the one table of every answer the gateway makes
// itself — the request pipeline, the admin API, the edge and the cache —
// and the one renderer of those answers as RFC 9457
// application/problem+json.
//
// Each Type has a stable slug; its documentation is the section of the
// same name in docs/problems.md (a test fails when one is missing), and
// Base+slug is the body's "type" URI, which clients may branch on. A
// detail is written for humans and never carries upstream addresses or Go
// error strings.
//
// It imports nothing of Portico's, so that every package may use it: it
// is pure data and formatting, like cluster/ring is pure hashing.
// Deciding which problem an error is stays with the package that knows
// the error (node's statusOf for the pipeline's).
package problem
