package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// savedConfig persists the gateway document the node serves, so that an
// acknowledged write (PUT /config or a SIGHUP reload) survives a restart.
// It lives in DATA_DIR/gateway.json, written atomically (temp file, fsync,
// rename, fsync of the directory) before the write is acknowledged.
//
// Which wins at start, the file or the stored document? The latest write.
// The record keeps the digest of the file's gateway part as it was when
// last applied: if the file still has that digest, nobody edited it since,
// and the stored document (maybe a later API write) wins; if the file
// changed, the file is the newer write and is applied.
type savedConfig struct {
	path string
}

// savedRecord is the on-disk record.
type savedRecord struct {
	Version    int64  `json:"version"`
	Digest     string `json:"digest"`
	FileDigest string `json:"file_digest"` // the file's gateway digest when last applied from or seen in the file
	Source     string `json:"source"`      // "file" or "api"
	Document   string `json:"document"`    // the gateway document, YAML
}

func openSavedConfig(dataDir string) (*savedConfig, error) {
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, fmt.Errorf("create data dir (node.data_dir) %s: %w", dataDir, err)
	}
	return &savedConfig{path: filepath.Join(dataDir, "gateway.json")}, nil
}

// load returns the stored record, or nil when there is none yet.
func (s *savedConfig) load() (*savedRecord, error) {
	data, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read stored config: %w", err)
	}
	var d savedRecord
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("stored config %s is corrupt (move it away to start from the file): %w", s.path, err)
	}
	return &d, nil
}

// save writes d durably, replacing the previous record atomically.
func (s *savedConfig) save(d *savedRecord) error {
	data, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".gateway-*.json")
	if err != nil {
		return fmt.Errorf("store config: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("store config: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("store config: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("store config: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("store config: %w", err)
	}
	dir, err := os.Open(filepath.Dir(s.path))
	if err != nil {
		return fmt.Errorf("store config: %w", err)
	}
	defer dir.Close()
	if err := dir.Sync(); err != nil {
		return fmt.Errorf("store config: %w", err)
	}
	return nil
}
