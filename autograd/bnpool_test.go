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
					sameBits(t, name, []bitsPair{{"output", got.out, want.out}, {"input gradient", got.gx, want.gx},
						{"weight gradient", got.gw, want.gw}, {"bias gradient", got.gb, want.gb},
						{"running mean", got.rm, want.rm}, {"running var", got.rv, want.rv}})
				}
			}
		}
	}
}

// TestConv2dBatchNormReLUMaxPool2x2IsTheOpsInTurn checks that the op gives,
// bit for bit, the convolution's output, the pooled output, the running
// statistics and every gradient of Conv2d followed by
// BatchNormReLUMaxPool2x2: with the statistics gathered by the convolution
// (same convolutions, training or no running statistics, on SmallCNN's
// plane sizes, odd ones and one sample; on the packed path of same
// convolutions and the per-sample im2col one), and without (a strided
// convolution, eval), with and without affine parameters, with 1 and 2
// threads.
func TestConv2dBatchNormReLUMaxPool2x2IsTheOpsInTurn(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	defer func(p int) { convPacked = p }(convPacked)
	for _, packed := range []int{1, -1} {
		convPacked = packed
		testConvBNReLUPool(t)
	}
}

func testConvBNReLUPool(t *testing.T) {
	type geo struct {
		x, w    []int
		opts    Conv2dOptions
		gathers bool // the convolution gathers the statistics (training)
	}
	same := Conv2dOptions{Padding: [2]int{1, 1}}
	for _, g := range []geo{
		{[]int{4, 3, 14, 14}, []int{8, 3, 3, 3}, same, true},
		{[]int{3, 2, 28, 28}, []int{4, 2, 3, 3}, same, true},
		{[]int{5, 3, 7, 9}, []int{6, 3, 3, 3}, same, true},
		{[]int{1, 4, 8, 6}, []int{3, 4, 1, 1}, Conv2dOptions{}, true},
		{[]int{3, 2, 12, 10}, []int{4, 2, 3, 3}, Conv2dOptions{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}}, false},
	} {
		rng := tensor.NewRNG(uint64(7 + g.x[2]))
		xd := tensor.Uniform[float32](rng, -1, 1, g.x...)
		wd := tensor.Uniform[float32](rng, -0.5, 0.5, g.w...)
		bd := tensor.Uniform[float32](rng, -0.5, 0.5, g.w[0])
		c := g.w[0]
		gamma := tensor.Uniform[float32](rng, 0.5, 1.5, c)
		beta := tensor.Uniform[float32](rng, -0.5, 0.5, c)
		for _, training := range []bool{true, false} {
			for _, affine := range []bool{true, false} {
				type res struct{ conv, out, rm, rv, gx, gw, gb, gg, gbeta *tensor.Tensor }
				run := func(fused bool, procs int) res {
					runtime.GOMAXPROCS(procs)
					x, w, b := Param(xd.Clone()), Param(wd.Clone()), Param(bd.Clone())
					var bw, bb *Value
					if affine {
						bw, bb = Param(gamma.Clone()), Param(beta.Clone())
					}
					rm, rv := tensor.Full[float32](0.1, c), tensor.Full[float32](1.2, c)
					opts := BatchNormOptions{Training: training, Momentum: 0.1, Eps: 1e-5}
					var h, y *Value
					if fused {
						h, y = Conv2dBatchNormReLUMaxPool2x2(x, w, b, g.opts, bw, bb, rm, rv, opts)
					} else {
						h = Conv2d(x, w, b, g.opts)
						y = BatchNormReLUMaxPool2x2(h, bw, bb, rm, rv, opts)
					}
					r := res{conv: h.Data().Clone(), out: y.Data().Clone(), rm: rm, rv: rv}
					gy := tensor.Uniform[float32](tensor.NewRNG(5), -1, 1, y.Shape()...)
					y.BackwardWith(gy)
					r.gx, r.gw, r.gb = x.Grad(), w.Grad(), b.Grad()
					if affine {
						r.gg, r.gbeta = bw.Grad(), bb.Grad()
					}
					return r
				}
				want := run(false, 2)
				for _, procs := range []int{1, 2} {
					got := run(true, procs)
					name := fmt.Sprintf("x %v w %v %+v training=%v affine=%v GOMAXPROCS=%d packed=%d", g.x, g.w, g.opts, training, affine, procs, convPacked)
					sameBits(t, name, []bitsPair{{"convolution", got.conv, want.conv}, {"output", got.out, want.out},
						{"running mean", got.rm, want.rm}, {"running var", got.rv, want.rv}, {"input gradient", got.gx, want.gx},
						{"conv weight gradient", got.gw, want.gw}, {"conv bias gradient", got.gb, want.gb},
						{"bn weight gradient", got.gg, want.gg}, {"bn bias gradient", got.gbeta, want.gbeta}})
				}
			}
		}
	}
}

// bitsPair is a tensor a fused op gave (got) and the one the ops in turn
// gave (want), named what.
type bitsPair struct {
	what      string
	got, want *tensor.Tensor
}

// sameBits fails the test unless each pair is nil on both sides or has the
// same shape and the same bits, element by element.
func sameBits(t *testing.T, name string, pairs []bitsPair) {
	t.Helper()
	for _, p := range pairs {
		if (p.got == nil) != (p.want == nil) {
			t.Fatalf("%s: %s missing on one side", name, p.what)
		}
		if p.got == nil {
			continue
		}
		if !tensor.SameShape(p.got.Shape(), p.want.Shape()) {
			t.Fatalf("%s: %s of shape %v, want %v", name, p.what, p.got.Shape(), p.want.Shape())
		}
		for i, v := range p.want.Data() {
			if math.Float32bits(p.got.Data()[i]) != math.Float32bits(v) {
				t.Fatalf("%s: %s[%d]: fused %v, in turn %v", name, p.what, i, p.got.Data()[i], v)
			}
		}
	}
}
