package membership

import (
	"log/slog"
	"net"
	"strings"
	"sync"
)

// logBridge is the io.Writer behind memberlist's *log.Logger. It sends
// every line to slog at Debug (memberlist would otherwise print to stderr)
// and watches for the two lines memberlist has no callback for:
//
//   - "Suspect X has failed, no acks received": this node suspects X;
//   - a message from a peer that our keys can't decrypt (or that isn't
//     encrypted when we are, or the reverse): a node with another gossip
//     key is talking to us. That gets one warning per remote host.
//
// The texts are memberlist v0.7.0's; the tests fail if an upgrade changes
// them. Write may be called from any goroutine.
type logBridge struct {
	logger    *slog.Logger
	onSuspect func(name string)

	mu      sync.Mutex
	refused map[string]bool // remote hosts already warned about
}

// maxRefusedHosts bounds the hosts remembered for the wrong-key warning;
// past it, further hosts are logged at Debug only.
const maxRefusedHosts = 64

func newLogBridge(logger *slog.Logger, onSuspect func(string)) *logBridge {
	return &logBridge{logger: logger, onSuspect: onSuspect, refused: make(map[string]bool)}
}

func (b *logBridge) Write(p []byte) (int, error) {
	level, msg := splitLevel(strings.TrimRight(string(p), "\r\n"))
	b.logger.Debug(msg, "memberlist_level", level)
	if name, ok := suspectedNode(msg); ok {
		b.onSuspect(name)
	}
	if host, ok := refusedHost(msg); ok {
		b.warnRefused(host, msg)
	}
	return len(p), nil
}

// splitLevel splits "[WARN] memberlist: text" into "WARN" and the rest.
func splitLevel(line string) (level, msg string) {
	if rest, ok := strings.CutPrefix(line, "["); ok {
		if lvl, text, ok := strings.Cut(rest, "] "); ok && !strings.Contains(lvl, " ") {
			return lvl, text
		}
	}
	return "", line
}

func suspectedNode(msg string) (string, bool) {
	rest, ok := strings.CutPrefix(msg, "memberlist: Suspect ")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, " has failed, no acks received")
}

// refusedHost returns the remote host of an inbound message memberlist
// dropped because of encryption, from its "... from=host:port" suffix.
func refusedHost(msg string) (string, bool) {
	inbound := strings.HasPrefix(msg, "memberlist: failed to receive: ") ||
		strings.HasPrefix(msg, "memberlist: Decrypt packet failed: ")
	if !inbound || !isEncryptionError(msg) {
		return "", false
	}
	_, from, ok := strings.Cut(msg, " from=")
	if !ok {
		return "", false
	}
	host, _, err := net.SplitHostPort(strings.TrimSpace(from))
	if err != nil {
		return from, true
	}
	return host, true
}

func (b *logBridge) warnRefused(host, msg string) {
	b.mu.Lock()
	first := !b.refused[host] && len(b.refused) < maxRefusedHosts
	if first {
		b.refused[host] = true
	}
	b.mu.Unlock()
	if first {
		b.logger.Warn("gossip: refusing messages from "+host+": they are not encrypted with our gossip key — a node with a different key is trying to reach the cluster (check cluster.gossip_key on it)",
			"detail", msg)
	}
}

// isEncryptionError reports whether a memberlist error text is about
// encryption: our keys can't decrypt the peer's message ("no installed
// keys could decrypt the message"), or one side encrypts and the other
// doesn't ("remote state is encrypted and encryption is not configured",
// "encryption is configured but remote state is not encrypted").
func isEncryptionError(text string) bool {
	return strings.Contains(strings.ToLower(text), "crypt")
}
