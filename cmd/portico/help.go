package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"strings"
)

func isHelp(s string) bool { return s == "-h" || s == "-help" || s == "--help" }

// parseFlags parses a subcommand's flags. stop reports that the command
// ends here with code: 0 after -h/--help (flag printed the usage), 2 on
// a bad flag.
func parseFlags(fs *flag.FlagSet, args []string) (code int, stop bool) {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0, true
	case err != nil:
		return 2, true
	}
	return 0, false
}

// flaglessHelp answers -h/--help for the subcommands that take no flags
// (so that `keygen --help` prints no key and `config validate --help`
// opens no file): it prints their lines of the usage and reports true.
func flaglessHelp(args []string, stdout io.Writer) bool {
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "config":
		if len(rest) > 0 && (rest[0] == "diff" || rest[0] == "apply") {
			return false // flag sets: they answer -h themselves
		}
		if len(rest) > 0 && !isHelp(rest[0]) {
			cmd += " " + rest[0]
		}
	case "cluster":
		if len(rest) > 0 && rest[0] == "status" {
			return false
		}
	case "keygen", "apikey", "version":
	default:
		return false
	}
	if !slices.ContainsFunc(rest, isHelp) {
		return false
	}
	fmt.Fprintln(stdout, "Usage:")
	keep := false
	for _, l := range strings.Split(usage, "\n") {
		switch {
		case strings.HasPrefix(l, "  portico "+cmd):
			keep = true
		case !strings.HasPrefix(l, "   "):
			keep = false
		}
		if keep {
			fmt.Fprintln(stdout, l)
		}
	}
	return true
}

// versionLine is what `portico version` prints: the version make set
// (-X main.version), else the module version from the build info, then
// the commit (with "+modified" when the tree was dirty) and the Go
// version the binary was built with, when the build info has them.
func versionLine(v string, bi *debug.BuildInfo) string {
	if bi == nil {
		return "portico " + v
	}
	if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	line := "portico " + v
	if rev != "" {
		line += " commit " + rev[:min(len(rev), 12)]
		if modified == "true" {
			line += "+modified"
		}
	}
	if bi.GoVersion != "" {
		line += " " + bi.GoVersion
	}
	return line
}

func printVersion(stdout io.Writer) {
	bi, _ := debug.ReadBuildInfo()
	fmt.Fprintln(stdout, versionLine(version, bi))
}
