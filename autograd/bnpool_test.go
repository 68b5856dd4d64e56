package autograd

import (
	"fmt"
	"math"
	"runtime"
	"testing"

	"github.com/fastgo-ml/fastgo/tensor"
)

// TestBatchNormReLUMaxPool2x2IsFused checks that BatchNormReLUMaxPool2x2
// gives, bit for bit, the output, the running statistics and the input,
// weight and bias gradients of MaxPool2d after BatchNormReLU: on planes with
// odd sizes (a last row or column no window covers), even ones, planes too
// small for the fused path, in eval mode (the two ops in turn), without
// affine parameters, and with 1 and 2 threads.
func TestBatchNormReLUMaxPool2x2IsFused(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, shape := range [][]int{{6, 5, 7, 9}, {4, 3, 8, 8}, {3, 4, 28, 28}, {2, 3, 4, 5}, {5, 2, 6, 3}, {3, 2, 3, 4}} {
		rng := tensor.NewRNG(uint64(31 + shape[2]))
		n, c := shape[0], shape[1]
		xd := tensor.Uniform[float32](rng, -2, 2, shape...)
		gy := tensor.Uniform[float32](rng, -1, 1, n, c, shape[2]/2, shape[3]/2)
		w0 := tensor.Uniform[float32](rng, 0.5, 1.5, c)
		b0 := tensor.Uniform[float32](rng, -0.5, 0.5, c)
		for _, training := range []bool{true, false} {
			for _, affine := range []bool{true, false} {
				type res struct {
					out, gx, gw, gb, rm, rv *tensor.Tensor
				}
				run := func(fused bool, procs int) res {
					runtime.GOMAXPROCS(procs)
					x := Param(xd.Clone())
					var w, b *Value
					if affine {
						w, b = Param(w0.Clone()), Param(b0.Clone())
					}
					rm, rv := tensor.Full[float32](0.1, c), tensor.Full[float32](1.2, c)
					opts := BatchNormOptions{Training: training, Momentum: 0.1, Eps: 1e-5}
					var y *Value
					if fused {
						y = BatchNormReLUMaxPool2x2(x, w, b, rm, rv, opts)
					} else {
						y = MaxPool2d(BatchNormReLU(x, w, b, rm, rv, opts), Pool2dOptions{Kernel: [2]int{2, 2}})
					}
					out := y.Data().Clone()
					y.BackwardWith(gy)
					r := res{out: out, gx: x.Grad(), rm: rm, rv: rv}
					if affine {
						r.gw, r.gb = w.Grad(), b.Grad()
					}
					return r
				}
				want := run(false, 2)
				for _, procs := range []int{1, 2} {
					got := run(true, procs)
					name := fmt.Sprintf("shape %v training=%v affine=%v GOMAXPROCS=%d", shape, training, affine, procs)
					for _, cmp := range []struct {
						what string
						a, b *tensor.Tensor
					}{{"output", got.out, want.out}, {"input gradient", got.gx, want.gx}, {"weight gradient", got.gw, want.gw},
						{"bias gradient", got.gb, want.gb}, {"running mean", got.rm, want.rm}, {"running var", got.rv, want.rv}} {
						if (cmp.a == nil) != (cmp.b == nil) {
							t.Fatalf("%s: %s missing on one side", name, cmp.what)
						}
						if cmp.a == nil {
							continue
						}
						if fmt.Sprint(cmp.a.Shape()) != fmt.Sprint(cmp.b.Shape()) {
							t.Fatalf("%s: %s of shape %v, want %v", name, cmp.what, cmp.a.Shape(), cmp.b.Shape())
						}
						for i, v := range cmp.b.Data() {
							if math.Float32bits(cmp.a.Data()[i]) != math.Float32bits(v) {
								t.Fatalf("%s: %s[%d]: fused %v, unfused %v", name, cmp.what, i, cmp.a.Data()[i], v)
							}
						}
					}
				}
			}
		}
	}
}
