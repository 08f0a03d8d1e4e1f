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
			if _, err := config.Load(file, os.LookupEnv); err != nil {
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

// gatewayFlags parses the flags of config diff/apply (-f FILE and the
// admin flags), then loads FILE's gateway document locally (with ${VAR}
// from this shell's environment, so errors are reported as file:line:col
// before anything is sent) and the admin client. code != 0 means stop.
func gatewayFlags(fs *flag.FlagSet, args []string, stderr io.Writer) (g *config.Gateway, c *adminClient, file string, code int) {
	fs.SetOutput(stderr)
	f := fs.String("f", "", "config file whose upstreams and routes to use")
	client := adminFlags(fs)
	if fs.Parse(args) != nil {
		return nil, nil, "", 2
	}
	if *f == "" {
		fmt.Fprintln(stderr, "portico config: name the file with -f FILE")
		return nil, nil, "", 2
	}
	g, err := config.LoadGateway(*f, os.LookupEnv)
	if err != nil {
		return nil, nil, "", reportConfigError(stderr, err)
	}
	if c, err = client(); err != nil {
		fmt.Fprintf(stderr, "portico: %v\n", err)
		return nil, nil, "", 1
	}
	return g, c, *f, 0
}

func cmdConfigApply(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("portico config apply", flag.ContinueOnError)
	ifVersion := fs.Int64("if-version", 0, "apply only if the served version is this one (compare-and-set)")
	g, c, file, code := gatewayFlags(fs, args, stderr)
	if code != 0 {
		return code
	}
	hdr := map[string]string{"Content-Type": "application/yaml"}
	if *ifVersion > 0 {
		hdr["If-Match"] = strconv.Quote(strconv.FormatInt(*ifVersion, 10))
	}
	body, _, err := c.do("PUT", "/config", bytes.NewReader(g.Document()), hdr)
	if err != nil {
		fmt.Fprintf(stderr, "portico: %v\n", err)
		return 1
	}
	var out struct{ Version int64 }
	_ = json.Unmarshal(body, &out)
	fmt.Fprintf(stdout, "applied %s: config version %d\n", file, out.Version)
	return 0
}

func cmdConfigDiff(args []string, stdout, stderr io.Writer) int {
	f, c, file, code := gatewayFlags(flag.NewFlagSet("portico config diff", flag.ContinueOnError), args, stderr)
	if code != 0 {
		return code
	}
	served, hdr, err := c.do("GET", "/config?part=gateway", nil, nil)
	if err != nil {
		fmt.Fprintf(stderr, "portico: %v\n", err)
		return 1
	}
	local, err := yaml.Marshal(f)
	if err != nil {
		fmt.Fprintf(stderr, "portico: %v\n", err)
		return 1
	}
	d := diffLines(string(served), string(local))
	if d == "" {
		fmt.Fprintf(stdout, "%s matches the served config (version %s)\n", file, hdr.Get("Portico-Config-Version"))
		return 0
	}
	fmt.Fprintf(stdout, "--- served (version %s)\n+++ %s\n%s", hdr.Get("Portico-Config-Version"), file, d)
	return 0
}
