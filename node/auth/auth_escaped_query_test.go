package auth_test

import (
	"testing"

	"github.com/portico-gw/portico/node/auth"
	"github.com/portico-gw/portico/node/config"
)

// TestEscapedQueryName: a key sent under the percent-encoded name of the
// query parameter (api%5Fkey, which every query parser reads as api_key)
// is read and removed like the plain name, whether or not the plain name
// also appears in the query. Fails today: authenticate's fast path
// (strings.Contains(RawQuery, name)) skips cutQueryParam, which does
// unescape names, so the key is neither read nor removed: the request is
// refused on a required route, and on an optional one it goes on
// anonymous with the credential in the query for the upstream and the
// access log.
func TestEscapedQueryName(t *testing.T) {
	for _, optional := range []bool{false, true} {
		h := auth.New(recorder{}, &config.Auth{APIKey: &config.APIKeyAuth{Header: "X-API-Key", Query: "api_key"}, Optional: optional}, testKeys())
		s := serve(t, h)
		a := s.get(t, "/p?api%5Fkey="+aliceKey+"&z=1", "")
		if a.status != 200 || a.seen.who.Consumer != "alice" || a.seen.rawQuery != "z=1" {
			t.Errorf("optional %v: %d, who %+v, next's query %q; want 200, alice, %q",
				optional, a.status, a.seen.who, a.seen.rawQuery, "z=1")
		}
	}
}
