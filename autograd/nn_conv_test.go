package autograd

import (
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo/tensor"
)

// nnRand returns a float64 tensor uniform in [-1, 1).
func nnRand(seed uint64, shape ...int) *tensor.Tensor64 {
	return tensor.Uniform[float64](tensor.NewRNG(seed), -1, 1, shape...)
}

// nnExpectPanic runs f and fails unless it panics with a message containing
// every one of want.
func nnExpectPanic(t *testing.T, f func(), want ...string) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Fatalf("no panic, want one mentioning %q", want)
		}
		msg := fmt.Sprint(r)
		for _, w := range want {
			if !strings.Contains(msg, w) {
				t.Fatalf("panic %q does not mention %q", msg, w)
			}
		}
	}()
	f()
}

type convCase struct {
	name         string
	n, cin, h, w int
	cout, kh, kw int
	opts         Conv2dOptions
	bias         bool
}

var convCases = []convCase{
	{"basic", 2, 3, 6, 5, 4, 3, 3, Conv2dOptions{}, true},
	{"pad1", 2, 2, 5, 5, 3, 3, 3, Conv2dOptions{Padding: [2]int{1, 1}}, true},
	{"stride2-pad1", 2, 3, 7, 6, 2, 3, 3, Conv2dOptions{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}}, false},
	{"dilation2", 1, 2, 8, 7, 3, 3, 3, Conv2dOptions{Dilation: [2]int{2, 2}, Padding: [2]int{1, 2}}, true},
	{"groups2", 2, 4, 5, 5, 6, 3, 3, Conv2dOptions{Groups: 2, Padding: [2]int{1, 1}}, true},
	{"depthwise", 2, 3, 6, 6, 3, 3, 3, Conv2dOptions{Groups: 3, Padding: [2]int{1, 1}}, false},
	{"depthwise-mult2", 1, 2, 5, 5, 4, 3, 3, Conv2dOptions{Groups: 2, Stride: [2]int{2, 1}}, true},
	{"nonsquare", 2, 2, 6, 7, 3, 2, 3, Conv2dOptions{Stride: [2]int{1, 2}, Padding: [2]int{1, 0}}, true},
	{"nonsquare-1x3", 1, 3, 4, 6, 2, 1, 3, Conv2dOptions{Padding: [2]int{0, 1}}, false},
	{"1x1-direct", 2, 3, 4, 5, 4, 1, 1, Conv2dOptions{}, true},
	{"1x1-stride2", 2, 3, 5, 5, 2, 1, 1, Conv2dOptions{Stride: [2]int{2, 2}}, false},
	{"cin1", 3, 1, 6, 6, 4, 3, 3, Conv2dOptions{Padding: [2]int{1, 1}}, true},
	{"batch>chunk", 11, 2, 4, 4, 2, 3, 3, Conv2dOptions{Padding: [2]int{1, 1}}, true},
}

// naiveConv is the definition of Conv2d, index by index, in float64.
func naiveConv(x, w, b *tensor.Tensor64, o Conv2dOptions) *tensor.Tensor64 {
	xs, ws := x.Shape(), w.Shape()
	g := o.Groups
	if g == 0 {
		g = 1
	}
	sh, sw := nnPair(o.Stride, 1)
	dh, dw := nnPair(o.Dilation, 1)
	ph, pw := o.Padding[0], o.Padding[1]
	oh := (xs[2]+2*ph-dh*(ws[2]-1)-1)/sh + 1
	ow := (xs[3]+2*pw-dw*(ws[3]-1)-1)/sw + 1
	out := tensor.New[float64](xs[0], ws[0], oh, ow)
	coutG := ws[0] / g
	for n := 0; n < xs[0]; n++ {
		for co := 0; co < ws[0]; co++ {
			grp := co / coutG
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					var s float64
					if b != nil {
						s = b.At(co)
					}
					for ci := 0; ci < ws[1]; ci++ {
						for a := 0; a < ws[2]; a++ {
							for c := 0; c < ws[3]; c++ {
								ih, iw := i*sh-ph+a*dh, j*sw-pw+c*dw
								if ih >= 0 && ih < xs[2] && iw >= 0 && iw < xs[3] {
									s += x.At(n, grp*ws[1]+ci, ih, iw) * w.At(co, ci, a, c)
								}
							}
						}
					}
					out.Set(s, n, co, i, j)
				}
			}
		}
	}
	return out
}

