package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestSgemmPackedMatchesSgemm runs SgemmPacked with the plain packers and a
// C split into uneven column runs (as a convolution's output is, sample by
// sample) against Sgemm, bit for bit, on every tier, for both k-blockings
// and both parallel plans, and checks the guard around every run.
func TestSgemmPackedMatchesSgemm(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	for _, tr := range tiers {
		for _, sz := range []struct{ m, n, k, run int }{
			{5, 7, 3, 3}, {37, 100, 300, 17}, {64, 196 * 3, 288, 196}, {300, 70, 40, 33}, {13, 257, 9, 64},
		} {
			for _, tA := range []bool{false, true} {
				for _, tB := range []bool{false, true} {
					for _, beta := range []float32{0, 0.5} {
						name := fmt.Sprintf("%s %+v tA=%v tB=%v beta=%v", tr.name, sz, tA, tB, beta)
						m, n, k := sz.m, sz.n, sz.k
						lda, ldb := k, n
						if tA {
							lda = m
						}
						if tB {
							ldb = k
						}
						a, b := randSlice(rng, m*k), randSlice(rng, k*n)
						c0 := randSlice(rng, m*n)
						want := append([]float32(nil), c0...)
						withTier(tr, func() { Sgemm(tA, tB, m, n, k, 1.5, a, lda, b, ldb, beta, want, n) })
						// C in runs of sz.run columns: run r holds columns
						// [r*run, (r+1)*run) as its own m x run block, with a guard.
						runs := (n + sz.run - 1) / sz.run
						blocks := make([][]float32, runs)
						for r := range blocks {
							w := min(sz.run, n-r*sz.run)
							blk := make([]float32, m*w+5)
							for i := 0; i < m; i++ {
								copy(blk[i*w:(i+1)*w], c0[i*n+r*sz.run:i*n+r*sz.run+w])
							}
							for i := m * w; i < len(blk); i++ {
								blk[i] = sentinel
							}
							blocks[r] = blk
						}
						withTier(tr, func() {
							SgemmPacked(m, n, k, 1.5, &Packed{
								PackA: PackerA(tA, a, lda),
								PackB: PackerB(tB, b, ldb),
								C: func(row, col int) ([]float32, int, int) {
									r, off := col/sz.run, col%sz.run
									w := min(sz.run, n-r*sz.run)
									return blocks[r][row*w+off:], w, w - off
								},
							}, beta)
						})
						for i := 0; i < m; i++ {
							for jj := 0; jj < n; jj++ {
								r, off := jj/sz.run, jj%sz.run
								w := min(sz.run, n-r*sz.run)
								if got := blocks[r][i*w+off]; got != want[i*n+jj] {
									t.Fatalf("%s: C[%d][%d] = %v, Sgemm %v", name, i, jj, got, want[i*n+jj])
								}
							}
						}
						for r, blk := range blocks {
							w := min(sz.run, n-r*sz.run)
							for i := m * w; i < len(blk); i++ {
								if blk[i] != sentinel {
									t.Fatalf("%s: wrote past run %d", name, r)
								}
							}
						}
					}
				}
			}
		}
	}
}

// TestGatherRows checks GatherRows on every tier against the Go copy, for
// every width, with guard bands on both sides of every row.
func TestGatherRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	src := randSlice(rng, 1000)
	for _, tr := range append([]*tier{genericTier}, tiers...) {
		for _, nr := range []int{16, 32} {
			for w := 1; w <= nr; w++ {
				offs := []int{0, 7, 1000 - w, 333, 64}
				got := make([]float32, len(offs)*nr+3)
				for i := range got {
					got[i] = sentinel
				}
				withTier(tr, func() { GatherRows(got[:len(offs)*nr], src, offs, w, nr) })
				for p, o := range offs {
					for j := 0; j < nr; j++ {
						want := float32(0)
						if j < w {
							want = src[o+j]
						}
						if got[p*nr+j] != want {
							t.Fatalf("%s nr=%d w=%d: row %d column %d = %v, want %v", tr.name, nr, w, p, j, got[p*nr+j], want)
						}
					}
				}
				for i := len(offs) * nr; i < len(got); i++ {
					if got[i] != sentinel {
						t.Fatalf("%s nr=%d w=%d: wrote past the rows", tr.name, nr, w)
					}
				}
			}
		}
	}
}

