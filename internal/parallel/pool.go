package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fastgo-ml/fastgo"
)

// Run calls fn(i) for every i in [0, n) concurrently and returns when all
// have returned: fn(0) on the calling goroutine, the others on the
// package's persistent workers, or on the caller after fn(0) when no idle
// worker is left (a Run nested inside another). Which goroutine runs a task
// never changes what the task computes, so results do not depend on it.
//
// The workers stay awake, spinning, for a short while after their last
// task (spinFor), as OpenMP's do: the parallel regions of a training step
// follow each other within microseconds, and starting a goroutine on a
// parked thread costs far more than that on a virtual machine, where the
// idle CPU has been handed back to the hypervisor.
func Run(n int, fn func(i int)) {
	if n <= 0 {
		return
	}
	if n == 1 {
		fn(0)
		return
	}
	ws := workersFor(min(n-1, runtime.GOMAXPROCS(0)-1))
	g := getGroup()
	inline := 0
	for i := 1; i < n; i++ {
		if i-1 < len(ws) && ws[i-1].give(fn, i, g) {
			continue
		}
		inline = i
		break
	}
	fn(0)
	if inline > 0 {
		for i := inline; i < n; i++ {
			fn(i)
		}
	}
	g.wait()
	groupPool.Put(g)
}

// tasks counts the tasks run on workers (see Tasks).
var tasks atomic.Int64

// Tasks returns how many tasks have run on the pool's workers, not on the
// goroutine that asked for them: tests read it to check that an op really
// split its work.
func Tasks() int64 { return tasks.Load() }

var groupPool = sync.Pool{New: func() any {
	g := new(group)
	g.cond = sync.NewCond(&g.mu)
	return g
}}

func getGroup() *group { return groupPool.Get().(*group) }

// spinFor is how long an idle worker spins before it parks.
const spinFor = 500 * time.Microsecond

// group counts the tasks of a Run still on workers. After its decrement, a
// worker touches only the atomic waiting flag and, when it is set, the
// mutex and condition variable: the caller may already be reusing the
// group for its next region, which is harmless for those (a spurious
// broadcast wakes nobody who is not waiting, and waiters recheck pending).
type group struct {
	pending atomic.Int32
	waiting atomic.Bool
	mu      sync.Mutex
	cond    *sync.Cond
}

func (g *group) add() { g.pending.Add(1) }

func (g *group) done() {
	if g.pending.Add(-1) == 0 && g.waiting.Load() {
		g.mu.Lock()
		g.cond.Broadcast()
		g.mu.Unlock()
	}
}

// wait returns when no task is pending: spinning first (the tasks are
// balanced, so the wait is short), then sleeping.
func (g *group) wait() {
	for i := 0; i < 4096; i++ {
		if g.pending.Load() == 0 {
			return
		}
		if i%64 == 63 {
			runtime.Gosched()
		}
	}
	g.mu.Lock()
	g.waiting.Store(true)
	for g.pending.Load() != 0 {
		g.cond.Wait()
	}
	g.waiting.Store(false)
	g.mu.Unlock()
}

// worker states.
const (
	idle     = 0 // spinning or parked, free for a task
	reserved = 1 // being given a task
	busy     = 2 // given a task, not started yet
	running  = 3 // running a task
)

// worker is one persistent goroutine of the pool.
type worker struct {
	state  atomic.Int32
	parked atomic.Bool
	wake   chan struct{}
	fn     func(int)
	arg    int
	g      *group
}

