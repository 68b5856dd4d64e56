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
			for _, w := range []int{1, 5, 15, 16, 17, 31, 32} {
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
