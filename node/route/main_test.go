package route

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind (the HTTP tests
// start servers and clients).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
