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
		in, src := conv3x3Input(rng, h, w, p.SrcLen())
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

// TestConv3x3GradAcrossTiers checks Conv3x3Grad on every tier against the
// sums computed in float64 from their definition, on widths that are and
// are not multiples of 8, with the padded input followed by its zero and
// then by other values, and the gradient by values it must not add in.
func TestConv3x3GradAcrossTiers(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 11))
	for _, sz := range [][2]int{{28, 28}, {1, 8}, {5, 9}, {14, 14}, {3, 16}, {7, 23}} {
		h, w := sz[0], sz[1]
		p := NewConv3x3Plan(h, w)
		in, src := conv3x3Input(rng, h, w, p.GradSrcLen())
		for i := (h+2)*(w+1) + 1; i < len(src); i++ {
			src[i] = 7 // past the zero after the plane: multiplied by zero gradients only
		}
		gyBuf := make([]float32, h*w+8)
		for i := range gyBuf {
			gyBuf[i] = rng.Float32()*2 - 1
			if i >= h*w {
				gyBuf[i] = 1e30 // past the plane: must not count
			}
		}
		gy := gyBuf[:h*w]
		var want [9]float64
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				for ky := 0; ky < 3; ky++ {
					for kx := 0; kx < 3; kx++ {
						iy, ix := y+ky-1, x+kx-1
						if iy >= 0 && iy < h && ix >= 0 && ix < w {
							want[3*ky+kx] += float64(gy[y*w+x]) * float64(in[iy*w+ix])
						}
					}
				}
			}
		}
		for _, tr := range append([]*tier{genericTier}, tiers...) {
			var s [9]float32
			for i := range s {
				s[i] = float32(math.NaN()) // every sum is set, not added to
			}
			withTier(tr, func() { Conv3x3Grad(&s, src, gy, p) })
			for i, v := range s {
				if !(math.Abs(float64(v)-want[i]) <= 1e-4) {
					t.Fatalf("%dx%d tier %s: sum %d = %v, want %v", h, w, tr.name, i, v, want[i])
				}
			}
		}
	}
	defer func() {
		if r := recover(); r == nil || !contains(fmt.Sprint(r), "kernels.Conv3x3Grad") {
			t.Fatalf("panic %v, want one naming kernels.Conv3x3Grad", r)
		}
	}()
	p := NewConv3x3Plan(2, 9)
	Conv3x3Grad(new([9]float32), make([]float32, p.GradSrcLen()-1), make([]float32, 18), p)
}

// conv3x3Input returns a random h x w plane and the same plane padded as
// Conv3x3 reads it, in a buffer of n floats whose rest is zero.
func conv3x3Input(rng *rand.Rand, h, w, n int) (in, src []float32) {
	wp := w + 1
	in = make([]float32, h*w)
	for i := range in {
		in[i] = rng.Float32()*2 - 1
	}
	src = make([]float32, n)
	for y := 0; y < h; y++ {
		copy(src[(y+1)*wp+1:], in[y*w:(y+1)*w])
	}
	return in, src
}
