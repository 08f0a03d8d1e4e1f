package membership

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/memberlist"
)

// ParseKey decodes a gossip key: standard base64 (with padding) of 16, 24
// or 32 random bytes, selecting AES-128, -192 or -256. Surrounding spaces
// are ignored, so a line of a key file can be passed as is.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("gossip key is empty: want base64 of 16, 24 or 32 random bytes (make one with `portico keygen`)")
	}
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("gossip key is not standard base64 (make one with `portico keygen`): %w", err)
	}
	if err := memberlist.ValidateKey(key); err != nil {
		return nil, fmt.Errorf("gossip key decodes to %d bytes, want 16, 24 or 32 (make one with `portico keygen`)", len(key))
	}
	return key, nil
}

// Keys returns copies of the primary gossip key and of all installed keys,
// primary first; both are nil when gossip is unencrypted.
func (m *Membership) Keys() (primary []byte, all [][]byte) {
	if m.keyring == nil {
		return nil, nil
	}
	m.keyMu.Lock()
	defer m.keyMu.Unlock()
	all = copyKeys(m.keyring.GetKeys())
	if len(all) == 0 {
		return nil, nil
	}
	return all[0], all
}

// SetKeys makes keys the installed set, keys[0] the primary: it installs
// the new ones, switches the primary, then removes those not listed.
// Rotation is three calls on every node, each done everywhere before the
// next: SetKeys(old, new); SetKeys(new, old); SetKeys(new). Encryption
// can't be turned on or off at run time: a Membership started without keys
// refuses.
func (m *Membership) SetKeys(keys [][]byte) error {
	if m.closed.Load() {
		return ErrShutdown
	}
	if m.keyring == nil {
		return errors.New("setting gossip keys: gossip was started unencrypted; restart with cluster.gossip_key to enable encryption")
	}
	if len(keys) == 0 {
		return errors.New("setting gossip keys: need at least one key")
	}
	for i, k := range keys {
		if err := memberlist.ValidateKey(k); err != nil {
			return fmt.Errorf("setting gossip keys: key %d: %w", i+1, err)
		}
	}
	keys = copyKeys(keys)
	m.keyMu.Lock()
	defer m.keyMu.Unlock()
	for _, k := range keys {
		if err := m.keyring.AddKey(k); err != nil {
			return fmt.Errorf("setting gossip keys: installing a key: %w", err)
		}
	}
	if err := m.keyring.UseKey(keys[0]); err != nil {
		return fmt.Errorf("setting gossip keys: switching the primary key: %w", err)
	}
	// Remove from the end: memberlist's RemoveKey shifts later keys in
	// place, under readers that may still hold the slice; removing the last
	// key shifts nothing, and in a rotation the removed key is last.
	installed := copyKeys(m.keyring.GetKeys())
	for _, k := range slices.Backward(installed) {
		if slices.ContainsFunc(keys, func(want []byte) bool { return bytes.Equal(want, k) }) {
			continue
		}
		if err := m.keyring.RemoveKey(k); err != nil {
			return fmt.Errorf("setting gossip keys: removing a key: %w", err)
		}
	}
	return nil
}

func copyKey(k []byte) []byte { return append([]byte(nil), k...) }

func copyKeys(keys [][]byte) [][]byte {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = copyKey(k)
	}
	return out
}
