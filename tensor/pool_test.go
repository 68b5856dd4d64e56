package tensor

import (
	"testing"

	"github.com/fastgo-ml/fastgo/internal/race"
)

func TestSizeClasses(t *testing.T) {
	prev := 0
	for n := poolMin; n < 1<<22; n = n*5/4 + 1 {
		c, size := sizeClass(n)
		if size < n || float64(size) > 1.19*float64(n)+1 {
			t.Fatalf("n=%d: class %d of size %d", n, c, size)
		}
		if c < prev {
			t.Fatalf("n=%d: class %d below the class %d of a smaller size", n, c, prev)
		}
		prev = c
		if c > 0 && classSize(c-1) >= n {
			t.Fatalf("n=%d: class %d is not the smallest (class %d has %d)", n, c, c-1, classSize(c-1))
		}
	}
}

func TestEmptyReleaseReuse(t *testing.T) {
	a := Empty[float32](64, 64)
	if !a.Pooled() || a.Len() != 4096 || !SameShape(a.Shape(), []int{64, 64}) {
		t.Fatalf("Empty(64,64): pooled %v, len %d, shape %v", a.Pooled(), a.Len(), a.Shape())
	}
	a.Data()[0] = 7
	v := a.Reshape(4096)
	if v.Pooled() {
		t.Fatal("a view of a pooled tensor claims the buffer")
	}
	v.Release() // a view's Release must not recycle the buffer
	if !a.Pooled() || a.Data()[0] != 7 {
		t.Fatal("releasing a view released its base")
	}
	a.Release()
	if a.Pooled() || a.Len() != 0 {
		t.Fatalf("after Release: pooled %v, len %d", a.Pooled(), a.Len())
	}
	a.Release() // twice is harmless
	if small := Empty[float32](10); small.Pooled() {
		t.Fatal("a tensor below poolMin is pooled")
	}
	if !race.Enabled {
		b := Empty[float32](4000)
		b.Release()
		if n := testing.AllocsPerRun(100, func() { Empty[float32](4000).Release() }); n > 2 {
			t.Fatalf("a warm Empty+Release allocates %v times, want <= 2 (the Dense and its shape)", n)
		}
	}
	if x := Empty[float64](2000); !x.Pooled() {
		t.Fatal("float64 tensors are not pooled")
	}
}

func TestFreePool(t *testing.T) {
	a := Empty[float32](5000)
	a.Release()
	FreePool()
	b := Empty[float32](5000)
	if b.pb == a.pb && a.pb != nil {
		t.Fatal("FreePool kept a buffer")
	}
	for c, l := range pools32.free {
		if len(l) != 0 {
			t.Fatalf("class %d still holds %d buffers", c, len(l))
		}
	}
}
