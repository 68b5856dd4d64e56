package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// withTier runs fn with tr as the active tier.
func withTier(tr *tier, fn func()) {
	old := active
	active = tr
	defer func() { active = old }()
	fn()
}

// nnSizes are lengths around the 32-float chunks of the reductions and the
// 16-lane vectors, plus the SmallCNN row lengths.
var nnSizes = []int{0, 1, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 196, 784, 1001}

// TestReductionsAcrossTiers checks that BNStats and SumDot give bit-identical
// sums on every tier, equal to a plain float64 sum within float32 rounding,
// for every length and alignment.
func TestReductionsAcrossTiers(t *testing.T) {
	for _, n := range nnSizes {
		for off := 0; off < 3; off++ {
			x, checkX := guarded(n, off, valueGen(uint64(n), false))
			g, checkG := guarded(n, off+1, valueGen(uint64(n)+7, false))
			var ref [6]float32
			for ti, tr := range append([]*tier{genericTier}, tiers...) {
				var got [6]float32
				withTier(tr, func() {
					got[0], got[1] = BNStats(x, 0.25)
					got[2], got[3] = SumDot(g, x, -0.5)
					got[4], got[5] = SumDotMask(g, x, -0.5, -0.75, 0.125) // mask: x*-0.75 + 0.125 > 0
				})
				checkX(t, tr.name+" BNStats/SumDot x")
				checkG(t, tr.name+" SumDot g")
				if ti == 0 {
					ref = got
					continue
				}
				for k := range got {
					if math.Float32bits(got[k]) != math.Float32bits(ref[k]) {
						t.Fatalf("n=%d off=%d tier %s: sum %d = %v, generic %v", n, off, tr.name, k, got[k], ref[k])
					}
				}
			}
			var w [6]float64
			for i := range x {
				d := float64(x[i]) - 0.25
				w[0] += d
				w[1] += d * d
				w[2] += float64(g[i])
				w[3] += float64(g[i]) * (float64(x[i]) + 0.5)
				if float32(x[i]*-0.75)+0.125 > 0 {
					w[4] += float64(g[i])
					w[5] += float64(g[i]) * (float64(x[i]) + 0.5)
				}
			}
			for k := range w {
				if math.Abs(float64(ref[k])-w[k]) > 1e-5*(1+math.Abs(w[k])) {
					t.Fatalf("n=%d: sum %d = %v, float64 sum %v", n, k, ref[k], w[k])
				}
			}
		}
	}
}

// TestMaskIsAffineRelus checks, on every tier, that the masked kernels
// mask exactly where AffineRelu's output is positive: SumDotMask equals
// SumDot of the gradient zeroed where that output is not positive, and
// BNBackwardMask equals BNBackward of it, bit for bit, specials included.
func TestMaskIsAffineRelus(t *testing.T) {
	const a, b, mu = -0.75, 0.125, 0.5
	for _, n := range nnSizes {
		x, _ := guarded(n, 1, valueGen(uint64(n)+3, true))
		g, _ := guarded(n, 0, valueGen(uint64(n)+4, true))
		for _, tr := range append([]*tier{genericTier}, tiers...) {
			withTier(tr, func() {
				y := make([]float32, n)
				AffineRelu(y, x, a, b)
				gm := make([]float32, n)
				for i := range gm {
					if y[i] > 0 {
						gm[i] = g[i]
					}
				}
				s1, s2 := SumDotMask(g, x, mu, a, b)
				r1, r2 := SumDot(gm, x, mu)
				if _, ok := sameFloats([]float32{s1, s2}, []float32{r1, r2}, 0); !ok {
					t.Fatalf("n=%d tier %s: SumDotMask = %v, %v; SumDot of the masked gradient %v, %v", n, tr.name, s1, s2, r1, r2)
				}
				got, want := make([]float32, n), make([]float32, n)
				BNBackwardMask(got, g, x, a, b, 0.3, -1.7, 0.01)
				BNBackward(want, gm, x, 0.3, -1.7, 0.01)
				if i, ok := sameFloats(got, want, 0); !ok {
					t.Fatalf("n=%d tier %s: BNBackwardMask[%d] = %v, BNBackward of the masked gradient %v", n, tr.name, i, got[i], want[i])
				}
			})
		}
	}
}

