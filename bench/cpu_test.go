package bench

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name     string
		line     string
		wantPPID int
		wantCPU  time.Duration
		wantErr  bool
	}{
		{
			name:     "plain",
			line:     "42 (nginx) S 7 42 42 0 -1 4194560 100 0 0 0 150 50 3 2 20 0 1 0 100 1000 100 18446744073709551615",
			wantPPID: 7, wantCPU: (150 + 50 + 3 + 2) * clockTick,
		},
		{
			name:     "command name with spaces and parentheses",
			line:     "9 (a) b (c) R 1 9 9 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 1 1 1",
			wantPPID: 1, wantCPU: 3 * clockTick,
		},
		{name: "truncated", line: "9 (x) R 1 2 3", wantErr: true},
		{name: "no command", line: "9 x R 1", wantErr: true},
		{name: "not a number", line: "9 (x) R 1 9 9 0 -1 0 0 0 0 0 u 2 0 0 20", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcStat(tt.line)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseProcStat error = %v, want error: %v", err, tt.wantErr)
			}
			if got.ppid != tt.wantPPID || got.cpu != tt.wantCPU {
				t.Errorf("parseProcStat = ppid %d cpu %v, want ppid %d cpu %v", got.ppid, got.cpu, tt.wantPPID, tt.wantCPU)
			}
		})
	}
}

func TestTreeCPU(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	// Burn a little CPU so the count moves past zero ticks.
	deadline := time.Now().Add(50 * time.Millisecond)
	for n := 0; time.Now().Before(deadline); n++ {
		_ = n * n
	}
	got, err := treeCPU(os.Getpid())
	if err != nil || got <= 0 {
		t.Errorf("treeCPU(self) = %v, %v, want a positive time", got, err)
	}
	if _, err := treeCPU(1 << 30); err == nil {
		t.Error("treeCPU(no such pid) = nil error, want one")
	}
}

func TestFindSample(t *testing.T) {
	const text = `# HELP go_memstats_mallocs_total Total number of heap objects allocated.
# TYPE go_memstats_mallocs_total counter
go_memstats_mallocs_total_extra 1
go_memstats_mallocs_total 1.234567e+06
go_memstats_frees_total 5
`
	tests := []struct {
		name    string
		metric  string
		want    float64
		wantErr bool
	}{
		{name: "counter", metric: "go_memstats_mallocs_total", want: 1234567},
		{name: "other", metric: "go_memstats_frees_total", want: 5},
		{name: "absent", metric: "go_gc_duration_seconds", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := findSample(strings.NewReader(text), tt.metric)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("findSample(%s) = %v, %v; want %v, error: %v", tt.metric, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
