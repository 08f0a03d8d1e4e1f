package bench

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// progress shows the running phase on a writer (stderr): on a terminal a
// bar redrawn in place, elsewhere one line per finished phase. One phase
// runs at a time; a nil *progress shows nothing.
type progress struct {
	w   io.Writer
	tty bool

	label  string
	length time.Duration
	began  time.Time
	done   atomic.Int64
	quit   chan struct{}
	exited chan struct{}
}

func newProgress(w io.Writer) *progress {
	if w == nil {
		return nil
	}
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

// start begins showing a phase of the given length and returns the counter
// the load generator increments.
func (p *progress) start(label string, length time.Duration) *atomic.Int64 {
	if p == nil {
		return nil
	}
	p.label, p.length, p.began = label, length, time.Now()
	p.done.Store(0)
	p.quit, p.exited = nil, nil
	if p.tty {
		p.quit, p.exited = make(chan struct{}), make(chan struct{})
		go p.redraw()
	}
	return &p.done
}

// redraw draws the bar five times a second until stop.
func (p *progress) redraw() {
	defer close(p.exited)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-p.quit:
			return
		case <-tick.C:
			fmt.Fprintf(p.w, "\r%s", p.line(time.Since(p.began)))
		}
	}
}

// stop ends the phase and leaves its final line.
func (p *progress) stop() {
	if p == nil {
		return
	}
	if p.quit != nil {
		close(p.quit)
		<-p.exited
		fmt.Fprint(p.w, "\r")
	}
	fmt.Fprintln(p.w, p.line(time.Since(p.began)))
}

// note prints one line about a step that has no load to show.
func (p *progress) note(format string, args ...any) {
	if p == nil {
		return
	}
	fmt.Fprintf(p.w, format+"\n", args...)
}

// line is "label  [#######.....]  60%  12,345 req  20,576/s".
func (p *progress) line(elapsed time.Duration) string {
	const width = 24
	frac := 1.0
	if p.length > 0 {
		frac = min(1, float64(elapsed)/float64(p.length))
	}
	filled := int(frac * width)
	n := p.done.Load()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(n) / elapsed.Seconds()
	}
	return fmt.Sprintf("%-28s [%s%s] %3.0f%% %12s req %10s/s ",
		p.label, strings.Repeat("#", filled), strings.Repeat(".", width-filled),
		frac*100, groupDigits(n), groupDigits(int64(rate)))
}

// groupDigits writes n with thousands separators: 1234567 → "1,234,567".
func groupDigits(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
