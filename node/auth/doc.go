// Package auth owns authentication: finding which consumer a request
// comes from and removing the credentials it read, so they reach neither
// the upstream nor the access log. API keys are the first kind; JWT, HMAC,
// basic and mTLS fit the same seam (an authenticator with one method).
//
// Keys indexes a snapshot's consumers once per config (by name, and by
// the SHA-256 of each API key); New builds one route's stage over it. API
// keys come from a header, a query parameter or a cookie (in that order).
// The stage writes the identity into the request's exchange
// (exchange.Identity: names, never a credential), answers 401 itself, and
// on routes with auth.upstream_headers owns the identity headers the
// upstream gets (consumer, group, anonymous marker): the client's values
// under those names are always replaced.
// Rate limits by consumer are node/limit's; this package knows nothing
// of them. It imports node/config, node/exchange and problem only.
package auth
