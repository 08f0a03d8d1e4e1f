package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/portico-gw/portico/node/config"
	"github.com/portico-gw/portico/node/exchange"
)

// Keys is every consumer of a snapshot, by name and by API key hash.
// Built once per config, read-only after: safe for concurrent use.
type Keys struct {
	byName map[string]exchange.Identity
	byKey  map[[sha256.Size]byte]exchange.Identity
}

// NewKeys indexes g's consumers. API keys are "sha256:HEX" (validated by
// config; others are skipped).
func NewKeys(g *config.Gateway) *Keys {
	k := &Keys{byName: make(map[string]exchange.Identity, len(g.Consumers)), byKey: map[[sha256.Size]byte]exchange.Identity{}}
	for _, cc := range g.Consumers {
		id := exchange.Identity{Consumer: cc.Name, Group: cc.Group, Plan: cc.Plan}
		k.byName[cc.Name] = id
		for _, key := range cc.APIKeys {
			var sum [sha256.Size]byte
			if h, ok := strings.CutPrefix(key, "sha256:"); ok {
				if _, err := hex.Decode(sum[:], []byte(h)); err == nil {
					k.byKey[sum] = id
				}
			}
		}
	}
	return k
}

// Identity returns the identity of the consumer called name, as an
// authenticator would have found it (without a key id).
func (k *Keys) Identity(name string) (exchange.Identity, bool) {
	id, ok := k.byName[name]
	return id, ok
}

// byHash returns the identity whose API key has this SHA-256. A map
// lookup of the hash leaks nothing useful through timing: an attacker
// would need a preimage.
func (k *Keys) byHash(sum *[sha256.Size]byte) (exchange.Identity, bool) {
	id, ok := k.byKey[*sum]
	return id, ok
}
