package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/portico-gw/portico/node"
	"github.com/portico-gw/portico/node/config"
)

func cmdConfig(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "portico config: validate FILE... | schema | diff -f FILE | apply -f FILE")
		return 2
	}
	switch args[0] {
	case "validate":
		if len(args) < 2 {
			fmt.Fprintln(stderr, "portico config validate: name at least one FILE")
			return 2
		}
		code := 0
		for _, file := range args[1:] {
			if err := validateFile(file); err != nil {
				reportConfigError(stderr, err)
				code = 1
				continue
			}
			fmt.Fprintf(stdout, "%s: ok\n", file)
		}
		return code
	case "schema":
		s, err := config.JSONSchema()
		if err != nil {
			fmt.Fprintf(stderr, "portico: %v\n", err)
			return 1
		}
		_, _ = stdout.Write(s)
		return 0
	case "apply":
		return cmdConfigApply(args[1:], stdout, stderr)
	case "diff":
		return cmdConfigDiff(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "portico config: unknown subcommand %q (validate, schema, diff, apply)\n", args[0])
	return 2
}

// validateFile gives the verdict serve would: the file parses and
// validates, and a node can build it (node.Check: the router, upstream
// pools with their TLS files, cache policies).
func validateFile(file string) error {
	f, err := config.Load(file, os.LookupEnv)
	if err != nil {
		return err
	}
	return node.Check(file, f)
}

// gatewayFlags parses the flags of config diff/apply (-f FILE and the
// admin flags), then loads FILE's gateway document locally (with ${VAR}
// from this shell's environment, so errors are reported as file:line:col
// before anything is sent) and the admin client. stop means the command
// ends with code (0 after --help).
func gatewayFlags(fs *flag.FlagSet, args []string, stderr io.Writer) (g *config.Gateway, c *adminClient, file string, code int, stop bool) {
	fs.SetOutput(stderr)
	f := fs.String("f", "", "config file whose upstreams and routes to use")
	client := adminFlags(fs)
	if code, stop := parseFlags(fs, args); stop {
		return nil, nil, "", code, true
	}
	if *f == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "portico config: name the file with -f FILE (and no other arguments)")
		return nil, nil, "", 2, true
	}
	g, err := config.LoadGateway(*f, os.LookupEnv)
	if err != nil {
		return nil, nil, "", reportConfigError(stderr, err), true
	}
	if c, err = client(); err != nil {
		fmt.Fprintf(stderr, "portico: %v\n", err)
		return nil, nil, "", 1, true
	}
	return g, c, *f, 0, false
}

// cmdConfigApply sends FILE's gateway document to PUT /config. The node
// checks it (validation and Check) before it is stored or proposed to
// Raft; a document without routes needs --force.
func cmdConfigApply(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("portico config apply", flag.ContinueOnError)
	ifVersion := fs.Int64("if-version", 0, "apply only if the served version is this one (compare-and-set)")
	force := fs.Bool("force", false, "apply even if the document has no routes (every request would get 404)")
	g, c, file, code, stop := gatewayFlags(fs, args, stderr)
	if stop {
		return code
	}
	hdr := map[string]string{"Content-Type": "application/yaml"}
	if *ifVersion > 0 {
		hdr["If-Match"] = strconv.Quote(strconv.FormatInt(*ifVersion, 10))
	}
	path := "/config"
	if *force {
		path += "?force=true"
	}
	body, _, err := c.do("PUT", path, bytes.NewReader(g.Document()), hdr)
	if err != nil {
		fmt.Fprintf(stderr, "portico: %v\n", err)
		return 1
	}
	var out struct{ Version int64 }
	_ = json.Unmarshal(body, &out)
	fmt.Fprintf(stdout, "applied %s: config version %d\n", file, out.Version)
	return 0
}

// cmdConfigDiff compares FILE's gateway document with the served one.
// Exit codes follow diff(1): 0 same, 1 different, 2 trouble. Only what
// differs is shown (gatewayDiff), not the defaults both documents expand
// to.
func cmdConfigDiff(args []string, stdout, stderr io.Writer) int {
	f, c, file, code, stop := gatewayFlags(flag.NewFlagSet("portico config diff", flag.ContinueOnError), args, stderr)
	if stop {
		if code != 0 {
			code = 2
		}
		return code
	}
	served, hdr, err := c.do("GET", "/config?part=gateway", nil, nil)
	if err != nil {
		fmt.Fprintf(stderr, "portico: %v\n", err)
		return 2
	}
	local, err := yaml.Marshal(f)
	if err != nil {
		fmt.Fprintf(stderr, "portico: %v\n", err)
		return 2
	}
	raw, _ := os.ReadFile(file) // read by LoadGateway already; shows added items as written
	d, err := gatewayDiff(served, local, raw)
	if err != nil {
		fmt.Fprintf(stderr, "portico: %v\n", err)
		return 2
	}
	if d == "" {
		fmt.Fprintf(stdout, "%s matches the served config (version %s)\n", file, hdr.Get("Portico-Config-Version"))
		return 0
	}
	fmt.Fprintf(stdout, "--- served (version %s)\n+++ %s\n%s", hdr.Get("Portico-Config-Version"), file, d)
	return 1
}
