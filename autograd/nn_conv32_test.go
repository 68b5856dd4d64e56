package autograd

import (
	"fmt"
	"math"
	"runtime"
	"testing"

	"github.com/fastgo-ml/fastgo/tensor"
)

// TestConv32MatchesReference compares Conv2d's float32 path (GEMMs over
// packed views of the tensors) with the float64 path (im2col), on outputs
// and on every gradient, over strides, paddings, dilations, groups, kernel
// sizes, odd shapes and batches large enough for the sample-group split.
func TestConv32MatchesReference(t *testing.T) {
	defer SetConvPacked(true)()
	type geom struct{ n, cin, h, w, cout, k, s, pad, dil, groups int }
	cases := []geom{
		{2, 3, 7, 7, 4, 3, 2, 1, 1, 1},
		{3, 4, 9, 6, 6, 3, 1, 2, 2, 2},    // flipped dX with dilation and groups
		{2, 3, 5, 5, 3, 3, 1, 1, 1, 3},    // depthwise
		{2, 5, 6, 6, 7, 1, 2, 0, 1, 1},    // 1x1 stride 2
		{2, 5, 6, 6, 7, 1, 1, 0, 1, 1},    // 1x1 stride 1
		{20, 1, 12, 10, 8, 3, 1, 1, 1, 1}, // first layer: sample-group split
		{3, 8, 11, 13, 16, 3, 1, 1, 1, 1},
		{2, 6, 10, 10, 4, 5, 1, 3, 1, 1}, // padding past the kernel's reach: cols dX
		{2, 4, 8, 9, 4, 2, 2, 0, 1, 2},
		{2, 3, 9, 9, 5, 3, 3, 1, 1, 1},
		{1, 2, 4, 4, 3, 3, 1, 0, 1, 1},  // no padding
		{3, 4, 7, 9, 5, 5, 1, 2, 1, 1},  // same 5x5
		{2, 4, 8, 8, 4, 3, 1, 2, 2, 2},  // same, dilated, groups
		{12, 1, 9, 7, 8, 3, 1, 1, 1, 1}, // same first layer: sample-group split
		{3, 6, 4, 4, 5, 3, 1, 1, 1, 1},  // same on a ResNet's last-stage 4x4
		{3, 4, 1, 1, 3, 3, 1, 1, 1, 1},  // same on 1x1 images: rows of one pad and one pixel
		{2, 3, 2, 5, 4, 5, 1, 2, 1, 1},  // same 5x5 on images narrower than the kernel
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%+v", c), func(t *testing.T) {
			rng := tensor.NewRNG(uint64(c.n*1000 + c.cin*100 + c.k))
			x64 := tensor.Uniform[float64](rng, -1, 1, c.n, c.cin, c.h, c.w)
			w64 := tensor.Uniform[float64](rng, -0.5, 0.5, c.cout, c.cin/c.groups, c.k, c.k)
			b64 := tensor.Uniform[float64](rng, -0.5, 0.5, c.cout)
			opts := Conv2dOptions{Stride: [2]int{c.s, c.s}, Padding: [2]int{c.pad, c.pad}, Dilation: [2]int{c.dil, c.dil}, Groups: c.groups}
			xr, wr, br := Param(x64), Param(w64), Param(b64)
			yr := Conv2d(xr, wr, br, opts)
			gy64 := tensor.Uniform[float64](rng, -1, 1, yr.Shape()...)
			yr.BackwardWith(gy64)

			x, w, b := Param(tensor.Convert[float32](x64)), Param(tensor.Convert[float32](w64)), Param(tensor.Convert[float32](b64))
			y := Conv2d(x, w, b, opts)
			want := yr.Data().Clone()
			y.BackwardWith(tensor.Convert[float32](gy64))
			for _, r := range []struct {
				name string
				got  *tensor.Tensor
				want *tensor.Tensor64
			}{{"output", y.Data(), want}, {"dx", x.Grad(), xr.Grad()}, {"dw", w.Grad(), wr.Grad()}, {"db", b.Grad(), br.Grad()}} {
				scale := 0.0
				for _, v := range r.want.Data() {
					scale = math.Max(scale, math.Abs(v))
				}
				for i, v := range r.want.Data() {
					if d := math.Abs(float64(r.got.Data()[i]) - v); d > 1e-5*(1+scale) {
						t.Fatalf("%s[%d] = %v, float64 reference %v", r.name, i, r.got.Data()[i], v)
					}
				}
			}
		})
	}
}

