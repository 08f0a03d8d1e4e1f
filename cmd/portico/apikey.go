package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
)

// cmdAPIKey prints a new random API key (32 bytes from crypto/rand,
// base64url without padding) and the hash a consumer's api_keys holds.
// The key itself is stored nowhere.
func cmdAPIKey(stdout, stderr io.Writer) int {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		fmt.Fprintf(stderr, "portico: %v\n", err)
		return 1
	}
	key := base64.RawURLEncoding.EncodeToString(b)
	fmt.Fprintf(stdout, `key:  %s
hash: %s

Give the key to the consumer (it is shown only here; clients send it in the
X-API-Key header). Put the hash, not the key, in the config:

  consumers:
    - name: NAME
      api_keys: ["%s"]
`, key, apiKeyHash(key), apiKeyHash(key))
	return 0
}

// apiKeyHash is the form of key that config stores: "sha256:" and the hex
// SHA-256 of the key as the client sends it.
func apiKeyHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(sum[:])
}
