package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// readChars is rchar of /proc/PID/io: the bytes the process has read with
// read(2) and its kin, sockets included. A backend that reads nothing over
// a phase was sent no request.
func readChars(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/io")
	if err != nil {
		return 0, fmt.Errorf("reading io of %d: %w", pid, err)
	}
	return parseChars(string(b))
}

// parseChars finds the rchar line of a /proc/PID/io text.
func parseChars(s string) (int64, error) {
	for line := range strings.SplitSeq(s, "\n") {
		v, ok := strings.CutPrefix(line, "rchar:")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parsing rchar: %w", err)
		}
		return n, nil
	}
	return 0, fmt.Errorf("parsing io: no rchar line in %q", s)
}
