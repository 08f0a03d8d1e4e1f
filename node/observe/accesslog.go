package observe

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/portico-gw/portico/node/config"
)

const (
	defaultFlushInterval = time.Second
	defaultBufferSize    = 64 << 10
	// maxPooledLine caps the encode buffers kept for reuse, so one huge
	// line (a 60 KiB query) does not pin its buffer forever.
	maxPooledLine = 8 << 10
)

// LogOptions are the access log's dependencies and tuning; the zero value
// is ready to use.
type LogOptions struct {
	// Stdout receives the log when the output is "stdout". If nil,
	// os.Stdout.
	Stdout io.Writer
	// Stderr receives the log when the output is "stderr". If nil,
	// os.Stderr.
	Stderr io.Writer
	// Rand returns a number in [0, 1) to decide sampling. It is called
	// concurrently, so it must be safe for that. If nil,
	// math/rand/v2.Float64.
	Rand func() float64
	// Now stamps entries whose Time is zero. If nil, time.Now.
	Now func() time.Time
	// FlushInterval bounds how long a line may wait in the buffer before
	// it is written out. If zero, 1s. If negative, every line is written
	// at once and no flush goroutine runs.
	FlushInterval time.Duration
	// BufferSize is the write buffer in bytes; a full buffer is written
	// out at once. If zero, 64 KiB.
	BufferSize int
}

// AccessLog writes one JSON object per request. Lines are encoded outside
// any lock, then appended to a buffer under a mutex; a goroutine owned by
// the log writes the buffer out every FlushInterval, and Close writes the
// rest. So a crash can lose up to one interval of lines: the price of not
// making a syscall per request. Its methods may be called from any
// goroutine.
type AccessLog struct {
	sample  float64 // in (0, 1]
	rand    func() float64
	now     func() time.Time
	perLine bool // FlushInterval < 0

	bufs sync.Pool // *[]byte encode buffers

	mu       sync.Mutex
	out      io.Writer // nil when the output is "off"
	bw       *bufio.Writer
	file     *os.File // nil unless the output is a file
	closed   bool
	writeErr error // first write error, reported by Close

	stop      chan struct{} // closed by Close to stop flushLoop
	done      chan struct{} // closed by flushLoop on exit; nil if none runs
	closeOnce sync.Once
	closeErr  error
}

// NewAccessLog opens the log cfg describes: output "stdout" (also when
// empty), "stderr", "off" (Log does nothing), or else a file path, opened
// for appending and created with mode 0640; its directory must exist.
// cfg.Sample of 0 means 1; outside [0, 1] it is an error.
func NewAccessLog(cfg config.AccessLog, o LogOptions) (*AccessLog, error) {
	sample := cfg.Sample
	if !(sample >= 0 && sample <= 1) { // also refuses NaN
		return nil, fmt.Errorf("access_log.sample is %v: use a fraction in (0, 1], e.g. 0.1 to log one request in ten", sample)
	}
	if sample == 0 {
		sample = 1
	}
	l := &AccessLog{
		sample:  sample,
		rand:    o.Rand,
		now:     o.Now,
		perLine: o.FlushInterval < 0,
		stop:    make(chan struct{}),
	}
	l.bufs.New = func() any { b := make([]byte, 0, 1024); return &b }
	if l.rand == nil {
		l.rand = rand.Float64
	}
	if l.now == nil {
		l.now = time.Now
	}
	out, err := l.open(cfg.Output, o)
	if err != nil {
		return nil, err
	}
	if out == nil { // "off"
		return l, nil
	}
	size := o.BufferSize
	if size <= 0 {
		size = defaultBufferSize
	}
	l.out, l.bw = out, bufio.NewWriterSize(out, size)
	if !l.perLine {
		interval := o.FlushInterval
		if interval == 0 {
			interval = defaultFlushInterval
		}
		l.done = make(chan struct{})
		go l.flushLoop(interval)
	}
	return l, nil
}

// open resolves output to a writer; nil for "off".
func (l *AccessLog) open(output string, o LogOptions) (io.Writer, error) {
	switch output {
	case "off":
		return nil, nil
	case "", "stdout":
		return orDefault(o.Stdout, os.Stdout), nil
	case "stderr":
		return orDefault(o.Stderr, os.Stderr), nil
	}
	f, err := os.OpenFile(output, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("opening access log %q: directory %q does not exist: create it, or set node.access_log.output to another path, \"stdout\" or \"off\": %w",
			output, filepath.Dir(output), err)
	}
	if err != nil {
		return nil, fmt.Errorf("opening access log %q: %w", output, err)
	}
	l.file = f
	return f, nil
}

// orDefault returns w, or def when w is nil.
func orDefault(w, def io.Writer) io.Writer {
	if w == nil {
		return def
	}
	return w
}

// Enabled reports whether the log writes anywhere (output is not "off"),
// so callers can skip building entries nobody reads.
func (l *AccessLog) Enabled() bool { return l != nil && l.bw != nil }

// Log writes e unless sampling skips it; statuses >= 500 are never
// skipped. It does not keep e. After Close it does nothing. Write errors
// are not returned here (a request must not fail for its log line): the
// first is reported by Close.
func (l *AccessLog) Log(e *Entry) {
	if l == nil || l.bw == nil || e == nil {
		return
	}
	if e.Status < 500 && l.sample < 1 && l.rand() >= l.sample {
		return
	}
	t := e.Time
	if t.IsZero() {
		t = l.now()
	}
	bp := l.bufs.Get().(*[]byte)
	b := appendEntry((*bp)[:0], e, t)

	l.mu.Lock()
	if !l.closed {
		_, err := l.bw.Write(b)
		if err == nil && l.perLine {
			err = l.bw.Flush()
		}
		l.noteErr(err)
	}
	l.mu.Unlock()

	if cap(b) <= maxPooledLine {
		*bp = b
		l.bufs.Put(bp)
	}
}

// noteErr keeps the first write error and resets the buffer, dropping its
// lines: bufio.Writer's errors are sticky, and a full disk that frees up
// again must not silence the log for good. l.mu must be held.
func (l *AccessLog) noteErr(err error) {
	if err == nil {
		return
	}
	if l.writeErr == nil {
		l.writeErr = err
	}
	l.bw.Reset(l.out)
}

// flushLoop writes the buffer out every interval until Close.
func (l *AccessLog) flushLoop(interval time.Duration) {
	defer close(l.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-tick.C:
			l.mu.Lock()
			if !l.closed && l.bw.Buffered() > 0 {
				l.noteErr(l.bw.Flush())
			}
			l.mu.Unlock()
		}
	}
}

// Close stops the flush goroutine, writes out the buffer and closes the
// file (never os.Stdout or os.Stderr). It returns the first write error
// the log met, if any. Calling it again returns the same result.
func (l *AccessLog) Close() error {
	l.closeOnce.Do(func() { l.closeErr = l.close() })
	return l.closeErr
}

func (l *AccessLog) close() error {
	if l.bw == nil {
		return nil
	}
	if l.done != nil {
		close(l.stop)
		<-l.done
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	l.noteErr(l.bw.Flush())
	var errs []error
	if l.writeErr != nil {
		errs = append(errs, fmt.Errorf("writing access log: %w", l.writeErr))
	}
	if l.file != nil {
		if err := l.file.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing access log %q: %w", l.file.Name(), err))
		}
	}
	return errors.Join(errs...)
}
