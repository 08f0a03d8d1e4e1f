package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// stopGrace is how long a child gets to exit on SIGTERM before SIGKILL.
const stopGrace = 3 * time.Second

// readyTimeout bounds how long a child may take to answer its readiness
// probe.
const readyTimeout = 15 * time.Second

// procSpec says how to start one child.
type procSpec struct {
	name string   // used for the log file and messages
	argv []string // program and arguments
	dir  string   // working directory; the log goes to dir/name.log
	// cpu pins the child (and every thread and process it starts) to one
	// CPU; -1 leaves it unpinned.
	cpu int
	// taskset is the path of taskset(1), or "" when missing: the child is
	// then pinned after it started, thread by thread (best effort: a thread
	// born in between keeps the old mask).
	taskset string
	// env is added to our environment for the child ("KEY=value").
	env []string
}

// process is one child of a run: in its own process group (so the group
// can be signalled, nginx workers included, and a Ctrl-C on the terminal
// reaches only us), killed by the kernel if we die (Pdeathsig), its output
// in a log file.
type process struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed once the child has been reaped
	waitErr error         // valid after done is closed
}

func startProcess(spec procSpec) (*process, error) {
	logPath := filepath.Join(spec.dir, spec.name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("creating log of %s: %w", spec.name, err)
	}
	argv := spec.argv
	if spec.cpu >= 0 && spec.taskset != "" {
		argv = append([]string{spec.taskset, "-c", strconv.Itoa(spec.cpu)}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = spec.dir
	if len(spec.env) > 0 {
		cmd.Env = append(os.Environ(), spec.env...)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", spec.name, err)
	}
	p := &process{name: spec.name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go p.reap(logFile)
	if spec.cpu >= 0 && spec.taskset == "" {
		if err := pinProcess(cmd.Process.Pid, spec.cpu); err != nil {
			_ = p.stop(context.Background())
			return nil, fmt.Errorf("pinning %s: %w", spec.name, err)
		}
	}
	return p, nil
}

// reap waits for the child; it is the one goroutine each process owns and
// ends when the child exits (stop makes sure it does).
func (p *process) reap(logFile *os.File) {
	p.waitErr = p.cmd.Wait()
	logFile.Close()
	close(p.done)
}

func (p *process) pid() int { return p.cmd.Process.Pid }

// stop asks the process group to terminate, and kills it if the leader is
// still there after stopGrace or when ctx ends. It returns once the child
// has been reaped. Calling it again is harmless.
func (p *process) stop(ctx context.Context) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	pgid := p.pid() // the child leads its own group (Setpgid)
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	grace := time.NewTimer(stopGrace)
	defer grace.Stop()
	select {
	case <-p.done:
		return nil
	case <-grace.C:
	case <-ctx.Done():
	}
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("killing %s: %w", p.name, err)
	}
	<-p.done
	return nil
}

// logTail is the last few lines of the child's output, for error
// messages: that is where a proxy says why it stopped.
func (p *process) logTail() string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	const max = 1500
	if st, err := f.Stat(); err == nil && st.Size() > max {
		_, _ = f.Seek(st.Size()-max, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	return strings.Join(lines, "\n")
}

// exitError describes a child that exited before it was ready.
func (p *process) exitError() error {
	tail := p.logTail()
	if tail == "" {
		return fmt.Errorf("%s exited: %v", p.name, p.waitErr)
	}
	return fmt.Errorf("%s exited: %v: %s", p.name, p.waitErr, tail)
}

// waitReady polls url until it answers 200, the child exits, or
// readyTimeout passes.
func (p *process) waitReady(ctx context.Context, client *http.Client, url string) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if probe(ctx, client, url) {
			return nil
		}
		select {
		case <-p.done:
			return p.exitError()
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s to answer 200 at %s: %w", p.name, url, ctx.Err())
		case <-tick.C:
		}
	}
}

func probe(ctx context.Context, client *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// freePorts finds n distinct free TCP ports on 127.0.0.1: all listeners
// stay open until the last is found, so no port is handed out twice. The
// ports are released before the children bind them; on a quiet machine
// nothing takes them in between.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
