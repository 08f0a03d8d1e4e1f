package observe

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind (the
// access log's flush loop, scrape servers).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
