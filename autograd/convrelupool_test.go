package autograd

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/fastgo-ml/fastgo/tensor"
)

// TestConv2dReLUMaxPool2x2IsTheOpsInTurn checks the fused op against
// Conv2dReLU then MaxPool2d, bit for bit: the output and every gradient,
// on both float32 convolution paths, on 1 and 2 threads, with all
// parameters trainable, with the parameters frozen (an attack: the input
// gradient alone, through the padded backward), and with the input frozen.
// The shapes cover even and odd planes (odd ones drop a row or column in
// the pool), a 1x1 convolution whose pooled rows fill their rows, dilation,
// groups, batch 1, and a strided convolution (not a same one).
func TestConv2dReLUMaxPool2x2IsTheOpsInTurn(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	defer func(p int) { convPacked = p }(convPacked)
	same := Conv2dOptions{Padding: [2]int{1, 1}}
	type geo struct {
		x, w []int
		opts Conv2dOptions
		bias bool
	}
	geos := []geo{
		{[]int{4, 3, 14, 14}, []int{8, 3, 3, 3}, same, true},
		{[]int{3, 2, 15, 13}, []int{4, 2, 3, 3}, same, true},
		{[]int{1, 5, 7, 9}, []int{6, 5, 3, 3}, same, false},
		{[]int{2, 4, 8, 16}, []int{3, 4, 1, 1}, Conv2dOptions{}, true},
		{[]int{2, 3, 11, 10}, []int{4, 3, 3, 3}, Conv2dOptions{Padding: [2]int{2, 2}, Dilation: [2]int{2, 2}}, true},
		{[]int{2, 4, 6, 6}, []int{6, 2, 3, 3}, Conv2dOptions{Padding: [2]int{1, 1}, Groups: 2}, true},
		{[]int{3, 2, 12, 10}, []int{4, 2, 3, 3}, Conv2dOptions{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}}, true},
	}
	for _, packed := range []int{1, -1} {
		convPacked = packed
		for _, g := range geos {
			rng := tensor.NewRNG(uint64(11 + g.x[2]))
			xd := tensor.Uniform[float32](rng, -1, 1, g.x...)
			wd := tensor.Uniform[float32](rng, -0.5, 0.5, g.w...)
			var bd *tensor.Tensor
			if g.bias {
				bd = tensor.Uniform[float32](rng, -0.3, 0.3, g.w[0])
			}
			for _, mode := range []string{"train", "attack", "frozen input"} {
				type res struct{ out, gx, gw, gb *tensor.Tensor }
				run := func(fused bool, procs int) res {
					runtime.GOMAXPROCS(procs)
					leaf := func(d *tensor.Tensor, grad bool) *Value {
						if d == nil {
							return nil
						}
						if grad {
							return Param(d.Clone())
						}
						return Const(d.Clone())
					}
					x := leaf(xd, mode != "frozen input")
					w, b := leaf(wd, mode != "attack"), leaf(bd, mode != "attack")
					var y *Value
					if fused {
						y = Conv2dReLUMaxPool2x2(x, w, b, g.opts)
					} else {
						y = MaxPool2d(Conv2dReLU(x, w, b, g.opts), Pool2dOptions{Kernel: [2]int{2, 2}})
					}
					r := res{out: y.Data().Clone()}
					y.BackwardWith(tensor.Uniform[float32](tensor.NewRNG(5), -1, 1, y.Shape()...))
					r.gx, r.gw = x.Grad(), w.Grad()
					if b != nil {
						r.gb = b.Grad()
					}
					return r
				}
				want := run(false, 2)
				for _, procs := range []int{1, 2} {
					got := run(true, procs)
					name := fmt.Sprintf("x %v w %v %+v %s GOMAXPROCS=%d packed=%d", g.x, g.w, g.opts, mode, procs, convPacked)
					sameBits(t, name, []bitsPair{{"output", got.out, want.out}, {"input gradient", got.gx, want.gx},
						{"weight gradient", got.gw, want.gw}, {"bias gradient", got.gb, want.gb}})
				}
			}
		}
	}
}

// TestConv2dReLUMaxPool2x2TakesTheWidePaths checks that the shapes of
// TestConv2dReLUMaxPool2x2IsTheOpsInTurn reach the paths it is there for:
// a same convolution pools from the GEMM's wide output, and an attack's
// backward (input gradient alone) scatters into the padded grid.
func TestConv2dReLUMaxPool2x2TakesTheWidePaths(t *testing.T) {
	defer func(p int) { convPacked = p }(convPacked)
	convPacked = 1
	for _, c := range []struct {
		x, w []int
		opts Conv2dOptions
		want bool
	}{
		{[]int{4, 3, 14, 14}, []int{8, 3, 3, 3}, Conv2dOptions{Padding: [2]int{1, 1}}, true},
		{[]int{2, 4, 8, 16}, []int{3, 4, 1, 1}, Conv2dOptions{}, true},
		{[]int{3, 2, 12, 10}, []int{4, 2, 3, 3}, Conv2dOptions{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}}, false},
	} {
		p := newConvPlan(c.x, c.w, &c.opts)
		if got := p.wideForward(); got != c.want {
			t.Errorf("x %v w %v %+v: wide forward %v, want %v", c.x, c.w, c.opts, got, c.want)
		}
		if got := p.paddedBackward(true, false); got != c.want {
			t.Errorf("x %v w %v %+v: padded backward %v, want %v", c.x, c.w, c.opts, got, c.want)
		}
	}
}