// convPaths runs f once with every convolution forced onto the batched path
// and once onto the per-sample path.
func convPaths(t *testing.T, f func(t *testing.T)) {
	for _, path := range []struct {
		name  string
		small int
	}{{"batched", 0}, {"per-sample", math.MaxInt}} {
		t.Run(path.name, func(t *testing.T) {
			old := convSmallGEMM
			convSmallGEMM = path.small
			defer func() { convSmallGEMM = old }()
			f(t)
		})
	}
}

func TestConv2dForwardMatchesDefinition(t *testing.T) { convPaths(t, testConv2dForward) }

func testConv2dForward(t *testing.T) {
	for i, c := range convCases {
		t.Run(c.name, func(t *testing.T) {
			x := nnRand(uint64(10*i+1), c.n, c.cin, c.h, c.w)
			w := nnRand(uint64(10*i+2), c.cout, c.cin/max(c.opts.Groups, 1), c.kh, c.kw)
			var b *tensor.Tensor64
			var bv *Var[float64]
			if c.bias {
				b = nnRand(uint64(10*i+3), c.cout)
				bv = Const(b)
			}
			opts := c.opts
			got := Conv2d(Const(x), Const(w), bv, opts).Data()
			want := naiveConv(x, w, b, c.opts)
			if !tensor.SameShape(got.Shape(), want.Shape()) {
				t.Fatalf("shape %v, want %v", got.Shape(), want.Shape())
			}
			for k, v := range want.Data() {
				if math.Abs(got.Data()[k]-v) > 1e-12 {
					t.Fatalf("out[%d] = %v, want %v", k, got.Data()[k], v)
				}
			}
		})
	}
}

func TestConv2dGradCheck(t *testing.T) { convPaths(t, testConv2dGradCheck) }

