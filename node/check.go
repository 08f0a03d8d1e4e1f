package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/portico-gw/portico/node/config"
	"github.com/portico-gw/portico/node/exchange"
	"github.com/portico-gw/portico/node/proxy"
	"github.com/portico-gw/portico/node/route"
)

// One verdict for every way in. A document is accepted by `portico config
// validate`, `serve` (New, Reload), `config apply` and PUT /config only if
// it parses and validates (config.Parse*) AND this node can build it:
// Check runs the steps of compile that can fail on the document (router,
// upstream pools and their TLS files, rewrite templates, strip prefixes,
// cache policies), through the same functions compile calls, without
// starting or registering anything. `config validate` calls it; in a
// cluster, PUT /config (and so `config apply`) calls it before a document
// reaches Raft, so a document no node can build is refused with 400
// instead of being committed and then failing on every node. On a single
// node, serve and PUT /config build the document for real (compile), and
// what fails there is reported in Check's form (checkErrors).

// Check reports what keeps this node from serving f, as config.Errors
// (labelled with name), or nil. f must be a parsed (validated) File.
func Check(name string, f *config.File) error {
	return checkGateway(name, f.Node, &f.Gateway)
}

func checkGateway(name string, nc config.Node, g *config.Gateway) error {
	var errs config.Errors
	add := func(err error) {
		if err != nil {
			errs = append(errs, config.Error{File: name, Msg: err.Error()})
		}
	}
	trusted, err := parsePrefixes(nc.TrustedProxies)
	add(err)
	ups := make(map[string]*proxy.Upstream, len(g.Upstreams))
	defer func() {
		for _, u := range ups {
			_ = u.Close(context.Background()) // never started: nothing to wait for
		}
	}()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, uc := range g.Upstreams {
		u, err := buildUpstream(uc, proxy.Options{Logger: quiet, TrustedProxies: trusted})
		add(err)
		if u != nil {
			ups[uc.Name] = u
		}
	}
	if _, err := route.New(g.Routes); err != nil {
		add(fmt.Errorf("build router: %w", err))
	}
	for _, rc := range g.Routes {
		if ups[rc.Upstream] == nil {
			continue // its upstream's error is reported
		}
		if _, err := buildRouteParts(rc, ups[rc.Upstream], nil); err != nil {
			add(fmt.Errorf("build route %q: %w", rc.Name, err))
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// buildUpstream builds (does not start) an upstream's pool with its TLS
// client config; compile and Check share it.
func buildUpstream(uc config.Upstream, o proxy.Options) (*proxy.Upstream, error) {
	tc, err := upstreamTLS(uc.TLS)
	if err != nil {
		return nil, fmt.Errorf("upstream %q: %w", uc.Name, err)
	}
	o.TLSClientConfig = tc
	u, err := proxy.NewUpstream(uc, o)
	if err != nil {
		return nil, fmt.Errorf("build upstream %q: %w", uc.Name, err)
	}
	return u, nil
}

// routeParts are the parts of a route that its config alone decides.
type routeParts struct {
	strip   string // normalized: compared bytewise with the normalized request path
	rewrite *route.Template
	handler *proxy.Handler
}

// buildRouteParts builds what compileRoute needs from rc and checks its
// cache policy; compile and Check share it.
func buildRouteParts(rc config.Route, up *proxy.Upstream, onError func(http.ResponseWriter, *http.Request, error)) (routeParts, error) {
	var p routeParts
	if rc.StripPrefix != "" {
		strip, err := route.Normalize(rc.StripPrefix)
		if err != nil {
			return p, fmt.Errorf("strip_prefix: %w", err)
		}
		p.strip = strip
	}
	if rc.Rewrite != "" {
		t, err := route.ParseTemplate(rc.Rewrite)
		if err != nil {
			return p, err
		}
		p.rewrite = t
	}
	if rc.Cache != nil {
		if err := cachePolicy(rc).Validate(); err != nil {
			return p, fmt.Errorf("cache: %w", err)
		}
	}
	h, err := proxy.NewHandler(rc, up, proxy.HandlerOptions{Path: exchange.UpstreamPath, ErrorHandler: onError})
	if err != nil {
		return p, err
	}
	p.handler = h
	return p, nil
}

// checkErrors labels a compile error as config.Errors of file, the form
// Check gives the same error.
func checkErrors(file string, err error) error {
	var cerrs config.Errors
	if errors.As(err, &cerrs) {
		return err
	}
	return config.Errors{{File: file, Msg: err.Error()}}
}
