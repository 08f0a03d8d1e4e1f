package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// cmdUsage prints a consumer's quota usage in the current periods, read
// from the node that holds each counter; --reset sets them to zero first.
func cmdUsage(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("portico usage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	reset := fs.Bool("reset", false, "set the consumer's quota counts to zero (all periods' current counts)")
	client := adminFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: portico usage CONSUMER [--reset] [--admin ADDR] [--token-file FILE]")
		fs.PrintDefaults()
	}
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	// Flags may follow the consumer's name too.
	name := fs.Arg(0)
	if fs.NArg() > 0 {
		if code, stop := parseFlags(fs, fs.Args()[1:]); stop {
			return code
		}
	}
	if name == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	c, err := client()
	if err != nil {
		fmt.Fprintf(stderr, "portico: %v\n", err)
		return 1
	}
	method, path := http.MethodGet, "/consumers/"+url.PathEscape(name)+"/usage"
	if *reset {
		method, path = http.MethodPost, path+"/reset"
	}
	b, _, err := c.do(method, path, nil, nil)
	if err != nil {
		fmt.Fprintf(stderr, "portico: %v\n", err)
		return 1
	}
	var u struct {
		Consumer, Plan string
		Quotas         []struct {
			Policy, Period         string
			Start, End             time.Time
			Used, Limit, Remaining int64
		}
	}
	if err := json.Unmarshal(b, &u); err != nil {
		fmt.Fprintf(stderr, "portico: unexpected answer from the admin API: %v\n", err)
		return 1
	}
	if *reset {
		fmt.Fprintf(stdout, "reset the quota counts of %s\n", u.Consumer)
	}
	plan := u.Plan
	if plan == "" {
		plan = "none"
	}
	fmt.Fprintf(stdout, "consumer %s, plan %s\n", u.Consumer, plan)
	if len(u.Quotas) == 0 {
		fmt.Fprintln(stdout, "  no quota")
	}
	for _, q := range u.Quotas {
		fmt.Fprintf(stdout, "  %s: %d of %d used, %d left this %s (%s to %s UTC)\n", q.Policy, q.Used, q.Limit, q.Remaining,
			q.Period, q.Start.UTC().Format("2006-01-02 15:04"), q.End.UTC().Format("2006-01-02 15:04"))
	}
	return 0
}
