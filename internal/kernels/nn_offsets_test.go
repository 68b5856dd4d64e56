package kernels

import (
	"fmt"
	"math"
	"testing"
)

// withActive runs fn with tr as the tier the exported kernels use.
func withActive(tr *tier, fn func()) {
	old := active
	active = tr
	defer func() { active = old }()
	fn()
}

// TestNNKernelsAllOffsets extends the cross-tier tests of the network
// kernels (nn_test.go checks offsets 0-2) to every offset 0..16, so that
// every alignment of a 64-byte vector meets the tails, and to outputs that
// alias their input, as in-place use does. Every tier must match the
// pure-Go reference bit for bit.
func TestNNKernelsAllOffsets(t *testing.T) {
	lengths := []int{1, 15, 16, 17, 31, 32, 33, 47, 64, 65, 100}
	type call func(dst, a, b []float32)
	cases := []struct {
		name    string
		inPlace bool // dst is a
		run     call
	}{
		{"Affine", false, func(dst, a, _ []float32) { Affine(dst, a, -1.25, 0.5) }},
		{"Affine in place", true, func(dst, a, _ []float32) { Affine(dst, a, 3, -2) }},
		{"AffineRelu", false, func(dst, a, _ []float32) { AffineRelu(dst, a, 0.75, -0.125) }},
		{"AffineRelu in place", true, func(dst, a, _ []float32) { AffineRelu(dst, a, -2, 0.25) }},
		{"BNBackward", false, func(dst, a, b []float32) { BNBackward(dst, a, b, -0.3, 1.7, 0.02) }},
		{"BNBackward in place", true, func(dst, a, b []float32) { BNBackward(dst, a, b, 0.4, -0.6, 1e-3) }},
	}
	for _, c := range cases {
		for off := 0; off <= 16; off++ {
			for _, n := range lengths {
				var ref []float32
				for ti, tr := range append([]*tier{genericTier}, tiers...) {
					a, checkA := guarded(n, off, valueGen(uint64(31*n+off), true))
					b, checkB := guarded(n, (off+5)%17, valueGen(uint64(37*n+off), true))
					dst, checkD := guarded(n, (off+11)%17, func(int) float32 { return 9 })
					if c.inPlace {
						dst = a
					}
					withActive(tr, func() { c.run(dst, a, b) })
					name := fmt.Sprintf("%s n=%d off=%d tier %s", c.name, n, off, tr.name)
					checkA(t, name)
					checkB(t, name)
					checkD(t, name)
					if ti == 0 {
						ref = append([]float32(nil), dst...)
						continue
					}
					if i, ok := sameFloats(dst, ref, 0); !ok {
						t.Fatalf("%s: element %d = %v, generic %v", name, i, dst[i], ref[i])
					}
				}
			}
		}
	}
	// The reductions: bit-identical sums on every tier at every offset.
	for off := 0; off <= 16; off++ {
		for _, n := range lengths {
			x, checkX := guarded(n, off, valueGen(uint64(41*n+off), false))
			g, checkG := guarded(n, (off+7)%17, valueGen(uint64(43*n+off), false))
			var ref [4]float32
			for ti, tr := range append([]*tier{genericTier}, tiers...) {
				var got [4]float32
				withActive(tr, func() {
					got[0], got[1] = BNStats(x, -0.125)
					got[2], got[3] = SumDot(g, x, 0.375)
				})
				name := fmt.Sprintf("BNStats/SumDot n=%d off=%d tier %s", n, off, tr.name)
				checkX(t, name)
				checkG(t, name)
				if ti == 0 {
					ref = got
					continue
				}
				for k := range got {
					if math.Float32bits(got[k]) != math.Float32bits(ref[k]) {
						t.Fatalf("%s: sum %d = %v, generic %v", name, k, got[k], ref[k])
					}
				}
			}
		}
	}
}
