//go:build !unix

package store

// lockDir is a no-op where flock is unavailable: keep one store per
// DataDir by configuration.
func lockDir(string) (func() error, error) { return func() error { return nil }, nil }
