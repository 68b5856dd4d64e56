package autograd

import (
	"fmt"
	"math"
	"runtime"
	"testing"

	"github.com/fastgo-ml/fastgo/tensor"
)

// setConvAlgo forces the algorithm choice (convAlgoAuto, convAlgoIm2col or
// convAlgoWinograd) and returns the function that restores it.
func setConvAlgo(a int) (restore func()) {
	prev := convAlgoForce
	convAlgoForce = a
	return func() { convAlgoForce = prev }
}

// convAlgorithm is one way of computing a float32 convolution, as forced by
// the switches of the package.
type convAlgorithm struct {
	name   string
	force  int // convAlgoForce
	packed int // convPacked
	chunk  int // winoChunkFloats (0: unchanged)
	wino   bool
	direct bool // the direct forward and weight gradient (dX is the GEMMs')
}

var convAlgorithms = []convAlgorithm{
	{name: "im2col", force: convAlgoIm2col, packed: -1},
	{name: "packed", force: convAlgoIm2col, packed: 1},
	{name: "winograd", force: convAlgoWinograd, wino: true},
	{name: "winograd-chunks", force: convAlgoWinograd, chunk: 1, wino: true}, // chunks of one row of tiles
	{name: "direct", force: convAlgoAuto, direct: true},                      // the direct kernels, one input channel
}

// use sets the switches of a and returns the function that restores them.
func (a convAlgorithm) use() (restore func()) {
	r1 := setConvAlgo(a.force)
	prevPacked, prevChunk, prevPer := convPacked, winoChunkFloats, winoChunkPerWeight
	convPacked = a.packed
	if a.chunk > 0 {
		winoChunkFloats, winoChunkPerWeight = a.chunk, 0
	}
	return func() { r1(); convPacked, winoChunkFloats, winoChunkPerWeight = prevPacked, prevChunk, prevPer }
}

// convRef64 is the direct convolution in float64, index by index: the
// output, and the gradients of <gy, output> with respect to x, w and b.
func convRef64(x, w, b, gy []float64, p *convPlan) (y, gx, gw, gb []float64) {
	g := p.geom.Norm()
	y = make([]float64, p.n*p.outSize)
	gx = make([]float64, p.n*p.inPlane)
	gw = make([]float64, p.cout*p.kG)
	gb = make([]float64, p.cout)
	for n := 0; n < p.n; n++ {
		for co := 0; co < p.cout; co++ {
			grp := co / p.coutG
			for i := 0; i < p.oh; i++ {
				for j := 0; j < p.ow; j++ {
					o := ((n*p.cout+co)*p.oh+i)*p.ow + j
					s := b[co]
					d := gy[o]
					gb[co] += d
					for ci := 0; ci < p.cinG; ci++ {
						for a := 0; a < g.KH; a++ {
							for c := 0; c < g.KW; c++ {
								ih, iw := i*g.StrideH-g.PadH+a*g.DilH, j*g.StrideW-g.PadW+c*g.DilW
								if ih < 0 || ih >= p.h || iw < 0 || iw >= p.w {
									continue
								}
								xi := ((n*p.cin+grp*p.cinG+ci)*p.h+ih)*p.w + iw
								wi := ((co*p.cinG+ci)*g.KH+a)*g.KW + c
								s += x[xi] * w[wi]
								gx[xi] += d * w[wi]
								gw[wi] += d * x[xi]
							}
						}
					}
					y[o] = s
				}
			}
		}
	}
	return y, gx, gw, gb
}

// guarded is a buffer of n floats between two guard bands of a sentinel
// value: writes out of bounds change a band.
type guarded struct {
	all  []float32
	n    int
	fill float32
}

const convGuard = 64

var convSentinel = math.Float32frombits(0x7fc0dead) // a NaN with a payload

func newGuarded(n int, fill float32) *guarded {
	g := &guarded{all: make([]float32, n+2*convGuard), n: n, fill: fill}
	for i := range g.all {
		g.all[i] = convSentinel
	}
	for i := range g.data() {
		g.data()[i] = fill
	}
	return g
}

func (g *guarded) data() []float32 { return g.all[convGuard : convGuard+g.n] }

// intact reports whether both guard bands still hold the sentinel.
func (g *guarded) intact() bool {
	for i, v := range g.all {
		if (i < convGuard || i >= convGuard+g.n) && math.Float32bits(v) != math.Float32bits(convSentinel) {
			return false
		}
	}
	return true
}

// convMaxErr returns max |got - want| / max |want|.
func convMaxErr(got []float32, want []float64) float64 {
	scale, e := 0.0, 0.0
	for i, v := range want {
		scale = max(scale, math.Abs(v))
		d := math.Abs(float64(got[i]) - v)
		if math.IsNaN(d) {
			return math.Inf(1)
		}
		e = max(e, d)
	}
	if scale == 0 {
		return e
	}
	return e / scale
}

