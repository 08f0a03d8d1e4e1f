package main

import (
	"fmt"
	"io"
	"os"

	"github.com/portico-gw/portico/node/config"
)

func cmdConfig(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "portico config: validate FILE... | schema")
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
	}
	fmt.Fprintf(stderr, "portico config: unknown subcommand %q (validate, schema)\n", args[0])
	return 2
}
