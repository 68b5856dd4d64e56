package tensor

import (
	"fmt"
	"math"
	"testing"
)

// naiveIm2Col is the definition of Im2Col, written index by index.
func naiveIm2Col(x []float64, c, h, w int, g ConvGeom) []float64 {
	g = g.Norm()
	oh, ow := g.OutSize(h, w)
	cols := make([]float64, c*g.KH*g.KW*oh*ow)
	for ci := 0; ci < c; ci++ {
		for kh := 0; kh < g.KH; kh++ {
			for kw := 0; kw < g.KW; kw++ {
				r := (ci*g.KH+kh)*g.KW + kw
				for i := 0; i < oh; i++ {
					for j := 0; j < ow; j++ {
						ih := i*g.StrideH - g.PadH + kh*g.DilH
						iw := j*g.StrideW - g.PadW + kw*g.DilW
						if ih >= 0 && ih < h && iw >= 0 && iw < w {
							cols[r*oh*ow+i*ow+j] = x[(ci*h+ih)*w+iw]
						}
					}
				}
			}
		}
	}
	return cols
}

var convGeomCases = []struct {
	c, h, w int
	g       ConvGeom
}{
	{1, 4, 4, ConvGeom{KH: 3, KW: 3}},
	{2, 5, 6, ConvGeom{KH: 3, KW: 3, PadH: 1, PadW: 1}},
	{3, 7, 5, ConvGeom{KH: 3, KW: 2, StrideH: 2, StrideW: 3, PadH: 1, PadW: 2}},
	{2, 9, 8, ConvGeom{KH: 3, KW: 3, PadH: 2, PadW: 1, DilH: 2, DilW: 3}},
	{1, 6, 6, ConvGeom{KH: 1, KW: 1}},
	{2, 6, 7, ConvGeom{KH: 1, KW: 1, StrideH: 2, StrideW: 2}},
	{1, 3, 3, ConvGeom{KH: 5, KW: 5, PadH: 2, PadW: 2, StrideH: 4, StrideW: 1}},
	{2, 2, 3, ConvGeom{KH: 2, KW: 2, PadH: 3, PadW: 3}},
	{2, 6, 7, ConvGeom{KH: 3, KW: 3, PadH: 2, PadW: 2, DilH: 2, DilW: 2}},
	{1, 5, 5, ConvGeom{KH: 5, KW: 5, PadH: 2, PadW: 2}},
	{2, 1, 4, ConvGeom{KH: 3, KW: 3, PadH: 1, PadW: 1}},
	{1, 4, 3, ConvGeom{KH: 1, KW: 3, PadW: 1}},
}

func TestConvIm2ColMatchesDefinition(t *testing.T) {
	for i, tc := range convGeomCases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			x := Uniform[float64](NewRNG(uint64(i+1)), -1, 1, tc.c*tc.h*tc.w).Data()
			want := naiveIm2Col(x, tc.c, tc.h, tc.w, tc.g)
			got := make([]float64, len(want))
			for j := range got {
				got[j] = math.NaN() // every element must be written
			}
			Im2Col(x, tc.c, tc.h, tc.w, tc.g, got)
			for j := range want {
				if got[j] != want[j] {
					t.Fatalf("cols[%d] = %v, want %v", j, got[j], want[j])
				}
			}
		})
	}
}

func TestConvCol2ImAdjoint(t *testing.T) {
	for i, tc := range convGeomCases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			g := tc.g.Norm()
			oh, ow := g.OutSize(tc.h, tc.w)
			rng := NewRNG(uint64(100 + i))
			x := Uniform[float64](rng, -1, 1, tc.c*tc.h*tc.w).Data()
			y := Uniform[float64](rng, -1, 1, tc.c*g.KH*g.KW*oh*ow).Data()
			cols := make([]float64, len(y))
			Im2Col(x, tc.c, tc.h, tc.w, tc.g, cols)
			back := make([]float64, len(x))
			for j := range back {
				back[j] = 7 // Col2Im overwrites
			}
			Col2Im(y, tc.c, tc.h, tc.w, tc.g, back)
			var lhs, rhs float64
			for j := range y {
				lhs += cols[j] * y[j]
			}
			for j := range x {
				rhs += x[j] * back[j]
			}
			if math.Abs(lhs-rhs) > 1e-12*(1+math.Abs(lhs)) {
				t.Fatalf("<Im2Col(x), y> = %v, <x, Col2Im(y)> = %v", lhs, rhs)
			}
		})
	}
}

