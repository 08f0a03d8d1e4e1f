// Package config owns Portico's configuration schema: the plain data types
// of a config file (types.go), human units (units.go), strict YAML decoding
// that reports every problem as file:line:col, defaults, validation, and
// the immutable Snapshot a node compiles and swaps atomically.
//
// Load, Parse and ParseGateway run one pipeline:
//
//	YAML → yaml.Node (go.yaml.in/yaml/v3)
//	     → strict decode (decode.go): unknown/duplicate keys, wrong types,
//	       bad units, ${VAR} substitution in scalars (env.go); records the
//	       line:col of every value (origin.go)
//	     → defaults (defaults.go), in one place
//	     → validation (validate*.go, conflict.go), every problem at once
//
// and return either a defaulted, valid document or Errors. A Snapshot is a
// deep, immutable copy of one with a digest of its cluster-wide part.
// Marshalling (marshal.go) writes a document back with units in human form
// and secrets redacted; JSONSchema (schema.go) describes the file for
// editors; examples/ at the repository root holds one file per feature.
// write.go holds the options of a gateway-document write (ApplyOptions)
// and the one definition of its outcomes that are not config errors
// (ErrVersionConflict, ErrRemovesAllRoutes, ErrQuorumLost), shared by node,
// which returns them, and node/admin, which answers them.
//
// It does not own anything that runs: routers, upstream pools and the
// request pipeline are built from a Snapshot by node and its stage
// packages, and it reads no flags and no environment itself (the caller
// passes an Env). It imports only the standard library and the YAML
// library.
package config