// TestNNElementwiseAcrossTiers checks Affine, AffineRelu and BNBackward on
// every tier against the Go references, bit for bit, specials included.
func TestNNElementwiseAcrossTiers(t *testing.T) {
	cases := []struct {
		name string
		run  func(dst, a, b []float32)
	}{
		{"Affine", func(dst, a, _ []float32) { Affine(dst, a, 1.5, -0.25) }},
		{"AffineRelu", func(dst, a, _ []float32) { AffineRelu(dst, a, -0.75, 0.125) }},
		{"BNBackward", func(dst, a, b []float32) { BNBackward(dst, a, b, 0.3, -1.7, 0.01) }},
		{"BNBackwardMask", func(dst, a, b []float32) { BNBackwardMask(dst, a, b, 0.6, -0.1, 0.3, -1.7, 0.01) }},
	}
	for _, c := range cases {
		for _, n := range nnSizes {
			for off := 0; off < 2; off++ {
				a, checkA := guarded(n, off, valueGen(uint64(n)+1, true))
				b, checkB := guarded(n, off+2, valueGen(uint64(n)+2, true))
				var ref []float32
				for ti, tr := range append([]*tier{genericTier}, tiers...) {
					dst, checkD := guarded(n, off+1, func(int) float32 { return 9 })
					withTier(tr, func() { c.run(dst, a, b) })
					name := fmt.Sprintf("%s n=%d off=%d tier %s", c.name, n, off, tr.name)
					checkA(t, name)
					checkB(t, name)
					checkD(t, name)
					if ti == 0 {
						ref = dst
						continue
					}
					if i, ok := sameFloats(dst, ref, 0); !ok {
						t.Fatalf("%s: element %d = %v, generic %v", name, i, dst[i], ref[i])
					}
				}
			}
		}
	}
}

// poolCase is one geometry of the 2x2 max pool over rows.
type poolCase struct{ rows, ow, stride, w int }

var poolCases = []poolCase{
	{1, 1, 4, 2}, {3, 7, 28, 14}, {5, 14, 56, 28}, {2, 15, 60, 30}, {2, 16, 64, 32},
	{3, 17, 70, 35}, {4, 33, 132, 66}, {2, 5, 24, 11}, // odd width: column 10 unused
	{2, 6, 40, 13}, // rows further apart than 2*w (odd height per plane)
	{3, 8, 32, 16}, {2, 9, 38, 19}, {3, 3, 12, 6}, {2, 23, 92, 46}, {2, 24, 96, 48}, {2, 25, 100, 50},
	{2, 10, 44, 21}, // odd width and a partial block of 8
	// Planes without gaps and rows of 4 to 7 (AVX2 backward: blocks of 8
	// that run into the next row), and one such row alone.
	{5, 4, 16, 8}, {4, 5, 20, 10}, {2, 6, 24, 12}, {7, 7, 28, 14}, {1, 7, 28, 14},
}

// poolInput makes a pool input with ties, NaNs and signed zeros.
func poolInput(n int, seed uint64) func(int) float32 {
	rng := rand.New(rand.NewPCG(seed, 3))
	return func(int) float32 {
		switch rng.IntN(10) {
		case 0:
			return float32(math.NaN())
		case 1:
			return 1 // ties
		case 2:
			return float32(math.Copysign(0, -1))
		case 3:
			return 0
		}
		return rng.Float32()*4 - 2
	}
}

// TestMaxPool2x2AcrossTiers checks the pool's outputs and codes on every
// tier against the Go reference and against a direct definition (first
// maximum in row-major order, NaN wins), and the backward's scatter.
func TestMaxPool2x2AcrossTiers(t *testing.T) {
	for i, pc := range poolCases {
		for _, off := range []int{1, 4 + i%4} {
			testMaxPool2x2(t, pc, off)
		}
	}
}

// testMaxPool2x2 checks one geometry with the input off floats from a
// guard band (the other slices at other offsets).
func testMaxPool2x2(t *testing.T, pc poolCase, off int) {
	inLen := (pc.rows-1)*pc.stride + pc.w + 2*pc.ow
	x, checkX := guarded(inLen, off, poolInput(inLen, uint64(pc.ow)))
	out := pc.rows * pc.ow
	gy, checkGy := guarded(out, off+1, valueGen(uint64(pc.rows), false))
	for _, tr := range append([]*tier{genericTier}, tiers...) {
		name := fmt.Sprintf("%+v off=%d tier %s", pc, off, tr.name)
		dst, checkD := guarded(out, off+2, func(int) float32 { return 9 })
		code := make([]uint8, out+5)
		for i := range code {
			code[i] = 77
		}
		withTier(tr, func() { MaxPool2x2(pc.rows, pc.ow, pc.stride, pc.w, x, dst, code[:out]) })
		checkX(t, name)
		checkD(t, name)
		if code[out] != 77 {
			t.Fatalf("%s: wrote past the codes", name)
		}
		for r := 0; r < pc.rows; r++ {
			for j := 0; j < pc.ow; j++ {
				top, bot := r*pc.stride+2*j, r*pc.stride+pc.w+2*j
				win := [4]float32{x[top], x[top+1], x[bot], x[bot+1]}
				best, pos := win[0], 0
				for k := 1; k < 4; k++ {
					if !isNaN(best) && (win[k] > best || isNaN(win[k])) {
						best, pos = win[k], k
					}
				}
				o := r*pc.ow + j
				if int(code[o]) != pos || (math.Float32bits(dst[o]) != math.Float32bits(best) && !(isNaN(best) && isNaN(dst[o]))) {
					t.Fatalf("%s: output (%d,%d) = %v code %d, want %v code %d (window %v)", name, r, j, dst[o], code[o], best, pos, win)
				}
			}
		}
		gx, checkGx := guarded(inLen, off+3, func(int) float32 { return 5 })
		withTier(tr, func() { MaxPool2x2Backward(pc.rows, pc.ow, pc.stride, pc.w, gy, code[:out], gx) })
		checkGy(t, name)
		checkGx(t, name)
		written := make([]bool, inLen)
		for r := 0; r < pc.rows; r++ {
			for j := 0; j < pc.ow; j++ {
				top, bot := r*pc.stride+2*j, r*pc.stride+pc.w+2*j
				pos := [4]int{top, top + 1, bot, bot + 1}
				o := r*pc.ow + j
				for k, p := range pos {
					want := float32(0)
					if k == int(code[o]) {
						want = gy[o]
					}
					if gx[p] != want {
						t.Fatalf("%s backward: gx[%d] = %v, want %v", name, p, gx[p], want)
					}
					written[p] = true
				}
			}
		}
		for p, w := range written {
			if !w && gx[p] != 5 {
				t.Fatalf("%s backward: wrote gx[%d] outside every window", name, p)
			}
		}
	}
}

