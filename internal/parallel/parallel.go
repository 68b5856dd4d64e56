package parallel

import (
	"runtime"
)

// For calls fn(lo, hi) over disjoint ranges that cover [0, n). Ranges hold at
// least grain items (except the last), and at most GOMAXPROCS ranges run at
// once. With one worker, or n <= grain, fn(0, n) runs on the calling goroutine.
func For(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	workers := runtime.GOMAXPROCS(0)
	if workers == 1 || n <= grain {
		fn(0, n)
		return
	}
	chunks := min((n+grain-1)/grain, workers)
	size := (n + chunks - 1) / chunks
	Run(chunks, func(i int) {
		if lo := i * size; lo < n {
			fn(lo, min(lo+size, n))
		}
	})
}

// Workers returns the number of goroutines For may use.
func Workers() int { return runtime.GOMAXPROCS(0) }
