package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of the times in /proc/PID/stat (USER_HZ). It is
// 100 on every Linux architecture Go supports; Go has no sysconf without
// cgo, so it is not read at run time.
const clockTick = 10 * time.Millisecond

// procStat is the part of /proc/PID/stat we use.
type procStat struct {
	ppid int
	// cpu is utime+stime of the process plus cutime+cstime of its reaped
	// children.
	cpu time.Duration
}

// readProcStat parses /proc/PID/stat. The command name (field 2) is in
// parentheses and may hold spaces and parentheses, so fields are counted
// from the last ')'.
func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, fmt.Errorf("reading stat of %d: %w", pid, err)
	}
	return parseProcStat(string(b))
}

func parseProcStat(s string) (procStat, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("parsing stat: no command name in %q", s)
	}
	// After ")": state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17).
	f := strings.Fields(s[i+1:])
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("parsing stat: %d fields, want at least 17", len(f)+2)
	}
	var nums [5]int64
	for k, idx := range []int{1, 11, 12, 13, 14} { // ppid, utime, stime, cutime, cstime
		n, err := strconv.ParseInt(f[idx], 10, 64)
		if err != nil {
			return procStat{}, fmt.Errorf("parsing stat field %d: %w", idx+3, err)
		}
		nums[k] = n
	}
	ticks := nums[1] + nums[2] + nums[3] + nums[4]
	return procStat{ppid: int(nums[0]), cpu: time.Duration(ticks) * clockTick}, nil
}

// treeCPU is the CPU time used so far by pid and all its live descendants
// (nginx's worker, for one), plus what their reaped children used. A
// descendant that exits during a phase takes its time with it unless its
// parent reaps it; none of our children fork during a phase.
func treeCPU(pid int) (time.Duration, error) {
	root, err := readProcStat(pid)
	if err != nil {
		return 0, err
	}
	children := map[int][]int{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("listing processes: %w", err)
	}
	stats := map[int]procStat{pid: root}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil || p == pid {
			continue
		}
		st, err := readProcStat(p)
		if err != nil {
			continue // exited since the listing
		}
		stats[p] = st
		children[st.ppid] = append(children[st.ppid], p)
	}
	var total time.Duration
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		total += stats[p].cpu
		queue = append(queue, children[p]...)
	}
	return total, nil
}

// scrapeCounter reads one unlabelled counter or gauge from a Prometheus
// text exposition at url.
func scrapeCounter(ctx context.Context, client *http.Client, url, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, fmt.Errorf("scraping %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("scraping %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("scraping %s: status %d", url, resp.StatusCode)
	}
	return findSample(resp.Body, name)
}

// findSample returns the value of the sample called exactly name.
func findSample(r io.Reader, name string) (float64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '\t') {
			continue
		}
		f := strings.Fields(rest)
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return 0, fmt.Errorf("parsing %s: %w", name, err)
		}
		return v, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("reading metrics: %w", err)
	}
	return 0, fmt.Errorf("metric %s not found", name)
}
