package parallel

import (
	"runtime"
	"sync"
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
	chunks := (n + grain - 1) / grain
	if chunks > workers {
		chunks = workers
	}
	size := (n + chunks - 1) / chunks
	var wg sync.WaitGroup
	for lo := size; lo < n; lo += size {
		hi := min(lo+size, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	fn(0, min(size, n))
	wg.Wait()
}

// Workers returns the number of goroutines For may use.
func Workers() int { return runtime.GOMAXPROCS(0) }