// TestGatherRowsPart checks GatherRowsPart on every tier: each row's first w
// floats are the source run, every other float of dst (the rest of the
// rows, and a guard band after the last row's w) keeps its value.
func TestGatherRowsPart(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	src := randSlice(rng, 1000)
	for _, tr := range append([]*tier{genericTier}, tiers...) {
		for _, nr := range []int{16, 32} {
			for w := 1; w <= nr; w++ {
				offs := []int{0, 7, 1000 - w, 333, 64}
				n := (len(offs)-1)*nr + w
				got := make([]float32, n+nr)
				for i := range got {
					got[i] = sentinel
				}
				withTier(tr, func() { GatherRowsPart(got[:n], src, offs, w, nr) })
				for i, v := range got {
					p, j := i/nr, i%nr
					want := sentinel
					if p < len(offs) && j < w {
						want = src[offs[p]+j]
					}
					if v != want {
						t.Fatalf("%s nr=%d w=%d: dst[%d] (row %d column %d) = %v, want %v", tr.name, nr, w, i, p, j, v, want)
					}
				}
			}
		}
	}
}

// TestGatherRowsSplit checks GatherRowsSplit on every tier against its
// definition, for every split, with a guard band after the rows; and that
// a table reaching past either source panics, naming the function.
func TestGatherRowsSplit(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	a, b := randSlice(rng, 1000), randSlice(rng, 900)
	for _, tr := range append([]*tier{genericTier}, tiers...) {
		for _, nr := range []int{16, 32} {
			r := NewRowOffsets([]int{0, 7, 900 - nr, 333, 64})
			for w1 := 0; w1 <= nr; w1++ {
				got := make([]float32, r.Len()*nr+3)
				for i := range got {
					got[i] = sentinel
				}
				withTier(tr, func() { GatherRowsSplit(got[:r.Len()*nr], a, b, r, w1, nr) })
				for i, v := range got {
					p, j := i/nr, i%nr
					want := sentinel
					if p < r.Len() {
						o := r.offs[p]
						want = b[o+j]
						if j < w1 {
							want = a[o+j]
						}
					}
					if v != want {
						t.Fatalf("%s nr=%d w1=%d: dst[%d] (row %d column %d) = %v, want %v", tr.name, nr, w1, i, p, j, v, want)
					}
				}
			}
		}
	}
	defer func() {
		if r := recover(); r == nil || !contains(fmt.Sprint(r), "kernels.GatherRowsSplit") {
			t.Fatalf("panic %v, want one naming kernels.GatherRowsSplit", r)
		}
	}()
	GatherRowsSplit(make([]float32, 32), a, b, NewRowOffsets([]int{900 - 15}), 3, 16)
}

// TestGatherRowsAtBounds checks that GatherRowsAt panics, naming the
// function, on a table whose rows, even a sub-table's, reach outside the
// source, and that a table copies its offsets.
func TestGatherRowsAtBounds(t *testing.T) {
	src := make([]float32, 100)
	offs := []int{0, 50, 90}
	r := NewRowOffsets(offs)
	offs[1] = 1000 // the table keeps its own copy
	GatherRowsAt(make([]float32, 3*16), src, r.Rows(0, 2), 10, 16)
	for _, c := range []struct {
		r RowOffsets
		w int
	}{{r, 11}, {r.Rows(0, 1), 11}, {NewRowOffsets([]int{-1}), 1}} {
		func() {
			defer func() {
				if e := recover(); e == nil || !contains(fmt.Sprint(e), "kernels.GatherRows") {
					t.Fatalf("table %+v width %d: panic %v, want one naming kernels.GatherRows", c.r, c.w, e)
				}
			}()
			GatherRowsAt(make([]float32, 3*16), src, c.r, c.w, 16)
		}()
	}
}
