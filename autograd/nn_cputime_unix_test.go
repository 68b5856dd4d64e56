//go:build unix

package autograd

import (
	"syscall"
	"time"
)

// processCPUTime returns the user+system CPU time of the process so far.
// Benchmarks report it per op beside the wall time: on a shared, loaded
// machine it is the steadier measure of the work done.
func processCPUTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