// give hands the task to w if w is idle, and wakes it if it parked.
func (w *worker) give(fn func(int), arg int, g *group) bool {
	if !w.state.CompareAndSwap(idle, reserved) {
		return false
	}
	w.fn, w.arg, w.g = fn, arg, g
	g.add()
	tasks.Add(1)
	w.state.Store(busy)
	if w.parked.Load() {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
	return true
}

func (w *worker) loop() {
	for {
		last := time.Now()
		for spins := 0; w.state.Load() != busy || !w.state.CompareAndSwap(busy, running); spins++ {
			if spins%64 == 63 {
				runtime.Gosched()
				if time.Since(last) > spinFor {
					w.park()
					last = time.Now()
				}
			}
		}
		fn, arg, g := w.fn, w.arg, w.g
		w.fn, w.g = nil, nil
		fn(arg)
		w.state.Store(idle)
		g.done()
	}
}

// revoke takes back a task of group g given to w that has not started,
// and reports whether it did: the task will not run. The worker's fields
// are left alone: once idle, w may already be another caller's.
func (w *worker) revoke(g *group) bool {
	if !w.state.CompareAndSwap(busy, idle) {
		return false
	}
	g.done()
	return true
}

// park sleeps until a task arrives.
func (w *worker) park() {
	w.parked.Store(true)
	for w.state.Load() != busy {
		<-w.wake
	}
	w.parked.Store(false)
}

var (
	poolMu sync.Mutex
	pool   atomic.Pointer[[]*worker]
)

// workersFor returns at least n workers (started on first use).
func workersFor(n int) []*worker {
	if n <= 0 {
		return nil
	}
	if p := pool.Load(); p != nil && len(*p) >= n {
		return (*p)[:n]
	}
	poolMu.Lock()
	defer poolMu.Unlock()
	var ws []*worker
	if p := pool.Load(); p != nil {
		ws = *p
	}
	for len(ws) < n {
		w := &worker{wake: make(chan struct{}, 1)}
		go w.loop()
		ws = append(ws, w)
	}
	pool.Store(&ws)
	return ws[:n]
}

// Team is a set of workers reserved for one parallel region whose tasks
// can all run at the same time: with Run, tasks that wait for each other (a
// barrier); with RunHelpers, tasks that share out their work as the GEMM's
// do. Reserve makes one; it is a value, so that a region allocates nothing.
type Team struct {
	n  int
	ws [maxTeam]*worker
}

// maxTeam bounds the workers of a Team.
const maxTeam = 64

// Reserve reserves up to n-1 idle workers, so that a region of Size tasks,
// the caller's included, can run all at once. It reserves fewer when fewer
// are idle (a region nested inside another), down to none: plan the region
// for Size tasks, then call Run or RunHelpers, which release what they do
// not use.
func Reserve(n int) Team {
	var t Team
	for _, w := range workersFor(min(n, runtime.GOMAXPROCS(0), maxTeam+1) - 1) {
		if w.state.CompareAndSwap(idle, reserved) {
			t.ws[t.n] = w
			t.n++
		}
	}
	return t
}

// Size returns the number of tasks the team can run at once: the reserved
// workers and the caller.
func (t *Team) Size() int { return t.n + 1 }

// Run calls fn(i) for i in [0, n) at the same time, fn(0) on the caller,
// and returns when all have returned; n must be at most Size. Workers left
// unused are released.
func (t *Team) Run(n int, fn func(i int)) { t.run("Run", n, fn, false) }

// RunHelpers is Run for tasks that share out their work as they go (each
// claims parts until none is left), so that any of them can do it all:
// fn(0) runs on the caller, and the tasks that have not started when it
// returns are dropped, not waited for. A worker that the operating system
// has not scheduled by then (on a machine whose CPUs are busy with other
// work) then costs nothing. The tasks must not wait for each other to start
// (no barriers).
func (t *Team) RunHelpers(n int, fn func(i int)) { t.run("RunHelpers", n, fn, true) }

func (t *Team) run(name string, n int, fn func(i int), helpers bool) {
	if n > t.Size() {
		panic(fastgo.Errorf("parallel.Team.%s: more tasks than the team's size", name))
	}
	g := getGroup()
	given := t.ws[:min(max(n-1, 0), t.n)]
	for i, w := range t.ws[:t.n] {
		if i+1 < n {
			w.fn, w.arg, w.g = fn, i+1, g
			g.add()
			tasks.Add(1)
			w.state.Store(busy)
			if w.parked.Load() {
				select {
				case w.wake <- struct{}{}:
				default:
				}
			}
		} else {
			w.state.Store(idle)
		}
	}
	t.n = 0
	if n > 0 {
		fn(0)
	}
	if helpers {
		for _, w := range given {
			if w.revoke(g) {
				tasks.Add(-1)
			}
		}
	}
	g.wait()
	groupPool.Put(g)
}
