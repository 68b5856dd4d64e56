package autograd

import (
	"math"
	"runtime"
	"testing"

	"github.com/fastgo-ml/fastgo/internal/race"
	"github.com/fastgo-ml/fastgo/tensor"
)

// These tests prove "gradients only where asked" without timing anything:
// a weight gradient is a tensor of the weight's size, so a backward pass
// that skips it allocates far less than the weight, and one that computes it
// allocates at least the weight. Each test measures both ways, so the
// measure itself is shown to detect the work it rules out. Conv2d's
// weight-gradient GEMMs are also counted directly (convWeightGEMMs).

// allocBytes returns the bytes allocated while f runs (all goroutines).
func allocBytes(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// backwardAlloc builds the graph with build (untimed, unmeasured), then
// returns the bytes its backward pass allocates. The same graph is built and
// run once first so that pools (GEMM packing, im2col scratch) are warm.
func backwardAlloc(build func() *Value) uint64 {
	build().Backward()
	out := build()
	return allocBytes(func() { out.Backward() })
}

func TestFrozenWeightsCostNoGradientWork(t *testing.T) {
	const in, outF = 1024, 4096 // a 16 MiB weight
	wBytes := uint64(in * outF * 4)
	rng := tensor.NewRNG(1)
	xd := tensor.Uniform[float32](rng, -1, 1, 4, in)
	wd := tensor.Uniform[float32](rng, -0.03, 0.03, outF, in)
	bd := tensor.Uniform[float32](rng, -0.03, 0.03, outF)
	cases := []struct {
		name string
		// build returns the loss; w says whether the weight requires a
		// gradient.
		build func(w bool) (loss *Value, x, weight *Value)
	}{
		{"Linear", func(w bool) (*Value, *Value, *Value) {
			x, wv, b := Param(xd), leaf(wd, w), leaf(bd, w)
			return SumAll(Linear(x, wv, b)), x, wv
		}},
		{"MatMulT", func(w bool) (*Value, *Value, *Value) {
			x, wv := Param(xd), leaf(wd, w)
			return SumAll(MatMulT(x, wv, tensor.NoTrans, tensor.Trans)), x, wv
		}},
		{"MatMul batched", func(w bool) (*Value, *Value, *Value) {
			x, wv := Param(xd.Reshape(2, 2, in)), leaf(tensor.Transpose(wd, 0, 1), w)
			return SumAll(MatMul(x, wv)), x, wv
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			frozen := backwardAlloc(func() *Value { l, _, _ := c.build(false); return l })
			trained := backwardAlloc(func() *Value { l, _, _ := c.build(true); return l })
			t.Logf("backward allocates %d bytes with the weight frozen, %d trainable (weight %d)", frozen, trained, wBytes)
			if frozen >= wBytes/2 {
				t.Errorf("frozen weight: backward allocated %d bytes, at least half the %d-byte weight: a weight gradient was computed", frozen, wBytes)
			}
			if trained < wBytes {
				t.Errorf("trainable weight: backward allocated %d bytes, less than the %d-byte weight gradient: the measure cannot see the work", trained, wBytes)
			}
			l, x, w := c.build(false)
			l.Backward()
			if w.Grad() != nil || x.Grad() == nil {
				t.Errorf("frozen weight: weight grad %v, input grad %v; want none and one", w.Grad() != nil, x.Grad() != nil)
			}
		})
	}
}

func TestFrozenConvCostsNoWeightGEMM(t *testing.T) {
	rng := tensor.NewRNG(2)
	// Large enough for the batched path, with many chunks; and the
	// per-sample path (Cin 1, as SmallCNN's first layer).
	shapes := []struct {
		name    string
		x, w    []int
		batched bool
	}{
		{"batched", []int{16, 32, 14, 14}, []int{64, 32, 3, 3}, true},
		{"per-sample", []int{16, 1, 28, 28}, []int{32, 1, 3, 3}, false},
		{"1x1", []int{8, 16, 7, 7}, []int{32, 16, 1, 1}, false},
	}
	for _, s := range shapes {
		t.Run(s.name, func(t *testing.T) {
			xd := tensor.Uniform[float32](rng, 0, 1, s.x...)
			wd := tensor.Uniform[float32](rng, -0.1, 0.1, s.w...)
			bd := tensor.Uniform[float32](rng, -0.1, 0.1, s.w[0])
			run := func(train bool) (gemms int64, x, w, b *Value) {
				x, w, b = Param(xd), leaf(wd, train), leaf(bd, train)
				y := Conv2d(x, w, b, Conv2dOptions{Padding: [2]int{1, 1}})
				before := convWeightGEMMs.Load()
				SumAll(y).Backward()
				return convWeightGEMMs.Load() - before, x, w, b
			}
			n, x, w, b := run(false)
			if n != 0 {
				t.Errorf("%d weight-gradient GEMMs for a frozen weight", n)
			}
			if w.Grad() != nil || b.Grad() != nil || x.Grad() == nil {
				t.Error("frozen conv: want an input gradient only")
			}
			if n, _, _, _ := run(true); n == 0 {
				t.Error("the weight-gradient GEMM counter did not move for a trainable weight: it proves nothing")
			}
		})
	}
}

func TestFrozenBatchNormAndConstInputs(t *testing.T) {
	// With a constant input and frozen affine parameters nothing requires
	// a gradient: nothing is recorded at all.
	x := Const(tensor.Uniform[float32](tensor.NewRNG(3), -1, 1, 4, 3, 5, 5))
	w, b := Const(tensor.Ones(3)), Const(tensor.Zeros(3))
	y := BatchNorm(x, w, b, tensor.Zeros(3), tensor.Ones(3), BatchNormOptions{Training: true, Momentum: 0.1, Eps: 1e-5})
	if y.RequiresGrad() || !y.IsLeaf() {
		t.Fatal("BatchNorm of constants recorded a graph")
	}
	// An input that requires a gradient and frozen affine parameters: the
	// input gets one, the parameters none.
	xp := Param(x.Data())
	SumAll(Mul(BatchNorm(xp, w, b, nil, nil, BatchNormOptions{Training: true, Momentum: 0.1, Eps: 1e-5}), Const(tensor.Uniform[float32](tensor.NewRNG(4), -1, 1, 4, 3, 5, 5)))).Backward()
	if xp.Grad() == nil || w.Grad() != nil || b.Grad() != nil {
		t.Fatal("want an input gradient only")
	}
}

// TestGradsComputesOnlyWhatIsAsked checks that Grads, which attacks use to
// differentiate with respect to their input, does no weight-gradient work
// when the weights require gradients but are not asked for, as
// torch.autograd.grad(loss, x) does not.
func TestGradsComputesOnlyWhatIsAsked(t *testing.T) {
	const in, outF = 1024, 4096
	wBytes := uint64(in * outF * 4)
	rng := tensor.NewRNG(5)
	xd := tensor.Uniform[float32](rng, -1, 1, 4, in)
	wd := tensor.Uniform[float32](rng, -0.03, 0.03, outF, in)
	build := func() (*Value, *Value, *Value) {
		x, w := Param(xd), Param(wd)
		return SumAll(Linear(x, w, nil)), x, w
	}
	l, x, w := build()
	g := Grads(l, x)
	if w.Grad() != nil || x.Grad() != nil {
		t.Fatal("Grads touched a leaf's Grad")
	}
	// dx = 1 * W: each element of row r of dx is the column sum of W.
	col := tensor.Sum(wd, 0).Data()
	for i, v := range g[0].Data() {
		if d := math.Abs(float64(v - col[i%in])); d > 1e-4 {
			t.Fatalf("dx[%d] = %v, want %v", i, v, col[i%in])
		}
	}
	l, x, _ = build()
	bytes := allocBytes(func() { Grads(l, x) })
	if bytes >= wBytes/2 {
		t.Errorf("Grads wrt the input allocated %d bytes, at least half the %d-byte weight: it computed the weight gradient", bytes, wBytes)
	}
}

// leaf returns data as a leaf that requires a gradient when w is set.
func leaf(data *tensor.Dense[float32], w bool) *Value {
	if w {
		return Param(data)
	}
	return Const(data)
}

// TestWinogradBackwardMakesNoGarbage checks that a warm backward pass of a
// convolution on the Winograd path (3x3, stride 1, 64 channels) allocates
// next to nothing with two threads: its scratch comes from pools. (Its
// output-gradient transform once allocated a buffer per range of work:
// 17.7 MB of garbage per ResNet-34 training step at 224 pixels, which the
// collector left in place, so that the peak memory grew step by step.)
func TestWinogradBackwardMakesNoGarbage(t *testing.T) {
	if race.Enabled {
		t.Skip("under -race, sync.Pool drops pooled buffers on purpose")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	rng := tensor.NewRNG(7)
	xd := tensor.Uniform[float32](rng, -1, 1, 2, 64, 64, 64)
	wd := tensor.Uniform[float32](rng, -0.05, 0.05, 64, 64, 3, 3)
	gy := tensor.Uniform[float32](rng, -1, 1, 2, 64, 64, 64)
	build := func() *Value {
		return Conv2d(Const(xd), Param(wd), nil, Conv2dOptions{Padding: [2]int{1, 1}})
	}
	build().BackwardWith(gy) // warms the pools
	y := build()
	got := allocBytes(func() { y.BackwardWith(gy) })
	// The weight's gradient is the one allocation that stays.
	wBytes := uint64(4 * wd.Len())
	if got > wBytes+64<<10 {
		t.Fatalf("a warm Winograd convolution backward allocated %d bytes, want at most the weight gradient's %d and 64 KiB", got, wBytes)
	}
}
