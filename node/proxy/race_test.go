//go:build race

package proxy

// raceEnabled: the race detector makes sync.Pool drop items on purpose.
const raceEnabled = true
