package membership

import (
	"log/slog"
	"strings"
	"testing"
)

func TestLogBridge(t *testing.T) {
	tests := []struct {
		name        string
		line        string
		wantSuspect string
		wantWarn    bool
	}{
		{name: "plain debug", line: "[DEBUG] memberlist: Stream connection from=127.0.0.1:5000\n"},
		{name: "suspect", line: "[INFO] memberlist: Suspect node-3 has failed, no acks received\n", wantSuspect: "node-3"},
		{name: "wrong key on a stream", line: "[ERR] memberlist: failed to receive: no installed keys could decrypt the message from=10.1.2.3:4567\n", wantWarn: true},
		{name: "wrong key on a packet", line: "[ERR] memberlist: Decrypt packet failed: no installed keys could decrypt the message from=10.1.2.3:4567\n", wantWarn: true},
		{name: "unencrypted peer", line: "[ERR] memberlist: failed to receive: encryption is configured but remote state is not encrypted from=10.1.2.3:4567\n", wantWarn: true},
		{name: "our own failed join", line: "[DEBUG] memberlist: Failed to join 10.1.2.3:7946: no installed keys could decrypt the message\n"},
		{name: "other receive error", line: "[ERR] memberlist: failed to receive: read: connection reset from=10.1.2.3:4567\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &logBuffer{}
			var suspected []string
			b := newLogBridge(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
				func(name string) { suspected = append(suspected, name) })
			for range 3 { // repeated lines warn once
				if n, err := b.Write([]byte(tt.line)); err != nil || n != len(tt.line) {
					t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(tt.line))
				}
			}
			if got := logs.count(" level=DEBUG msg="); got != 3 {
				t.Errorf("debug lines = %d, want 3", got)
			}
			if got := logs.count("memberlist_level=["); got != 0 {
				t.Errorf("level not split off: %s", logs.String())
			}
			wantSuspects := 0
			if tt.wantSuspect != "" {
				wantSuspects = 3
			}
			if len(suspected) != wantSuspects || (wantSuspects > 0 && suspected[0] != tt.wantSuspect) {
				t.Errorf("suspected %q, want %q three times", suspected, tt.wantSuspect)
			}
			wantWarns := 0
			if tt.wantWarn {
				wantWarns = 1
			}
			if got := logs.count(" level=WARN msg="); got != wantWarns {
				t.Errorf("warnings = %d, want %d; log:\n%s", got, wantWarns, logs.String())
			}
			if tt.wantWarn && !strings.Contains(logs.String(), "refusing messages from 10.1.2.3:") {
				t.Errorf("warning doesn't name the host: %s", logs.String())
			}
		})
	}
}