// TestConvAlgorithmsConformance runs every float32 convolution algorithm
// (im2col + GEMM, the packed GEMMs, Winograd F(4x4, 3x3) with one chunk of
// tiles and with many, the direct kernels of one input channel) on odd
// shapes against the direct convolution in float64: output and both
// gradients (and the bias gradient), each output buffer between guard
// bands that must not be written. Errors are relative to the largest
// magnitude of the reference.
//
// Measured maxima of the relative error (AMD Zen 3, AVX2 tier), over these
// shapes: im2col and packed 4.7e-7 (output), 6.2e-7 (dX), 4.7e-7 (dW);
// Winograd F(4x4, 3x3) 1.2e-5 (output), 1.1e-5 (dX), 5.4e-6 (dW), the
// largest on the 256-channel 4x4 images, where the reduction is longest
// and every tile touches the padding; the direct kernels of one input
// channel 1.1e-7 (output) and 1.8e-7 (dW; dX is the GEMMs'). The bounds
// leave about 4x room.
func TestConvAlgorithmsConformance(t *testing.T) {
	type shape struct {
		n, cin, h, w, cout, kh, kw, s int
		ph, pw, dil, groups           int
	}
	cases := []shape{
		{1, 3, 7, 9, 5, 3, 3, 1, 1, 1, 1, 1},      // batch 1, odd H/W
		{2, 5, 11, 6, 7, 3, 3, 1, 0, 0, 1, 1},     // padding 0
		{3, 6, 5, 13, 9, 3, 3, 1, 2, 2, 1, 1},     // padding 2
		{2, 5, 9, 10, 3, 3, 3, 1, 0, 2, 1, 1},     // padding 0 x 2
		{2, 4, 9, 9, 6, 3, 3, 2, 1, 1, 1, 1},      // stride 2
		{2, 4, 10, 8, 4, 3, 3, 1, 2, 2, 2, 1},     // dilation 2
		{2, 6, 7, 7, 9, 3, 3, 1, 1, 1, 1, 3},      // groups 3
		{2, 5, 8, 8, 7, 1, 1, 1, 0, 0, 1, 1},      // 1x1
		{2, 5, 8, 8, 7, 1, 1, 2, 0, 0, 1, 1},      // 1x1 stride 2
		{2, 3, 9, 7, 5, 5, 5, 1, 2, 2, 1, 1},      // 5x5
		{1, 13, 1, 1, 11, 3, 3, 1, 1, 1, 1, 1},    // 1x1 images
		{3, 17, 6, 6, 19, 3, 3, 1, 1, 1, 1, 1},    // channels not a multiple of 8
		{2, 3, 13, 11, 21, 3, 3, 1, 1, 1, 1, 1},   // a stem
		{2, 64, 16, 16, 64, 3, 3, 1, 1, 1, 1, 1},  // ResNet stage 1
		{2, 128, 8, 8, 128, 3, 3, 1, 1, 1, 1, 1},  // ResNet stage 2
		{4, 256, 4, 4, 256, 3, 3, 1, 1, 1, 1, 1},  // ResNet stage 4 at 32 px
		{2, 32, 14, 14, 48, 3, 3, 2, 1, 1, 1, 1},  // strided ResNet downsampling
		{2, 32, 14, 14, 48, 1, 1, 2, 0, 0, 1, 1},  // its 1x1 shortcut
		{1, 16, 23, 17, 24, 3, 3, 1, 1, 1, 1, 1},  // partial tiles on both edges
		{5, 9, 4, 5, 10, 3, 3, 1, 2, 1, 1, 1},     // small images, mixed padding
		{3, 8, 3, 3, 8, 3, 3, 1, 0, 0, 1, 1},      // one output pixel
		{2, 10, 12, 12, 12, 3, 3, 1, 1, 1, 1, 2},  // groups 2
		{2, 12, 12, 12, 12, 3, 3, 1, 1, 1, 2, 12}, // depthwise dilated
		{2, 1, 28, 28, 32, 3, 3, 1, 1, 1, 1, 1},   // one input channel: the SmallCNN's conv1
		{1, 1, 5, 13, 3, 3, 3, 1, 1, 1, 1, 1},     // one input channel, rows of 13
		{3, 1, 9, 8, 2, 3, 3, 1, 1, 1, 1, 1},      // one input channel, rows of 8
	}
	worst := map[string][3]float64{}
	for ci, c := range cases {
		opts := Conv2dOptions{Stride: [2]int{c.s, c.s}, Padding: [2]int{c.ph, c.pw}, Dilation: [2]int{c.dil, c.dil}, Groups: c.groups}
		p := newConvPlan([]int{c.n, c.cin, c.h, c.w}, []int{c.cout, c.cin / c.groups, c.kh, c.kw}, &opts)
		rng := tensor.NewRNG(uint64(100 + ci))
		x := tensor.Uniform[float64](rng, -1, 1, c.n, c.cin, c.h, c.w).Data()
		w := tensor.Uniform[float64](rng, -0.5, 0.5, c.cout, c.cin/c.groups, c.kh, c.kw).Data()
		b := tensor.Uniform[float64](rng, -0.5, 0.5, c.cout).Data()
		gy := tensor.Uniform[float64](rng, -1, 1, c.n, c.cout, p.oh, p.ow).Data()
		y, gx, gw, gb := convRef64(x, w, b, gy, p)
		f32 := func(v []float64) []float32 {
			out := make([]float32, len(v))
			for i, e := range v {
				out[i] = float32(e)
			}
			return out
		}
		x32, w32, b32, gy32 := f32(x), f32(w), f32(b), f32(gy)
		for _, a := range convAlgorithms {
			if (a.wino && !p.winoable()) || (a.direct && !p.direct3x3Shape()) {
				continue
			}
			t.Run(fmt.Sprintf("%s/%+v", a.name, c), func(t *testing.T) {
				defer a.use()()
				if got := p.winograd(passForward); got != a.wino {
					t.Fatalf("winograd(forward) = %v, want %v", got, a.wino)
				}
				if got := p.direct3x3(); got != a.direct {
					t.Fatalf("direct3x3 = %v, want %v", got, a.direct)
				}
				bound := 2e-6
				if a.wino {
					bound = 5e-5
				}
				nan := float32(math.NaN())
				out := newGuarded(len(y), nan)
				convForward(p, x32, w32, b32, out.data(), false, nil)
				gxb, gwb, gbb := newGuarded(len(gx), nan), newGuarded(len(gw), nan), newGuarded(len(gb), 0)
				convBackward(p, x32, w32, gy32, tensor.FromSlice(gxb.data(), c.n, c.cin, c.h, c.w),
					tensor.FromSlice(gwb.data(), c.cout, c.cin/c.groups, c.kh, c.kw), tensor.FromSlice(gbb.data(), c.cout))
				for _, r := range []struct {
					name  string
					buf   *guarded
					want  []float64
					bound float64
				}{
					{"output", out, y, bound}, {"dx", gxb, gx, bound}, {"dw", gwb, gw, bound}, {"db", gbb, gb, 1e-6},
				} {
					if !r.buf.intact() {
						t.Errorf("%s: a write out of bounds changed a guard band", r.name)
					}
					e := convMaxErr(r.buf.data(), r.want)
					if !(e <= r.bound) {
						t.Errorf("%s: max relative error %.3g > %.3g", r.name, e, r.bound)
					}
					k := map[string]int{"output": 0, "dx": 1, "dw": 2}
					if i, ok := k[r.name]; ok {
						wst := worst[a.name]
						wst[i] = max(wst[i], e)
						worst[a.name] = wst
					}
				}
			})
		}
	}
	for _, a := range convAlgorithms {
		t.Logf("%-16s max relative error: output %.2g, dx %.2g, dw %.2g", a.name, worst[a.name][0], worst[a.name][1], worst[a.name][2])
	}
}

