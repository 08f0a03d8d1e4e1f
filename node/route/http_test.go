package route

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// routingHandler is the shape of the gateway's routing stage: normalize the
// escaped path (400 on error), match (404, 405 with Allow) and answer with
// the route name and the path that would go upstream.
func routingHandler(rt *Router, names func(int) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path, err := Normalize(r.URL.EscapedPath())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var res Result
		switch rt.Match(r, path, &res) {
		case NotFound:
			http.NotFound(w, r)
		case MethodNotAllowed:
			for _, m := range rt.Allowed(r, path) {
				w.Header().Add("Allow", m)
			}
			w.WriteHeader(http.StatusMethodNotAllowed)
		case Found:
			fmt.Fprintf(w, "%s %s", names(res.Route), path)
		}
	})
}

// TestRouter_OverHTTP sends raw request lines over a real connection, so
// the trick paths reach the router exactly as a client wrote them (an HTTP
// client library would clean some of them first).
func TestRouter_OverHTTP(t *testing.T) {
	routes := testRoutes()
	rt := mustRouter(t, routes)
	srv := httptest.NewServer(routingHandler(rt, func(i int) string { return routes[i].Name }))
	t.Cleanup(srv.Close)

	tests := []struct {
		name, method, target, host string
		status                     int
		body, allow                string
	}{
		{name: "dotdot", method: "GET", target: "/public/../admin", status: 200, body: "admin /admin"},
		{name: "encoded dotdot", method: "GET", target: "/public/%2e%2e/admin", status: 200, body: "admin /admin"},
		{name: "double slash", method: "GET", target: "//admin", status: 200, body: "admin /admin"},
		{name: "encoded letter", method: "GET", target: "/%61dmin", status: 200, body: "admin /admin"},
		{name: "encoded slash", method: "GET", target: "/public/..%2fadmin", status: 200, body: "public /public/..%2Fadmin"},
		{name: "backslash", method: "GET", target: "/public/..%5cadmin", status: 400},
		{name: "encoded nul", method: "GET", target: "/admin%00", status: 400},
		{name: "not found", method: "GET", target: "/nope", status: 404},
		{name: "method not allowed", method: "POST", target: "/users/1", status: 405, allow: "DELETE"},
		{name: "host and port", method: "GET", target: "/users/1", host: "API.example.com:8443", status: 200, body: "host-exact /users/1"},
		{name: "absolute form", method: "GET", target: "http://api.example.com/users/../users/2", host: "api.example.com", status: 200, body: "host-exact /users/2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host := tt.host
			if host == "" {
				host = "example.org"
			}
			resp, body := rawRequest(t, srv.Listener.Addr().String(), tt.method, tt.target, host)
			if resp.StatusCode != tt.status {
				t.Fatalf("%s %s: status %d, want %d (body %q)", tt.method, tt.target, resp.StatusCode, tt.status, body)
			}
			if tt.body != "" && body != tt.body {
				t.Errorf("%s %s: body %q, want %q", tt.method, tt.target, body, tt.body)
			}
			if tt.allow != "" && resp.Header.Values("Allow")[0] != tt.allow {
				t.Errorf("%s %s: Allow %q, want first %q", tt.method, tt.target, resp.Header.Values("Allow"), tt.allow)
			}
		})
	}
}

func rawRequest(t *testing.T, addr, method, target, host string) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatalf("set deadline: %v", err)
	}
	if _, err := fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", method, target, host); err != nil {
		t.Fatalf("write request: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("read body: %v", err)
	}
	return resp, string(body)
}
