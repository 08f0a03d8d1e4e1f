package route_test

import (
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/portico-gw/portico/node/config"
	"github.com/portico-gw/portico/node/route"
)

// TestPathsAgreesWithRouter: for every request the Router gives to a
// route, that route's Paths alone finds the same pattern and parameters
// from the path — even when the request the Paths see has none of the
// headers, query or method the route's conditions need.
func TestPathsAgreesWithRouter(t *testing.T) {
	routes := []config.Route{
		{Name: "parts", Match: config.Match{Paths: []string{"/items/{id}/parts/{part}", "/items/{id}/{rest...}", "/items/{id}"},
			Headers: map[string]string{"X-Forwarded-Proto": "https"}}},
		{Name: "files", Match: config.Match{Paths: []string{"/files/{path...}", "/files/index"}, Methods: []string{"GET"}}},
		{Name: "users", Match: config.Match{Paths: []string{"/users/{id}", "/users/me"}, Query: map[string]string{"v": "2"}}},
		{Name: "all"},
	}
	rt, err := route.New(routes)
	if err != nil {
		t.Fatal(err)
	}
	paths := make([]*route.Paths, len(routes))
	for i, rc := range routes {
		if paths[i], err = route.NewPaths(rc); err != nil {
			t.Fatal(err)
		}
	}
	for _, path := range []string{
		"/items/1/parts/p", "/items/1", "/items/1/a/b/c", "/items/1/parts", "/files/a/b", "/files/index",
		"/users/me", "/users/7", "/other", "/",
	} {
		req := httptest.NewRequest("GET", "http://example.com"+path+"?v=2", nil)
		req.Header.Set("X-Forwarded-Proto", "https")
		var want route.Result
		if rt.Match(req, path, &want) != route.Found {
			t.Fatalf("%s: the router matched nothing", path)
		}
		var got route.Result
		if !paths[want.Route].Match(path, &got) {
			t.Errorf("%s: route %q's Paths do not match what the router gave it", path, routes[want.Route].Name)
			continue
		}
		if got.Pattern != want.Pattern || params(&got) != params(&want) {
			t.Errorf("%s: Paths of %q = %s %s, router = %s %s", path, routes[want.Route].Name,
				got.Pattern, params(&got), want.Pattern, params(&want))
		}
	}
	var res route.Result
	if paths[0].Match("/elsewhere", &res) || paths[0].Match("", &res) || paths[0].Match("items", &res) {
		t.Error("route parts' Paths matched a path none of its patterns does")
	}
}

func params(r *route.Result) string {
	s := ""
	for name, value := range r.All() {
		s += fmt.Sprintf("%s=%s;", name, value)
	}
	return s
}
