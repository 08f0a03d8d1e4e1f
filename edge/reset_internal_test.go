package edge

import (
	"testing"
	"time"
)

func TestResetWindow(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var w resetWindow
	for i := range 3 {
		if w.add(t0.Add(time.Duration(i)*time.Millisecond), 3) {
			t.Fatalf("reset #%d tripped the guard, want 3 allowed", i+1)
		}
	}
	// A new window starts a second after the first reset.
	if w.add(t0.Add(time.Second), 3) {
		t.Fatal("the first reset of a new window tripped the guard")
	}
	for i := range 2 {
		if w.add(t0.Add(time.Second+time.Duration(i)*time.Millisecond), 3) {
			t.Fatalf("reset #%d of the second window tripped the guard", i+2)
		}
	}
	if !w.add(t0.Add(1500*time.Millisecond), 3) {
		t.Error("the 4th reset in one second did not trip the guard")
	}
	if w.add(t0.Add(1501*time.Millisecond), 3) {
		t.Error("the guard tripped twice for one connection")
	}
}
