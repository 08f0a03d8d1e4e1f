// Package auth owns authentication: finding which consumer a request
// comes from and removing the credentials it read, so they reach neither
// the upstream nor the access log. API keys are the first kind; JWT, HMAC,
// basic and mTLS fit the same seam (an authenticator with one method).
//
// Keys indexes a snapshot's consumers once per config (by name, and by
// the SHA-256 of each API key); New builds one route's stage over it. The
// stage writes the identity into the request's exchange
// (exchange.Identity: names, never a credential) and answers 401 itself.
// Rate limits by consumer are node/limit's; this package knows nothing
// of them. It imports node/config, node/exchange and problem only.
package auth
