package tensor

import (
	"math"
	"math/bits"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Buffers for Empty come from a pool of size classes spaced 2^(1/4) apart
// (at most 19% slack), so that a training step that releases what it
// allocates reuses the same memory every step instead of asking the
// garbage collector for, and zeroing, new buffers.

// poolMin is the smallest tensor (in elements) whose buffer is pooled;
// smaller ones are plain allocations.
const poolMin = 1024

// poolClasses covers sizes up to 2^40 elements.
const poolClasses = 4 * 40

// poolBuf is a pooled buffer: the wrapper stays with its slice, so putting
// it back allocates nothing.
type poolBuf[T Float] struct {
	f     []T
	class int
	epoch uint32 // the GC epoch of its last return to the pool
}

// bufPool holds the free buffers of every class for one element type. It
// is a plain free list under a mutex rather than a sync.Pool: a sync.Pool
// keeps one object per P where other Ps cannot take it, so a goroutine that
// moves between Ps misses the buffers it just gave back, and for buffers of
// megabytes every miss is a fresh allocation. Buffers not used for two
// garbage collections are dropped, as a sync.Pool drops them.
type bufPool[T Float] struct {
	mu   sync.Mutex
	free [poolClasses][]*poolBuf[T]
}

var (
	pools32 bufPool[float32]
	pools64 bufPool[float64]
	// gcEpoch counts garbage collections (see watchGC).
	gcEpoch atomic.Uint32
)

func (p *bufPool[T]) get(c int) *poolBuf[T] {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.free[c]
	if len(l) == 0 {
		return nil
	}
	b := l[len(l)-1]
	l[len(l)-1] = nil
	p.free[c] = l[:len(l)-1]
	return b
}

func (p *bufPool[T]) put(b *poolBuf[T]) {
	b.epoch = gcEpoch.Load()
	p.mu.Lock()
	p.free[b.class] = append(p.free[b.class], b)
	p.mu.Unlock()
}

// trim drops the buffers last returned before epoch old.
func (p *bufPool[T]) trim(old uint32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c, l := range p.free {
		keep := l[:0]
		for _, b := range l {
			if int32(b.epoch-old) >= 0 {
				keep = append(keep, b)
			}
		}
		clear(l[len(keep):])
		p.free[c] = keep
	}
}

// gcSentinel is garbage whose cleanup marks each collection: it counts the
// epoch, trims the pools and arms the next sentinel.
type gcSentinel struct{ _ [16]byte }

func watchGC() {
	s := new(gcSentinel)
	runtime.AddCleanup(s, func(struct{}) {
		e := gcEpoch.Add(1)
		pools32.trim(e - 2)
		pools64.trim(e - 2)
		watchGC()
	}, struct{}{})
}

func init() { watchGC() }

// poison, from FASTGO_POISON=1, fills every buffer that Empty hands out and
// every buffer released with NaN, so that reading memory an op did not
// write, or using a tensor after Release, shows up as NaNs in tests.
var poison = os.Getenv("FASTGO_POISON") == "1"

// SetPoison turns the poisoning that FASTGO_POISON=1 enables on or off and
// returns the previous setting: a debugging aid for tests that check code
// never reads memory it did not write, nor a released tensor. It is not
// safe to call while other goroutines use Empty or Release.
func SetPoison(on bool) bool {
	prev := poison
	poison = on
	return prev
}

// sizeClass returns the smallest class whose size holds n elements, and
// that size.
func sizeClass(n int) (int, int) {
	e := bits.Len(uint(n - 1)) // 2^(e-1) < n <= 2^e
	for c := 4 * (e - 1); ; c++ {
		if s := classSize(c); s >= n {
			return c, s
		}
	}
}

// classSize returns ceil(2^(c/4)).
func classSize(c int) int {
	return int(math.Ceil(math.Exp2(float64(c) / 4)))
}

// poolFor returns the pool of element type T, or nil for a type that is
// not float32 or float64 (such tensors are plain allocations).
func poolFor[T Float]() *bufPool[T] {
	var z T
	switch any(z).(type) {
	case float32:
		return any(&pools32).(*bufPool[T])
	case float64:
		return any(&pools64).(*bufPool[T])
	}
	return nil
}

// Empty returns a tensor of the given shape whose contents are undefined,
// like torch.empty: its buffer may be reused memory that held anything.
// Use it for outputs that are written in full; Release gives the buffer
// back when the tensor is no longer used.
func Empty[T Float](shape ...int) *Dense[T] {
	n := numel("tensor.Empty", shape)
	ps := poolFor[T]()
	if n < poolMin || ps == nil {
		return New[T](shape...)
	}
	c, size := sizeClass(n)
	if c >= poolClasses {
		return New[T](shape...)
	}
	pb := ps.get(c)
	if pb == nil {
		pb = &poolBuf[T]{f: make([]T, size), class: c}
	}
	t := &Dense[T]{shape: append([]int(nil), shape...), data: pb.f[:n:n], pb: pb}
	if poison {
		t.fillNaN()
	}
	return t
}

// Release returns the buffer of a tensor made by Empty to the pool, for
// reuse by a later Empty, and empties t: it then has no elements, and any
// access to them panics. Views of t (from Reshape, Narrow0, Flatten...)
// share its buffer and must not be used after Release either. Release does
// nothing for a tensor that Empty did not make, or one already released.
func (t *Dense[T]) Release() {
	if t == nil || t.pb == nil {
		return
	}
	pb := t.pb
	if poison {
		t.fillNaN()
	}
	t.pb, t.data = nil, nil
	poolFor[T]().put(pb)
}

// Pooled reports whether t's buffer came from Empty and was not released:
// only then does Release recycle it.
func (t *Dense[T]) Pooled() bool { return t != nil && t.pb != nil }

func (t *Dense[T]) fillNaN() {
	nan := T(math.NaN())
	for i := range t.data {
		t.data[i] = nan
	}
}

// SharesMemory reports whether a and b have elements in the same memory:
// one is a view of the other (Reshape, Narrow0...), or both are views of
// one buffer. Nil or empty tensors share nothing.
func SharesMemory[T Float](a, b *Dense[T]) bool {
	if a == nil || b == nil || len(a.data) == 0 || len(b.data) == 0 {
		return false
	}
	a0, a1 := span(a.data)
	b0, b1 := span(b.data)
	return a0 < b1 && b0 < a1
}

// span returns the address range of s's elements.
func span[T Float](s []T) (uintptr, uintptr) {
	p := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	return p, p + uintptr(len(s))*unsafe.Sizeof(s[0])
}

// GiveBuffer moves the ownership of t's pooled buffer to view, a view of
// all of t (same first element and length, as Reshape returns), so that
// Release on view recycles the buffer and Release on t does nothing. It
// reports whether it did; it does nothing unless t is pooled and view is a
// full view of t that owns no buffer. The backward pass uses it when an op
// passes a gradient on reshaped.
func (t *Dense[T]) GiveBuffer(view *Dense[T]) bool {
	if t == nil || view == nil || t.pb == nil || view.pb != nil || len(t.data) == 0 ||
		len(view.data) != len(t.data) || unsafe.SliceData(view.data) != unsafe.SliceData(t.data) {
		return false
	}
	view.pb, t.pb = t.pb, nil
	return true
}

// FreePool drops every buffer the pool holds, so that the garbage collector
// can return their memory. A program that moves from one phase to another
// with tensors of other sizes (from training at one batch size to
// evaluation at another) calls it in between, so that its peak memory is
// the larger phase's, not their sum; PyTorch's caching allocator has the
// same need. Tensors in use are not affected.
func FreePool() {
	pools32.trim(gcEpoch.Load() + 1)
	pools64.trim(gcEpoch.Load() + 1)
}
