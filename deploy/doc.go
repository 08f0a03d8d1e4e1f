// Package e2e holds Portico's container deployment and the end-to-end test
// that runs it in a real Docker engine.
//
// Dockerfile builds a FROM-scratch image around the static binary (no
// shell, no libc, UID 65532, state in /data); docker-compose.yml runs three
// nodes and the demo upstream, each node with its own file from compose/.
//
// e2e_test.go (build tag e2e, so `go test ./...` skips it; .ci/run runs it
// when an engine answers) builds the binary and the image, starts the same
// three node files as containers and proves what README "Clustering"
// promises: the cluster forms and serves version 1; killing the leader
// elects another and the survivors still serve and take writes; a node cut
// off from the others keeps serving its last config and refuses writes with
// 503; once reconnected it catches up with the latest version.
//
// It does not own the binary's behaviour (cmd/portico, node, cluster) nor
// Kubernetes or systemd manifests (not written yet). It imports nothing of
// this module: it drives the binary it builds through the docker CLI and
// plain HTTP on published loopback ports.
package e2e
