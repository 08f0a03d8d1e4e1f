package bench

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Pinning says where the load generator and the system under test run.
// With two CPUs or more, the generator gets the first allowed CPU and every
// child (backend, gateway, peers) the second, so they never compete for a
// core and a proxy gets exactly one core, like nginx with one worker and
// HAProxy with one thread.
type Pinning struct {
	// Enabled is false when pinning was turned off or is impossible.
	Enabled bool `json:"enabled"`
	// LoadCPU runs the load generator (this process).
	LoadCPU int `json:"load_cpu"`
	// SystemCPU runs the backend, the gateway and the peers.
	SystemCPU int `json:"system_cpu"`
	// Note says how pinning was done, or why it was not.
	Note string `json:"note"`
}

// childCPU is the CPU to pin children to, or -1 for none.
func (p Pinning) childCPU() int {
	if !p.Enabled {
		return -1
	}
	return p.SystemCPU
}

// planPinning picks the two CPUs from this process's affinity mask.
func planPinning(want bool, taskset string) Pinning {
	if !want {
		return Pinning{Note: "off (--no-pin)"}
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return Pinning{Note: "off: reading affinity: " + err.Error()}
	}
	if set.Count() < 2 {
		return Pinning{Note: fmt.Sprintf("off: %d CPU available, 2 needed", set.Count())}
	}
	var cpus []int
	for cpu := 0; len(cpus) < 2; cpu++ {
		if set.IsSet(cpu) {
			cpus = append(cpus, cpu)
		}
	}
	how := "children under taskset -c"
	if taskset == "" {
		how = "children pinned thread by thread after start (taskset missing)"
	}
	return Pinning{
		Enabled:   true,
		LoadCPU:   cpus[0],
		SystemCPU: cpus[1],
		Note: fmt.Sprintf("load generator on CPU %d (sched_setaffinity on all its threads), "+
			"backend, gateway and peers on CPU %d (%s)", cpus[0], cpus[1], how),
	}
}

// pinSelf pins every thread of this process to cpu and returns a function
// that restores the previous mask. Threads the Go runtime starts later
// inherit the mask of the thread that creates them, which is pinned too.
// GOMAXPROCS follows the mask on its own (Go 1.25 and later).
func pinSelf(cpu int) (restore func(), err error) {
	var old unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return nil, fmt.Errorf("reading affinity: %w", err)
	}
	if err := pinProcess(os.Getpid(), cpu); err != nil {
		return nil, err
	}
	return func() { _ = setTasks(os.Getpid(), &old) }, nil
}

// pinProcess pins every thread of process pid to cpu.
func pinProcess(pid, cpu int) error {
	var set unix.CPUSet
	set.Set(cpu)
	return setTasks(pid, &set)
}

// setTasks applies set to every thread of pid. It walks the thread list
// twice: a thread started during the first walk by a thread not yet
// pinned inherits the old mask, and the second walk catches it.
func setTasks(pid int, set *unix.CPUSet) error {
	for range 2 {
		entries, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
		if err != nil {
			return fmt.Errorf("listing threads of %d: %w", pid, err)
		}
		for _, e := range entries {
			tid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			// ESRCH: the thread ended since the listing.
			if err := unix.SchedSetaffinity(tid, set); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("setting affinity of thread %d: %w", tid, err)
			}
		}
	}
	return nil
}
