// Command portico is the Portico gateway binary: `serve` runs a node,
// `dev` runs a node on the embedded showcase config beside the built-in
// demo upstream, `config validate` checks files, `demo-upstream` runs the
// httpbin-like demo service, `bench` runs the benchmark suite, `version`
// prints the build.
//
// Exit codes: 0 success, 1 failure (including an invalid config), 2 bad
// usage.
package main
