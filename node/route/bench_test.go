package route

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/portico-gw/portico/node/config"
)

// benchRoutes returns n routes in a realistic mix: exact, templated,
// nested-template, catch-all and prefix paths, exact and wildcard hosts,
// method restrictions, header and query conditions. With each route it
// returns a request it should win (want = its index).
func benchRoutes(n int) ([]config.Route, []*http.Request) {
	routes := make([]config.Route, 0, n)
	reqs := make([]*http.Request, 0, n)
	for i := range n {
		svc := fmt.Sprintf("/svc%d", i/10)
		var m config.Match
		var req *http.Request
		switch i % 10 {
		case 0:
			m = config.Match{Paths: []string{svc + "/health"}, Methods: []string{"GET"}}
			req = request("GET", "gw.example.org", svc+"/health")
		case 1:
			m = config.Match{Paths: []string{svc + "/users/{id}"}, Methods: []string{"GET"}}
			req = request("GET", "gw.example.org", svc+"/users/1234")
		case 2:
			m = config.Match{Paths: []string{svc + "/users/{id}"}, Methods: []string{"PUT", "DELETE"}}
			req = request("DELETE", "gw.example.org", svc+"/users/1234")
		case 3:
			m = config.Match{Paths: []string{svc + "/users/{id}/orders/{order}"}}
			req = request("GET", "gw.example.org", svc+"/users/1234/orders/987")
		case 4:
			m = config.Match{Paths: []string{svc + "/static/{path...}"}}
			req = request("GET", "gw.example.org", svc+"/static/css/site/main.css")
		case 5:
			m = config.Match{Paths: []string{svc + "/*"}}
			req = request("GET", "gw.example.org", svc+"/legacy/page")
		case 6:
			m = config.Match{Hosts: []string{fmt.Sprintf("h%d.example.com", i)}, Paths: []string{"/v1/items/{id}"}}
			req = request("GET", fmt.Sprintf("h%d.example.com", i), "/v1/items/55")
		case 7:
			m = config.Match{Hosts: []string{fmt.Sprintf("*.t%d.example.com", i)}, Paths: []string{"/api/{res}/{id}"}}
			req = request("GET", fmt.Sprintf("acme.t%d.example.com", i), "/api/orders/55")
		case 8:
			m = config.Match{Paths: []string{svc + "/search"}, Query: map[string]string{"q": "*"}}
			req = request("GET", "gw.example.org", svc+"/search?page=2&q=gateway")
		case 9:
			m = config.Match{Paths: []string{svc + "/admin"}, Methods: []string{"POST"}, Headers: map[string]string{"X-Role": "admin"}}
			req = request("POST", "gw.example.org", svc+"/admin", "X-Role", "admin")
		}
		routes = append(routes, config.Route{Name: fmt.Sprint(i), Match: m})
		reqs = append(reqs, req)
	}
	return routes, reqs
}

func BenchmarkMatch(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			routes, reqs := benchRoutes(n)
			rt := mustRouter(b, routes)
			paths := make([]string, len(reqs))
			var res Result
			for i, r := range reqs {
				paths[i] = r.URL.EscapedPath()
				if st := rt.Match(r, paths[i], &res); st != Found || res.Route != i {
					b.Fatalf("request %d (%s %s%s) = %v, route %d; want route %d", i, r.Method, r.Host, paths[i], st, res.Route, i)
				}
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				rt.Match(reqs[i], paths[i], &res)
				if i++; i == len(reqs) {
					i = 0
				}
			}
		})
	}
}

func BenchmarkAllowed(b *testing.B) {
	routes, _ := benchRoutes(1000)
	rt := mustRouter(b, routes)
	r := request("PATCH", "gw.example.org", "/svc7/users/1")
	b.ReportAllocs()
	for b.Loop() {
		rt.Allowed(r, "/svc7/users/1")
	}
}

func BenchmarkExpand(b *testing.B) {
	rt := mustRouter(b, []config.Route{{Name: "r", Match: config.Match{Paths: []string{"/users/{id}/orders/{order}"}}}})
	var res Result
	rt.Match(request("GET", "x", "/"), "/users/1234/orders/987", &res)
	tpl, err := ParseTemplate("/v2/users/{id}/orders/{order}")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		tpl.Expand(&res)
	}
}