func TestConvStridedSideBySide(t *testing.T) {
	// Two images unfolded side by side (ld = 2*OH*OW) equal their separate
	// unfoldings, and Col2ImStrided reads them back the same way.
	for i, tc := range convGeomCases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			g := tc.g.Norm()
			oh, ow := g.OutSize(tc.h, tc.w)
			plane, rows, img := oh*ow, tc.c*g.KH*g.KW, tc.c*tc.h*tc.w
			x := Uniform[float64](NewRNG(uint64(i+50)), -1, 1, 2*img).Data()
			both := make([]float64, rows*2*plane)
			for j := range both {
				both[j] = math.NaN()
			}
			for k := 0; k < 2; k++ {
				Im2ColStrided(x[k*img:(k+1)*img], tc.c, tc.h, tc.w, tc.g, both[k*plane:], 2*plane)
			}
			for k := 0; k < 2; k++ {
				one := make([]float64, rows*plane)
				Im2Col(x[k*img:(k+1)*img], tc.c, tc.h, tc.w, tc.g, one)
				for r := 0; r < rows; r++ {
					for j := 0; j < plane; j++ {
						if both[r*2*plane+k*plane+j] != one[r*plane+j] {
							t.Fatalf("image %d row %d col %d: strided %v, alone %v", k, r, j, both[r*2*plane+k*plane+j], one[r*plane+j])
						}
					}
				}
				back, want := make([]float64, img), make([]float64, img)
				Col2ImStrided(both[k*plane:], 2*plane, tc.c, tc.h, tc.w, tc.g, back)
				Col2Im(one, tc.c, tc.h, tc.w, tc.g, want)
				for j := range want {
					if back[j] != want[j] {
						t.Fatalf("Col2ImStrided image %d differs at %d: %v vs %v", k, j, back[j], want[j])
					}
				}
			}
		})
	}
}

func TestConvIm2ColHandCase(t *testing.T) {
	// 1 channel 3x3, 2x2 kernel, padding 0, stride 1: 4 output positions.
	x := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}
	g := ConvGeom{KH: 2, KW: 2}
	cols := make([]float32, 16)
	Im2Col(x, 1, 3, 3, g, cols)
	want := []float32{
		1, 2, 4, 5, // tap (0,0)
		2, 3, 5, 6, // tap (0,1)
		4, 5, 7, 8, // tap (1,0)
		5, 6, 8, 9, // tap (1,1)
	}
	for i := range want {
		if cols[i] != want[i] {
			t.Fatalf("cols = %v, want %v", cols, want)
		}
	}
	// Col2Im of all ones counts how many windows cover each pixel.
	ones := make([]float32, 16)
	for i := range ones {
		ones[i] = 1
	}
	img := make([]float32, 9)
	Col2Im(ones, 1, 3, 3, g, img)
	count := []float32{1, 2, 1, 2, 4, 2, 1, 2, 1}
	for i := range count {
		if img[i] != count[i] {
			t.Fatalf("Col2Im(ones) = %v, want %v", img, count)
		}
	}
}

func TestConvRoundTripNonOverlapping(t *testing.T) {
	// With stride equal to the kernel and no padding, every pixel is read
	// once, so Col2Im(Im2Col(x)) == x.
	g := ConvGeom{KH: 2, KW: 3, StrideH: 2, StrideW: 3}
	x := Uniform[float32](NewRNG(5), -1, 1, 3*4*6).Data()
	oh, ow := g.OutSize(4, 6)
	cols := make([]float32, 3*6*oh*ow)
	Im2Col(x, 3, 4, 6, g, cols)
	back := make([]float32, len(x))
	Col2Im(cols, 3, 4, 6, g, back)
	for i := range x {
		if back[i] != x[i] {
			t.Fatalf("round trip differs at %d: %v vs %v", i, back[i], x[i])
		}
	}
}

func TestConvOutSize(t *testing.T) {
	cases := []struct {
		g      ConvGeom
		h, w   int
		oh, ow int
	}{
		{ConvGeom{KH: 3, KW: 3, PadH: 1, PadW: 1}, 28, 28, 28, 28},
		{ConvGeom{KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}, 32, 31, 16, 16},
		{ConvGeom{KH: 3, KW: 3, DilH: 2, DilW: 2}, 9, 9, 5, 5},
		{ConvGeom{KH: 1, KW: 7, PadW: 3}, 5, 10, 5, 10},
	}
	for _, c := range cases {
		oh, ow := c.g.OutSize(c.h, c.w)
		if oh != c.oh || ow != c.ow {
			t.Errorf("%+v.OutSize(%d,%d) = %d,%d, want %d,%d", c.g, c.h, c.w, oh, ow, c.oh, c.ow)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("OutSize with a kernel larger than the input did not panic")
		}
	}()
	ConvGeom{KH: 5, KW: 5}.OutSize(3, 3)
}

func BenchmarkConvIm2Col(b *testing.B) {
	g := ConvGeom{KH: 3, KW: 3, PadH: 1, PadW: 1}
	x := Uniform[float32](NewRNG(1), -1, 1, 32*14*14).Data()
	cols := make([]float32, 32*9*14*14)
	b.SetBytes(int64(len(cols) * 4))
	for b.Loop() {
		Im2Col(x, 32, 14, 14, g, cols)
	}
}

func BenchmarkConvCol2Im(b *testing.B) {
	g := ConvGeom{KH: 3, KW: 3, PadH: 1, PadW: 1}
	cols := Uniform[float32](NewRNG(1), -1, 1, 32*9*14*14).Data()
	x := make([]float32, 32*14*14)
	b.SetBytes(int64(len(cols) * 4))
	for b.Loop() {
		Col2Im(cols, 32, 14, 14, g, x)
	}
}
