package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestConv3x3AcrossTiers checks Conv3x3 on every tier against the
// convolution computed in float64 from its definition (padding 1 as zeros),
// on widths that are and are not multiples of 8, with guard bands around
// the output; and that plans and calls that do not fit panic, naming the
// function.
func TestConv3x3AcrossTiers(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	for _, sz := range [][2]int{{28, 28}, {1, 8}, {5, 9}, {14, 14}, {3, 16}, {7, 23}} {
		h, w := sz[0], sz[1]
		p := NewConv3x3Plan(h, w)
		wp := w + 1
		in := make([]float32, h*w)
		for i := range in {
			in[i] = rng.Float32()*2 - 1
		}
		// The padded plane, then the zero after it.
		src := make([]float32, p.SrcLen())
		for y := 0; y < h; y++ {
			copy(src[(y+1)*wp+1:], in[y*w:(y+1)*w])
		}
		var k [9]float32
		for i := range k {
			k[i] = rng.Float32() - 0.5
		}
		const bias = 0.25
		for _, tr := range append([]*tier{genericTier}, tiers...) {
			name := fmt.Sprintf("%dx%d tier %s", h, w, tr.name)
			dst, check := guarded(h*w, 3, func(int) float32 { return float32(math.NaN()) })
			withTier(tr, func() { Conv3x3(dst, src, p, &k, bias) })
			check(t, name)
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					want := float64(bias)
					for ky := 0; ky < 3; ky++ {
						for kx := 0; kx < 3; kx++ {
							iy, ix := y+ky-1, x+kx-1
							if iy >= 0 && iy < h && ix >= 0 && ix < w {
								want += float64(k[3*ky+kx]) * float64(in[iy*w+ix])
							}
						}
					}
					if got := float64(dst[y*w+x]); !(math.Abs(got-want) <= 1e-5) {
						t.Fatalf("%s: output (%d,%d) = %v, want %v", name, y, x, got, want)
					}
				}
			}
		}
	}
	for _, f := range []func(){
		func() { NewConv3x3Plan(4, 7) },
		func() {
			p := NewConv3x3Plan(2, 8)
			Conv3x3(make([]float32, 16), make([]float32, p.SrcLen()-1), p, new([9]float32), 0)
		},
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !contains(fmt.Sprint(r), "kernels.") || !contains(fmt.Sprint(r), "Conv3x3") {
					t.Fatalf("panic %v, want one naming the Conv3x3 function", r)
				}
			}()
			f()
		}()
	}
}