// TestWinogradBitIdenticalAcrossThreads checks that Winograd's output and
// gradients are the same bits at GOMAXPROCS 1, 2 and 3, with one chunk of
// tiles and with many (the weight gradient summed over chunks), through
// Conv2dReLU (the ReLU applied as the tiles are written) and Conv2d.
func TestWinogradBitIdenticalAcrossThreads(t *testing.T) {
	type geom struct{ n, cin, h, w, cout, pad int }
	for _, a := range convAlgorithms[2:] {
		for _, c := range []geom{{6, 16, 13, 11, 24, 1}, {4, 64, 8, 8, 64, 1}, {3, 9, 10, 7, 5, 2}} {
			run := func(procs int) []*tensor.Tensor {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
				defer a.use()()
				rng := tensor.NewRNG(7)
				x := Param(tensor.Uniform[float32](rng, -1, 1, c.n, c.cin, c.h, c.w))
				w := Param(tensor.Uniform[float32](rng, -0.3, 0.3, c.cout, c.cin, 3, 3))
				b := Param(tensor.Uniform[float32](rng, -0.3, 0.3, c.cout))
				opts := Conv2dOptions{Padding: [2]int{c.pad, c.pad}}
				y := Conv2dReLU(x, w, b, opts)
				z := Conv2d(y, Param(tensor.Uniform[float32](rng, -0.3, 0.3, c.cout, c.cout, 3, 3)), nil, opts)
				out := z.Data().Clone()
				z.BackwardWith(tensor.Uniform[float32](rng, -1, 1, z.Shape()...))
				return []*tensor.Tensor{out, x.Grad(), w.Grad(), b.Grad()}
			}
			one := run(1)
			for _, procs := range []int{2, 3} {
				other := run(procs)
				for r := range one {
					for i, v := range one[r].Data() {
						if math.Float32bits(v) != math.Float32bits(other[r].Data()[i]) {
							t.Fatalf("%s %+v: result %d element %d: %v with 1 thread, %v with %d", a.name, c, r, i, v, other[r].Data()[i], procs)
						}
					}
				}
			}
		}
	}
}