func testConv2dGradCheck(t *testing.T) {
	for i, c := range convCases {
		t.Run(c.name, func(t *testing.T) {
			opts := c.opts
			inputs := []*tensor.Tensor64{
				nnRand(uint64(10*i+1), c.n, c.cin, c.h, c.w),
				nnRand(uint64(10*i+2), c.cout, c.cin/max(c.opts.Groups, 1), c.kh, c.kw),
			}
			if c.bias {
				inputs = append(inputs, nnRand(uint64(10*i+3), c.cout))
			}
			err := CheckGrad(func(xs []*Var[float64]) *Var[float64] {
				var b *Var[float64]
				if len(xs) == 3 {
					b = xs[2]
				}
				return Conv2d(xs[0], xs[1], b, opts)
			}, inputs, CheckOptions{})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestConv2dManyChunks(t *testing.T) { convPaths(t, testConv2dManyChunks) }

func testConv2dManyChunks(t *testing.T) {
	// Force chunks of convMinChunk samples so that the chunked im2col, the
	// gathers and the chunk-by-chunk weight-gradient accumulation all run.
	old := convChunkFloats
	convChunkFloats = 1
	defer func() { convChunkFloats = old }()
	for _, name := range []string{"pad1", "stride2-pad1", "groups2", "batch>chunk", "1x1-stride2"} {
		var c convCase
		for _, cc := range convCases {
			if cc.name == name {
				c = cc
			}
		}
		c.n = 2*convMinChunk + 3
		t.Run(name, func(t *testing.T) {
			opts := c.opts
			x := nnRand(1, c.n, c.cin, c.h, c.w)
			w := nnRand(2, c.cout, c.cin/max(c.opts.Groups, 1), c.kh, c.kw)
			b := nnRand(3, c.cout)
			got := Conv2d(Const(x), Const(w), Const(b), opts).Data()
			want := naiveConv(x, w, b, c.opts)
			for k, v := range want.Data() {
				if math.Abs(got.Data()[k]-v) > 1e-12 {
					t.Fatalf("out[%d] = %v, want %v", k, got.Data()[k], v)
				}
			}
			err := CheckGrad(func(xs []*Var[float64]) *Var[float64] {
				return Conv2d(xs[0], xs[1], xs[2], opts)
			}, []*tensor.Tensor64{x, w, b}, CheckOptions{})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestConvCol2ImSameMatchesCol2Im(t *testing.T) {
	geoms := []struct {
		c, h, w int
		g       tensor.ConvGeom
	}{
		{2, 5, 6, tensor.ConvGeom{KH: 3, KW: 3, PadH: 1, PadW: 1}},
		{1, 6, 7, tensor.ConvGeom{KH: 3, KW: 3, PadH: 2, PadW: 2, DilH: 2, DilW: 2}},
		{2, 4, 4, tensor.ConvGeom{KH: 5, KW: 5, PadH: 2, PadW: 2}},
		{1, 3, 5, tensor.ConvGeom{KH: 2, KW: 3, PadH: 0, PadW: 1}},
		{1, 1, 3, tensor.ConvGeom{KH: 3, KW: 3, PadH: 1, PadW: 1}},
	}
	for i, gc := range geoms {
		oh, ow := gc.g.OutSize(gc.h, gc.w)
		if ow != gc.w {
			t.Fatalf("case %d is not same-width", i)
		}
		rows := gc.c * gc.g.KH * gc.g.KW
		for _, T := range []string{"float64", "float32"} {
			cols := nnRand(uint64(i+1), rows*oh*ow*2).Data()
			want := make([]float64, gc.c*gc.h*gc.w)
			tensor.Col2ImStrided(cols[oh*ow:], 2*oh*ow, gc.c, gc.h, gc.w, gc.g, want)
			if T == "float64" {
				got := make([]float64, len(want))
				convCol2ImSame(append([]float64(nil), cols...)[oh*ow:], 2*oh*ow, gc.c, gc.h, gc.w, gc.g, got)
				for j := range want {
					if got[j] != want[j] {
						t.Fatalf("case %d: pixel %d = %v, want %v", i, j, got[j], want[j])
					}
				}
				continue
			}
			c32 := tensor.Convert[float32](tensor.FromSlice(cols, len(cols))).Data()
			w32 := make([]float32, len(want))
			tensor.Col2ImStrided(c32[oh*ow:], 2*oh*ow, gc.c, gc.h, gc.w, gc.g, w32)
			got := make([]float32, len(want))
			convCol2ImSame(c32[oh*ow:], 2*oh*ow, gc.c, gc.h, gc.w, gc.g, got)
			for j := range w32 {
				if got[j] != w32[j] {
					t.Fatalf("case %d float32: pixel %d = %v, want %v", i, j, got[j], w32[j])
				}
			}
		}
	}
}

func TestConv2dFrozenWeightSkipsWeightGEMM(t *testing.T) { convPaths(t, testConv2dFrozen) }

func testConv2dFrozen(t *testing.T) {
	x := Param(nnRand(1, 9, 2, 5, 5))
	w := Const(nnRand(2, 3, 2, 3, 3))
	b := Const(nnRand(3, 3))
	before := convWeightGEMMs.Load()
	y := Conv2d(x, w, b, Conv2dOptions{Padding: [2]int{1, 1}})
	y.BackwardWith(tensor.Full[float64](1, y.Shape()...))
	if got := convWeightGEMMs.Load() - before; got != 0 {
		t.Errorf("%d weight-gradient GEMMs ran for a frozen weight", got)
	}
	if w.Grad() != nil || b.Grad() != nil {
		t.Error("frozen weight or bias got a gradient")
	}
	if x.Grad() == nil {
		t.Error("input got no gradient")
	}
	// The other way round: a frozen input still gives the weight gradient.
	x2 := Const(nnRand(1, 9, 2, 5, 5))
	w2 := Param(nnRand(2, 3, 2, 3, 3))
	y2 := Conv2d(x2, w2, nil, Conv2dOptions{Padding: [2]int{1, 1}})
	y2.BackwardWith(tensor.Full[float64](1, y2.Shape()...))
	if w2.Grad() == nil || x2.Grad() != nil {
		t.Error("frozen input: want a weight gradient and no input gradient")
	}
	if convWeightGEMMs.Load() == before {
		t.Error("weight-gradient GEMM counter did not move for a trainable weight")
	}
}

func TestConv2dDeterministicAcrossThreads(t *testing.T) {
	convPaths(t, testConv2dDeterministic)
}

func testConv2dDeterministic(t *testing.T) {
	rng := tensor.NewRNG(42)
	xd := tensor.Uniform[float32](rng, -1, 1, 24, 8, 12, 12)
	wd := tensor.Uniform[float32](rng, -1, 1, 16, 8, 3, 3)
	bd := tensor.Uniform[float32](rng, -1, 1, 16)
	gy := tensor.Uniform[float32](rng, -1, 1, 24, 16, 12, 12)
	run := func(procs int) [4][]float32 {
		old := runtime.GOMAXPROCS(procs)
		defer runtime.GOMAXPROCS(old)
		x, w, b := Param(xd.Clone()), Param(wd.Clone()), Param(bd.Clone())
		y := Conv2d(x, w, b, Conv2dOptions{Padding: [2]int{1, 1}})
		y.BackwardWith(gy)
		return [4][]float32{y.Data().Data(), x.Grad().Data(), w.Grad().Data(), b.Grad().Data()}
	}
	one, two := run(1), run(2)
	old := convChunkFloats
	convChunkFloats = 1 // many chunks: the thread count must not matter either
	many1, many2 := run(1), run(2)
	convChunkFloats = old
	for k := range one {
		for i := range many1[k] {
			if math.Float32bits(many1[k][i]) != math.Float32bits(many2[k][i]) {
				t.Fatalf("with small chunks, result %d differs at %d between 1 and 2 threads", k, i)
			}
		}
	}
	for k, name := range []string{"output", "dx", "dw", "db"} {
		for i := range one[k] {
			if math.Float32bits(one[k][i]) != math.Float32bits(two[k][i]) {
				t.Fatalf("%s[%d] differs: %v with 1 thread, %v with 2", name, i, one[k][i], two[k][i])
			}
		}
	}
}

func TestConv2dShapeErrors(t *testing.T) {
	nnExpectPanic(t, func() {
		Conv2d(Const(tensor.New[float64](2, 3, 8, 8)), Const(tensor.New[float64](4, 2, 3, 3)), nil, Conv2dOptions{})
	}, "autograd.Conv2d: input [2 3 8 8] has 3 channels, weight [4 2 3 3] expects 2 (groups 1)")
	nnExpectPanic(t, func() {
		Conv2d(Const(tensor.New[float64](2, 4, 8, 8)), Const(tensor.New[float64](3, 2, 3, 3)), nil, Conv2dOptions{Groups: 2})
	}, "autograd.Conv2d", "[3 2 3 3]", "groups 2")
	nnExpectPanic(t, func() {
		Conv2d(Const(tensor.New[float64](2, 2, 8, 8)), Const(tensor.New[float64](4, 2, 3, 3)), Const(tensor.New[float64](3)), Conv2dOptions{})
	}, "autograd.Conv2d: bias [3]")
	nnExpectPanic(t, func() {
		Conv2d(Const(tensor.New[float64](2, 2, 2, 2)), Const(tensor.New[float64](4, 2, 3, 3)), nil, Conv2dOptions{})
	}, "autograd.Conv2d", "larger than input [2 2 2 2]")
	nnExpectPanic(t, func() {
		Conv2d(Const(tensor.New[float64](2, 8, 8)), Const(tensor.New[float64](4, 2, 3, 3)), nil, Conv2dOptions{})
	}, "autograd.Conv2d: input of shape [2 8 8] has rank 3")
}