// TestConv32BitIdenticalAcrossThreads checks the packed path's outputs and
// gradients are the same bits at GOMAXPROCS 1 and 2, on the same-padding,
// general, flipped, strided and sample-group-split paths.
func TestConv32BitIdenticalAcrossThreads(t *testing.T) {
	defer SetConvPacked(true)()
	type geom struct{ n, cin, h, w, cout, k, s, pad int }
	for _, c := range []geom{{16, 8, 14, 14, 16, 3, 1, 1}, {16, 8, 14, 14, 16, 3, 2, 1}, {24, 1, 12, 12, 8, 3, 1, 1}, {8, 6, 10, 10, 12, 3, 1, 0}} {
		run := func(procs int) []*tensor.Tensor {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			rng := tensor.NewRNG(7)
			x := Param(tensor.Uniform[float32](rng, -1, 1, c.n, c.cin, c.h, c.w))
			w := Param(tensor.Uniform[float32](rng, -0.3, 0.3, c.cout, c.cin, c.k, c.k))
			b := Param(tensor.Uniform[float32](rng, -0.3, 0.3, c.cout))
			y := Conv2d(x, w, b, Conv2dOptions{Stride: [2]int{c.s, c.s}, Padding: [2]int{c.pad, c.pad}})
			out := y.Data().Clone()
			y.BackwardWith(tensor.Uniform[float32](rng, -1, 1, y.Shape()...))
			return []*tensor.Tensor{out, x.Grad(), w.Grad(), b.Grad()}
		}
		one, two := run(1), run(2)
		for r := range one {
			for i, v := range one[r].Data() {
				if math.Float32bits(v) != math.Float32bits(two[r].Data()[i]) {
					t.Fatalf("%+v: result %d element %d: %v with 1 thread, %v with 2", c, r, i, v, two[r].Data()[i])
				}
			}
		}
	}
}

// TestNewPaddedMatchesDefinition checks the padded copy of a batch against
// its definition, element by element, including the slack after the last
// plane: rows short enough to be copied 16 floats at a time (which write
// past their row) and longer ones, with and without vertical padding, and a
// source with nothing after its last row.
func TestNewPaddedMatchesDefinition(t *testing.T) {
	for _, g := range []struct{ n, c, h, w, ph, pw, slack int }{
		{2, 3, 14, 14, 1, 1, 5}, {1, 2, 7, 7, 1, 1, 0}, {2, 2, 5, 16, 0, 2, 3}, {3, 1, 4, 3, 2, 2, 1},
		{1, 1, 1, 14, 1, 1, 0}, {2, 2, 28, 28, 1, 1, 2}, {1, 3, 6, 15, 0, 0, 0}, {1, 2, 9, 9, 3, 3, 4},
		{1, 2, 3, 20, 1, 1, 0}, {2, 1, 4, 32, 0, 2, 1}, {1, 1, 2, 17, 1, 1, 0}, {1, 2, 5, 33, 1, 1, 0},
	} {
		rng := tensor.NewRNG(uint64(g.h*31 + g.w))
		src := tensor.Uniform[float32](rng, 1, 2, g.n, g.c, g.h, g.w).Data() // no zeros
		// Dirty pool buffers first, so that a value not written shows.
		for range 2 {
			d := tensor.Empty[float32](g.n*g.c*(g.h+2*g.ph)*(g.w+g.pw) + g.slack)
			for i := range d.Data() {
				d.Data()[i] = -7
			}
			d.Release()
		}
		p := newPadded(src, g.n, g.c, g.h, g.w, g.ph, g.pw, g.slack)
		hp, wp := g.h+2*g.ph, g.w+g.pw
		if len(p.d) != g.n*g.c*hp*wp+g.slack {
			t.Fatalf("%+v: %d floats, want %d", g, len(p.d), g.n*g.c*hp*wp+g.slack)
		}
		for i, v := range p.d {
			want := float32(0)
			if pl := i / (hp * wp); pl < g.n*g.c {
				y, x := i%(hp*wp)/wp-g.ph, i%wp-g.pw
				if y >= 0 && y < g.h && x >= 0 {
					want = src[(pl*g.h+y)*g.w+x]
				}
			}
			if v != want {
				t.Fatalf("%+v: padded[%d] = %v, want %v", g, i, v, want)
			}
		}
		p.release()
	}
}