// TestPoolGeometryPanics checks that a geometry that does not fit panics
// with the kernel's name.
func TestPoolGeometryPanics(t *testing.T) {
	defer func() {
		r := recover()
		if r == nil || !contains(fmt.Sprint(r), "kernels.MaxPool2x2") {
			t.Fatalf("panic %v, want one naming kernels.MaxPool2x2", r)
		}
	}()
	MaxPool2x2(2, 4, 16, 8, make([]float32, 20), make([]float32, 8), make([]uint8, 8))
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// TestMaxPool2x2BackwardOver checks MaxPool2x2BackwardOver on every tier:
// each window gets its gradient at its code and zeros elsewhere, and
// nothing outside the windows changes except in the floats the function
// may write past each row (columns 2*ow to 16 of the rows of all row pairs
// but the last), nor outside gx. The geometries have rows of 4 to 7 outputs
// with gaps after them (a zero-padded layout: the rows that run as vectors
// of 8 on the SIMD tiers), without gaps, and a gx too short for the vectors.
func TestMaxPool2x2BackwardOver(t *testing.T) {
	for _, c := range []struct {
		pc    poolCase
		extra int // floats of gx after the last row's windows
	}{
		{poolCase{3, 7, 30, 15}, 16}, {poolCase{4, 5, 24, 11}, 16}, {poolCase{2, 4, 18, 9}, 16},
		{poolCase{3, 6, 26, 13}, 16}, {poolCase{5, 7, 32, 16}, 16}, {poolCase{7, 7, 28, 14}, 16},
		{poolCase{3, 7, 30, 15}, 0}, {poolCase{2, 9, 40, 20}, 16}, {poolCase{1, 5, 22, 11}, 16},
	} {
		pc := c.pc
		inLen := (pc.rows-1)*pc.stride + pc.w + 2*pc.ow + c.extra
		out := pc.rows * pc.ow
		code := make([]uint8, out)
		for i := range code {
			code[i] = uint8(i*7+i/3) & 3
		}
		gy, checkGy := guarded(out, 3, valueGen(uint64(pc.ow), false))
		for _, tr := range append([]*tier{genericTier}, tiers...) {
			name := fmt.Sprintf("%+v extra %d tier %s", pc, c.extra, tr.name)
			gx, checkGx := guarded(inLen, 2, func(int) float32 { return 5 })
			withTier(tr, func() { MaxPool2x2BackwardOver(pc.rows, pc.ow, pc.stride, pc.w, gy, code, gx) })
			checkGy(t, name)
			checkGx(t, name)
			free := make([]bool, inLen) // windows and the floats past the rows
			for r := 0; r < pc.rows; r++ {
				for _, start := range []int{r * pc.stride, r*pc.stride + pc.w} {
					for j := 0; j < pc.ow; j++ {
						o := r*pc.ow + j
						for k := 0; k < 2; k++ {
							p := start + 2*j + k
							pos := 2*((start-r*pc.stride)/pc.w) + k
							want := float32(0)
							if pos == int(code[o]) {
								want = gy[o]
							}
							if gx[p] != want {
								t.Fatalf("%s: gx[%d] = %v, want %v", name, p, gx[p], want)
							}
							free[p] = true
						}
					}
					if r < pc.rows-1 {
						for p := start + 2*pc.ow; p < min(start+16, inLen); p++ {
							free[p] = true
						}
					}
				}
			}
			for p, f := range free {
				if !f && gx[p] != 5 {
					t.Fatalf("%s: wrote gx[%d] outside the windows and the rows' ends", name, p)
				}
			}
		}
	}
}
