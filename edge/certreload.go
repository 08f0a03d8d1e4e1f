package edge

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// ReloadCertificates reads the configured certificate and key files
// again and, if every pair is good, swaps them in at once: handshakes
// that start afterwards get the new certificates, connections already
// open keep theirs. If any pair is bad, the certificates in use stay and
// the error names every problem. Reloads also happen on their own when
// the files change (see TLSConfig.WatchDebounce); this is the SIGHUP path.
// It may be called from many goroutines at once; reloads run one at a
// time.
func (s *Server) ReloadCertificates() error {
	if s.tlsFiles == nil {
		return errors.New("edge: reloading certificates: the server has no TLS configured")
	}
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	st, err := loadCertificates(s.tlsFiles, s.now())
	s.metrics.certReload(err)
	if err != nil {
		return fmt.Errorf("edge: reloading certificates (the previous ones stay in use): %w", err)
	}
	s.certs.Store(st)
	s.metrics.certExpiries(st)
	s.warnExpiring(st)
	return nil
}

// warnExpiring logs a warning for each chain of st that expires soon.
func (s *Server) warnExpiring(st *certStore) {
	now := s.now()
	for _, c := range st.expiringSoon(now) {
		s.log.Warn("certificate expires soon: renew it", "cert_file", c.files.CertFile,
			"name", c.name, "not_after", stamp(c.notAfter), "left", c.notAfter.Sub(now).Round(time.Minute))
	}
}

// certWatcher calls reload when a watched certificate or key file
// changes, once the changes have stopped for debounce, and checkExpiry
// once a day. It watches the files' directories rather than the files,
// so that it sees a file replaced by rename (the atomic way to write it)
// and Kubernetes swapping its ..data symlink; the files themselves may be
// symlinks.
type certWatcher struct {
	fw          *fsnotify.Watcher
	files       map[string]bool // cleaned paths of the watched files
	debounce    time.Duration
	reload      func()
	checkExpiry func()
	stop        chan struct{}
	done        chan struct{}
}

// newCertWatcher starts watching the directories of files. Its goroutine
// runs until close.
func newCertWatcher(files []CertFiles, debounce time.Duration, reload, checkExpiry func()) (*certWatcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watching certificate files: %w", err)
	}
	w := &certWatcher{fw: fw, files: map[string]bool{}, debounce: debounce, reload: reload,
		checkExpiry: checkExpiry, stop: make(chan struct{}), done: make(chan struct{})}
	dirs := map[string]bool{}
	for _, f := range files {
		for _, p := range []string{f.CertFile, f.KeyFile} {
			p = filepath.Clean(p)
			w.files[p] = true
			dirs[filepath.Dir(p)] = true
		}
	}
	for d := range dirs {
		if err := fw.Add(d); err != nil {
			_ = fw.Close()
			return nil, fmt.Errorf("watching certificate directory %s: %w", d, err)
		}
	}
	go w.run()
	return w, nil
}

// run is the watcher's goroutine.
func (w *certWatcher) run() {
	defer close(w.done)
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	defer settle.Stop()
	daily := time.NewTicker(24 * time.Hour)
	defer daily.Stop()
	for {
		select {
		case ev, ok := <-w.fw.Events:
			if !ok {
				return
			}
			if w.relevant(ev) {
				settle.Reset(w.debounce)
			}
		case _, ok := <-w.fw.Errors:
			// An overflow loses events: reload to be sure.
			if !ok {
				return
			}
			settle.Reset(w.debounce)
		case <-settle.C:
			w.reload()
		case <-daily.C:
			w.checkExpiry()
		case <-w.stop:
			return
		}
	}
}

// relevant reports whether ev may have changed a watched file: a write,
// create, rename or removal of one of them, or of a Kubernetes "..data"
// style entry beside them.
func (w *certWatcher) relevant(ev fsnotify.Event) bool {
	if ev.Op == fsnotify.Chmod {
		return false
	}
	name := filepath.Clean(ev.Name)
	return w.files[name] || strings.HasPrefix(filepath.Base(name), "..")
}

// close stops the watcher and waits for its goroutine. It must be called
// once.
func (w *certWatcher) close() {
	close(w.stop)
	<-w.done
	_ = w.fw.Close()
}
