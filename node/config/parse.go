package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads and parses the config file at path; see Parse.
func Load(path string, env Env) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(path, data, env)
}

// Parse decodes a whole config file (node-local settings and the
// cluster-wide document), substitutes ${VAR} references from env, applies
// the defaults and validates the result. name labels error positions
// (usually the file's path). On failure the error is an Errors listing
// every problem found, each at its file:line:col; the File is then nil.
// The node name defaults to os.Hostname.
func Parse(name string, data []byte, env Env) (*File, error) {
	return loader{env: env, hostname: os.Hostname}.file(name, data)
}

// ParseWith is Parse with override applied to the decoded File before
// defaults and validation, so values set by command-line flags (e.g.
// --listen) are checked like the file's own. override may be nil.
func ParseWith(name string, data []byte, env Env, override func(*File)) (*File, error) {
	return loader{env: env, hostname: os.Hostname, override: override}.file(name, data)
}

// ParseGateway decodes the cluster-wide document alone: what the admin
// API's PUT /config receives and what the cluster replicates. It has the
// top-level keys of a config file except `node`, which is an error there:
// node-local settings come from each node's own file. Defaults and
// validation are those of Parse.
func ParseGateway(name string, data []byte, env Env) (*Gateway, error) {
	return loader{env: env, hostname: os.Hostname}.gateway(name, data)
}

// LoadGateway reads a whole config file but decodes its gateway document
// only, skipping the node section (whose variables, such as the cluster
// key, the caller may not have): what `portico config diff` and `apply`
// send to a running cluster.
func LoadGateway(path string, env Env) (*Gateway, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return loader{env: env, hostname: os.Hostname, skipNode: true}.gateway(path, data)
}

// loader holds what Parse and ParseGateway take from their environment, so
// tests can inject it.
type loader struct {
	env Env
	// hostname names the node when node.name is empty.
	hostname func() (string, error)
	// override, if set, adjusts a decoded File before defaults.
	override func(*File)
	// skipNode skips a node section in gateway documents.
	skipNode bool
}

func (p loader) file(name string, data []byte) (*File, error) {
	f := new(File)
	d, err := p.decode(name, data, f, false)
	if err != nil {
		return nil, err
	}
	if p.override != nil {
		p.override(f)
	}
	f.applyDefaults(p.hostname)
	v := validator{file: name, origins: d.origins}
	v.node(&f.Node)
	v.gateway(&f.Gateway)
	if err := append(d.errs, v.errs...).err(); err != nil {
		return nil, err
	}
	return f, nil
}

func (p loader) gateway(name string, data []byte) (*Gateway, error) {
	g := new(Gateway)
	d, err := p.decode(name, data, g, true)
	if err != nil {
		return nil, err
	}
	g.applyDefaults()
	v := validator{file: name, origins: d.origins}
	v.gateway(g)
	if err := append(d.errs, v.errs...).err(); err != nil {
		return nil, err
	}
	return g, nil
}

// decode parses data as YAML and decodes it into out (a *File or
// *Gateway). A YAML syntax error stops there and is returned; decoding
// problems are left in the decoder's errs, to be reported together with
// validation's.
func (p loader) decode(name string, data []byte, out any, gatewayOnly bool) (*decoder, error) {
	root, err := parseYAML(name, data)
	if err != nil {
		return nil, err
	}
	d := &decoder{file: name, env: p.env, origins: make(origins), fields: make(fieldCache), gatewayOnly: gatewayOnly, skipNode: p.skipNode, limit: valueLimit(len(data))}
	if root != nil {
		v := reflect.ValueOf(out).Elem()
		d.value(root, v, slot{label: "the document", addr: out})
	}
	return d, nil
}

// parseYAML parses the single YAML document in data. It returns nil for an
// empty document.
func parseYAML(name string, data []byte) (root *yaml.Node, err error) {
	defer func() {
		// The YAML library reports its errors by panicking internally and
		// recovering; should one escape, it is still an error in the input.
		if r := recover(); r != nil {
			root, err = nil, Errors{{File: name, Msg: fmt.Sprintf("invalid YAML: %v", r)}}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, Errors{yamlError(name, err)}
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return nil, Errors{{File: name, Line: next.Line, Col: next.Column,
			Msg: `a config file holds one YAML document: remove the "---" separator and what follows, or split the documents into files`}}
	case !errors.Is(err, io.EOF):
		return nil, Errors{yamlError(name, err)}
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

// yamlError turns the YAML library's "yaml: line N: msg" into an Error at
// that line.
func yamlError(name string, err error) Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	e := Error{File: name, Msg: "invalid YAML: " + msg}
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		num, text, ok := strings.Cut(rest, ": ")
		if n, err := strconv.Atoi(num); ok && err == nil && n > 0 {
			e.Line, e.Msg = n, "invalid YAML: "+text
		}
	}
	return e
}
