package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRunEveryTaskOnce checks that Run calls every task exactly once, for
// any number of tasks and procs.
func TestRunEveryTaskOnce(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 2, 4} {
		runtime.GOMAXPROCS(procs)
		for _, n := range []int{0, 1, 2, 3, 7, 64} {
			hits := make([]atomic.Int32, n)
			Run(n, func(i int) { hits[i].Add(1) })
			for i := range hits {
				if h := hits[i].Load(); h != 1 {
					t.Fatalf("procs %d, n %d: task %d ran %d times", procs, n, i, h)
				}
			}
		}
	}
}

// TestNestedRunsFinish checks that Runs and Teams nested inside each other
// (a GEMM inside a parallel loop) all finish and run every task once.
func TestNestedRunsFinish(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	var total atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for rep := 0; rep < 50; rep++ {
			Run(3, func(i int) {
				team := Reserve(2)
				team.Run(team.Size(), func(int) {
					Run(2, func(int) { total.Add(1) })
				})
				For(100, 10, func(lo, hi int) { total.Add(int64(hi - lo)) })
			})
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("nested parallel regions deadlocked")
	}
	if total.Load() == 0 {
		t.Fatal("nested regions ran nothing")
	}
}

// TestTeamRunsTogether checks that a Team's tasks run at the same time:
// each waits for all the others at a barrier, which would never open if
// one task ran after another.
func TestTeamRunsTogether(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	for rep := 0; rep < 100; rep++ {
		team := Reserve(2)
		n := team.Size()
		var arrived atomic.Int32
		finished := make(chan struct{})
		go func() {
			team.Run(n, func(int) {
				arrived.Add(1)
				for arrived.Load() < int32(n) {
					runtime.Gosched()
				}
			})
			close(finished)
		}()
		select {
		case <-finished:
		case <-time.After(10 * time.Second):
			t.Fatalf("rep %d: the team's %d tasks did not all run at once", rep, n)
		}
	}
}

// TestParkedWorkersWake checks that workers that parked after spinFor of
// idleness take the next task, and that Tasks counts it.
func TestParkedWorkersWake(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	Run(2, func(int) {})
	time.Sleep(5 * spinFor) // let the worker park
	before := Tasks()
	var mu sync.Mutex
	ran := map[int]bool{}
	Run(2, func(i int) { mu.Lock(); ran[i] = true; mu.Unlock() })
	if !ran[0] || !ran[1] {
		t.Fatalf("tasks run: %v", ran)
	}
	if Tasks() <= before {
		t.Fatal("no task ran on a worker after it parked")
	}
}

// TestForCoversRange checks For's ranges: disjoint, covering [0, n), at
// least grain long but the last.
func TestForCoversRange(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	for _, c := range []struct{ n, grain int }{{1, 1}, {10, 3}, {1000, 1}, {1001, 64}, {5, 100}} {
		seen := make([]atomic.Int32, c.n)
		For(c.n, c.grain, func(lo, hi int) {
			if hi-lo < c.grain && hi != c.n {
				t.Errorf("n %d grain %d: range [%d,%d) shorter than the grain", c.n, c.grain, lo, hi)
			}
			for i := lo; i < hi; i++ {
				seen[i].Add(1)
			}
		})
		for i := range seen {
			if seen[i].Load() != 1 {
				t.Fatalf("n %d grain %d: index %d covered %d times", c.n, c.grain, i, seen[i].Load())
			}
		}
	}
}

// TestRunHelpersShareWork checks that RunHelpers returns only when every
// part the tasks claimed is done, each exactly once, whether the helper
// started or was dropped.
func TestRunHelpersShareWork(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	for rep := 0; rep < 200; rep++ {
		const parts = 64
		var next atomic.Int32
		var done [parts]atomic.Int32
		team := Reserve(2)
		team.RunHelpers(team.Size(), func(int) {
			for {
				p := next.Add(1) - 1
				if p >= parts {
					return
				}
				if p%8 == 0 {
					runtime.Gosched()
				}
				done[p].Add(1)
			}
		})
		for p := range done {
			if d := done[p].Load(); d != 1 {
				t.Fatalf("rep %d: part %d done %d times when RunHelpers returned", rep, p, d)
			}
		}
	}
}

// TestRevokeOnlyUnstarted checks the revocation RunHelpers uses: a task
// given but not started is taken back (its group no longer waits for it),
// a running one is not.
func TestRevokeOnlyUnstarted(t *testing.T) {
	w := &worker{wake: make(chan struct{}, 1)} // no goroutine: never starts
	g := getGroup()
	ran := false
	w.fn, w.arg, w.g = func(int) { ran = true }, 1, g
	g.add()
	w.state.Store(busy)
	if !w.revoke(g) {
		t.Fatal("an unstarted task was not revoked")
	}
	if g.pending.Load() != 0 || w.state.Load() != idle {
		t.Fatalf("after revoke: pending %d, state %d", g.pending.Load(), w.state.Load())
	}
	g.wait() // must not block
	w.state.Store(running)
	g.add()
	if w.revoke(g) {
		t.Fatal("a running task was revoked")
	}
	if ran {
		t.Fatal("the revoked task ran")
	}
}
