package bench

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestPlanPinning(t *testing.T) {
	if got := planPinning(false, "/usr/bin/taskset"); got.Enabled || got.childCPU() != -1 {
		t.Errorf("planPinning(off) = %+v, want disabled with no child CPU", got)
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Skipf("no affinity: %v", err)
	}
	got := planPinning(true, "")
	if set.Count() < 2 {
		if got.Enabled {
			t.Errorf("planPinning with %d CPU = %+v, want disabled", set.Count(), got)
		}
		return
	}
	if !got.Enabled || got.LoadCPU == got.SystemCPU || !set.IsSet(got.LoadCPU) || !set.IsSet(got.SystemCPU) {
		t.Errorf("planPinning = %+v, want two distinct allowed CPUs", got)
	}
	if got.childCPU() != got.SystemCPU {
		t.Errorf("childCPU = %d, want %d", got.childCPU(), got.SystemCPU)
	}
}

func TestPinSelf_PinsAndRestores(t *testing.T) {
	var before unix.CPUSet
	if err := unix.SchedGetaffinity(0, &before); err != nil || before.Count() < 2 {
		t.Skip("needs 2 CPUs")
	}
	plan := planPinning(true, "")
	restore, err := pinSelf(plan.LoadCPU)
	if err != nil {
		t.Fatalf("pinSelf: %v", err)
	}
	// Whatever thread this goroutine runs on, it is pinned.
	var during unix.CPUSet
	_ = unix.SchedGetaffinity(0, &during)
	restore()
	var after unix.CPUSet
	_ = unix.SchedGetaffinity(0, &after)
	if during.Count() != 1 || !during.IsSet(plan.LoadCPU) {
		t.Errorf("while pinned: %d CPUs, CPU %d set: %v; want only CPU %d", during.Count(), plan.LoadCPU, during.IsSet(plan.LoadCPU), plan.LoadCPU)
	}
	if after != before {
		t.Errorf("after restore: %d CPUs, want %d", after.Count(), before.Count())
	}
}
