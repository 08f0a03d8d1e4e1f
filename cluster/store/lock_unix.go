//go:build unix

package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDir takes an exclusive, non-blocking lock on dir/LOCK so two stores
// (in one process or two) never share a DataDir. Without it the second
// would block forever inside raft-wal's bolt metadata file, which waits
// for its own lock with no timeout. The returned func releases the lock.
func lockDir(dir string) (func() error, error) {
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking raft data dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("locking raft data dir: %s is in use by another store", dir)
		}
		return nil, fmt.Errorf("locking raft data dir: %w", err)
	}
	return f.Close, nil // closing the file releases the lock
}
