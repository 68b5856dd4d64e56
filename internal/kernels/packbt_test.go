package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestPackBTMatchesPackB checks each tier's transposed-B packing against
// the Go packB on odd sizes, offsets and partial slivers.
func TestPackBTMatchesPackB(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, tr := range tiers {
		g := &tr.gemm
		if g.packBT == nil {
			continue
		}
		for _, kc := range []int{1, 15, 16, 17, 33, 64, 100, 256} {
			for _, w := range []int{1, 5, 7, 8, 9, 15, 16, 17, 31, 32} {
				if w > g.nr {
					continue
				}
				for _, p0 := range []int{0, 3} {
					ldb := p0 + kc + 5
					col := 2
					b := randSlice(rng, (col+w)*ldb)
					want := make([]float32, kc*g.nr)
					got := make([]float32, kc*g.nr+8)
					for i := range got {
						got[i] = sentinel
						if i < len(want) {
							want[i] = sentinel
						}
					}
					packB(want, true, b, ldb, p0, kc, col, w, g.nr)
					g.packBT(got[:kc*g.nr], b, ldb, p0, kc, col, w)
					for i := range want {
						if got[i] != want[i] {
							t.Fatalf("%s kc=%d w=%d p0=%d: element %d (step %d, column %d) = %v, want %v", tr.name, kc, w, p0, i, i/g.nr, i%g.nr, got[i], want[i])
						}
					}
					for i := len(want); i < len(got); i++ {
						if got[i] != sentinel {
							t.Fatalf("%s kc=%d w=%d: wrote past the sliver", tr.name, kc, w)
						}
					}
				}
			}
		}
	}
	_ = fmt.Sprint
}

// TestPackFullMatchesPackA checks each tier's packing of full A slivers
// against the Go packA on odd widths and offsets, with a guard after the
// sliver.
func TestPackFullMatchesPackA(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for _, tr := range tiers {
		g := &tr.gemm
		if g.packFull == nil {
			continue
		}
		for _, kc := range []int{1, 7, 8, 9, 15, 16, 17, 33, 64, 100, 256} {
			for _, p0 := range []int{0, 3} {
				for _, row := range []int{0, 1, 5} {
					lda := p0 + kc + 3
					a := randSlice(rng, (row+g.mr)*lda)
					want := make([]float32, kc*g.mr)
					got := make([]float32, kc*g.mr+8)
					for i := range got {
						got[i] = sentinel
					}
					packA(want, false, a, lda, row, g.mr, p0, kc, g.mr)
					g.packFull(got[:kc*g.mr], a, lda, row, p0, kc)
					for i := range want {
						if got[i] != want[i] {
							t.Fatalf("%s kc=%d p0=%d row=%d: element %d (step %d, row %d) = %v, want %v", tr.name, kc, p0, row, i, i/g.mr, i%g.mr, got[i], want[i])
						}
					}
					for i := len(want); i < len(got); i++ {
						if got[i] != sentinel {
							t.Fatalf("%s kc=%d p0=%d: wrote past the sliver", tr.name, kc, p0)
						}
					}
				}
			}
		}
	}
}

// TestPackB4MatchesPackB checks each tier's four-sliver packing of an
// untransposed B against four calls of the Go packB, with a guard after
// the slivers.
func TestPackB4MatchesPackB(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	for _, tr := range tiers {
		g := &tr.gemm
		if g.packB4 == nil {
			continue
		}
		for _, kc := range []int{1, 2, 7, 33, 256} {
			for _, col := range []int{0, 3} {
				ldb := col + 4*g.nr + 5
				b := randSlice(rng, kc*ldb)
				want := make([]float32, 4*kc*g.nr)
				got := make([]float32, 4*kc*g.nr+8)
				for i := range got {
					got[i] = sentinel
				}
				for s := 0; s < 4; s++ {
					packB(want[s*kc*g.nr:], false, b, ldb, 0, kc, col+s*g.nr, g.nr, g.nr)
				}
				g.packB4(kc, &b[col], ldb, &got[0])
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("%s kc=%d col=%d: element %d = %v, want %v", tr.name, kc, col, i, got[i], want[i])
					}
				}
				for i := len(want); i < len(got); i++ {
					if got[i] != sentinel {
						t.Fatalf("%s kc=%d: wrote past the slivers", tr.name, kc)
					}
				}
			}
		}
	}
}
