package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/internal/race"
)

const sentinel = float32(-12345.678)

// testMatrix is a stored matrix inside a larger slice: rows x cols with row
// stride ld, starting at offset off; everything else is guard.
type testMatrix struct {
	data       []float32
	off, ld    int
	rows, cols int
	guard      float32
}

// newTestMatrix fills the logical part with values from fill and the rest
// with guard.
func newTestMatrix(rows, cols, extraLD, off int, guard float32, fill func() float32) *testMatrix {
	ld := max(1, cols) + extraLD
	size := off + max(0, rows-1)*ld + cols + 17
	if rows == 0 || cols == 0 {
		size = off + 17
	}
	t := &testMatrix{data: make([]float32, size), off: off, ld: ld, rows: rows, cols: cols, guard: guard}
	for i := range t.data {
		t.data[i] = guard
	}
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			t.data[off+i*ld+j] = fill()
		}
	}
	return t
}

func (t *testMatrix) slice() []float32 { return t.data[t.off:] }

func (t *testMatrix) inside(idx int) bool {
	idx -= t.off
	if idx < 0 || t.rows == 0 || t.cols == 0 {
		return false
	}
	i, j := idx/t.ld, idx%t.ld
	return i < t.rows && j < t.cols
}

func (t *testMatrix) at(i, j int) float32 { return t.data[t.off+i*t.ld+j] }

// checkGuard reports any element outside the logical window that changed.
func (t *testMatrix) checkGuard(tb testing.TB, name string) {
	tb.Helper()
	for idx, v := range t.data {
		if !t.inside(idx) && !(v == t.guard || (isNaN(v) && isNaN(t.guard))) {
			tb.Fatalf("%s: guard element %d (offset %d) changed to %v", name, idx, idx-t.off, v)
		}
	}
}

func isNaN(v float32) bool { return v != v }

type gemmCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	extra          int // added to every leading dimension
	off            int // offset of each matrix in its slice
}

func (c gemmCase) String() string {
	return fmt.Sprintf("tA=%v,tB=%v,m=%d,n=%d,k=%d,alpha=%v,beta=%v,extra=%d,off=%d", c.transA, c.transB, c.m, c.n, c.k, c.alpha, c.beta, c.extra, c.off)
}

// runGemmCase runs one case on kernel g with the given thread count and
// checks it against sgemmRef: values within k*eps, NaN-filled C ignored when
// beta == 0, the padding of A and B (NaN) never read, C's guard untouched.
func runGemmCase(t *testing.T, g *gemmKernel, threads int, tc gemmCase, rng *rand.Rand) {
	t.Helper()
	uni := func() float32 { return rng.Float32()*2 - 1 }
	nan := float32(math.NaN())
	ar, ac := tc.m, tc.k
	if tc.transA {
		ar, ac = ac, ar
	}
	br, bc := tc.k, tc.n
	if tc.transB {
		br, bc = bc, br
	}
	A := newTestMatrix(ar, ac, tc.extra, tc.off, nan, uni)
	B := newTestMatrix(br, bc, tc.extra, tc.off, nan, uni)
	cfill := uni
	if tc.beta == 0 {
		cfill = func() float32 { return nan }
	}
	C := newTestMatrix(tc.m, tc.n, tc.extra, tc.off, sentinel, cfill)
	want := append([]float32(nil), C.data...)
	if tc.beta == 0 {
		for i := range want {
			if C.inside(i) {
				want[i] = 0 // the reference multiplies by beta only when beta != 0
			}
		}
	}
	sgemmRef(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, A.slice(), A.ld, B.slice(), B.ld, tc.beta, want[C.off:], C.ld)
	cOld := append([]float32(nil), C.data...)
	sgemm(g, threads, tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, A.slice(), A.ld, B.slice(), B.ld, tc.beta, C.slice(), C.ld)
	C.checkGuard(t, tc.String())
	eps := float64(math.Nextafter32(1, 2) - 1)
	for i := 0; i < tc.m; i++ {
		for j := 0; j < tc.n; j++ {
			var abs float64
			for p := 0; p < tc.k; p++ {
				var av, bv float32
				if tc.transA {
					av = A.at(p, i)
				} else {
					av = A.at(i, p)
				}
				if tc.transB {
					bv = B.at(j, p)
				} else {
					bv = B.at(p, j)
				}
				abs += math.Abs(float64(av) * float64(bv))
			}
			abs *= math.Abs(float64(tc.alpha))
			if tc.beta != 0 {
				abs += math.Abs(float64(tc.beta) * float64(cOld[C.off+i*C.ld+j]))
			}
			tol := 2 * float64(tc.k+2) * eps * abs
			got, exp := C.at(i, j), want[C.off+i*C.ld+j]
			if isNaN(got) || math.Abs(float64(got)-float64(exp)) > tol {
				t.Fatalf("%v: C[%d,%d] = %v, want %v (tol %g)", tc, i, j, got, exp, tol)
			}
		}
	}
}

// forEachTier runs f as a subtest for every tier this machine supports.
func forEachTier(t *testing.T, f func(t *testing.T, tr *tier)) {
	for _, tr := range tiers {
		t.Run(tr.name, func(t *testing.T) { f(t, tr) })
	}
}

func TestSgemmConformance(t *testing.T) {
	sizes := []int{0, 1, 2, 3, 5, 7, 11, 12, 13, 16, 17, 31, 32, 33, 47, 64, 65, 70}
	ks := []int{0, 1, 2, 7, 33, 70}
	if testing.Short() {
		sizes = []int{0, 1, 3, 7, 12, 13, 17, 32, 33, 65}
		ks = []int{0, 1, 7, 33}
	}
	scalars := [][2]float32{{1, 0}, {1, 1}, {-0.5, 0}, {2, -1.5}, {0, 0.5}, {0.75, 1}}
	forEachTier(t, func(t *testing.T, tr *tier) {
		rng := rand.New(rand.NewPCG(1, 2))
		i := 0
		for _, m := range sizes {
			for _, n := range sizes {
				for _, k := range ks {
					i++
					s := scalars[i%len(scalars)]
					tc := gemmCase{transA: i%2 == 1, transB: i/2%2 == 1, m: m, n: n, k: k,
						alpha: s[0], beta: s[1], extra: i % 3 * 5, off: i % 4}
					runGemmCase(t, &tr.gemm, 1+i%2, tc, rng)
				}
			}
		}
	})
}

// TestSgemmBlocks crosses the k, row-block and panel boundaries of the
// blocking with every transpose combination.
func TestSgemmBlocks(t *testing.T) {
	shapes := [][3]int{{250, 70, 300}, {37, 45, 600}, {3, 4100, 5}, {245, 4130, 9}, {500, 33, 17}, {97, 101, 257},
		{300, 600, 70}, {270, 530, 30}} // the last two: column parts (splitCols)
	forEachTier(t, func(t *testing.T, tr *tier) {
		rng := rand.New(rand.NewPCG(3, 4))
		for i, s := range shapes {
			for tt := 0; tt < 4; tt++ {
				tc := gemmCase{transA: tt%2 == 1, transB: tt/2 == 1, m: s[0], n: s[1], k: s[2],
					alpha: 1.5, beta: []float32{0, 1, -2}[(i+tt)%3], extra: tt, off: i}
				runGemmCase(t, &tr.gemm, 2, tc, rng)
			}
		}
	})
}

// TestSgemmThreadsBitIdentical checks that GOMAXPROCS does not change a bit
// of the result, through the exported Sgemm, B plain and transposed, on
// the shared, private and column-split paths.
func TestSgemmThreadsBitIdentical(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	shapes := [][3]int{{256, 256, 256}, {130, 517, 300}, {20, 700, 150}, {301, 40, 520}, {300, 1030, 260}}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tr := range tiers {
		saved := active
		active = tr
		for _, s := range shapes {
			m, n, k := s[0], s[1], s[2]
			a, b := randSlice(rng, m*k), randSlice(rng, k*n)
			for _, transB := range []bool{true, false} {
				ldb := k
				if !transB {
					ldb = n
				}
				var results [][]float32
				for _, procs := range []int{1, 2, 3} {
					runtime.GOMAXPROCS(procs)
					c := randSlice(rand.New(rand.NewPCG(7, 8)), m*n)
					Sgemm(false, transB, m, n, k, 0.5, a, k, b, ldb, 0.25, c, n)
					results = append(results, c)
				}
				for r := 1; r < len(results); r++ {
					for i := range results[0] {
						if math.Float32bits(results[0][i]) != math.Float32bits(results[r][i]) {
							t.Fatalf("%s %v transB=%v: element %d differs between GOMAXPROCS 1 and %d: %v vs %v", tr.name, s, transB, i, r+1, results[0][i], results[r][i])
						}
					}
				}
			}
		}
		active = saved
	}
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = rng.Float32()*2 - 1
	}
	return s
}

func TestSgemmPanics(t *testing.T) {
	s := make([]float32, 100)
	cases := []struct {
		name string
		f    func()
	}{
		{"negative m", func() { Sgemm(false, false, -1, 2, 2, 1, s, 2, s, 2, 0, s, 2) }},
		{"small lda", func() { Sgemm(false, false, 2, 2, 3, 1, s, 2, s, 2, 0, s, 2) }},
		{"small lda trans", func() { Sgemm(true, false, 4, 2, 3, 1, s, 3, s, 2, 0, s, 2) }},
		{"small ldb", func() { Sgemm(false, true, 2, 2, 3, 1, s, 3, s, 2, 0, s, 2) }},
		{"small ldc", func() { Sgemm(false, false, 2, 3, 2, 1, s, 2, s, 3, 0, s, 2) }},
		{"short a", func() { Sgemm(false, false, 20, 2, 6, 1, s, 6, s, 2, 0, s, 2) }},
		{"short c", func() { Sgemm(false, false, 2, 60, 2, 1, s, 2, s[:60], 30, 0, s, 60) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if _, ok := r.(fastgo.Error); !ok || !strings.HasPrefix(fmt.Sprint(r), "kernels.Sgemm") {
					t.Fatalf("got panic %v, want a kernels.Sgemm message", r)
				}
			}()
			c.f()
		})
	}
}

func TestPickTier(t *testing.T) {
	a, b, g := &tier{name: "avx512"}, &tier{name: "avx2"}, &tier{name: "generic"}
	for _, c := range []struct {
		avail []*tier
		want  string
		got   *tier
	}{
		{[]*tier{a, b, g}, "", a},
		{[]*tier{a, b, g}, "avx2", b},
		{[]*tier{a, b, g}, "generic", g},
		{[]*tier{a, b, g}, "sse9", a},
		{[]*tier{b, g}, "avx512", b}, // never a higher tier than the CPU has
		{[]*tier{g}, "avx2", g},
	} {
		if got := pickTier(c.avail, c.want); got != c.got {
			t.Errorf("pickTier(%d tiers, %q) = %s, want %s", len(c.avail), c.want, got.name, c.got.name)
		}
	}
	if Tier() != active.name {
		t.Errorf("Tier() = %q, active %q", Tier(), active.name)
	}
	t.Logf("tiers on this machine: %d, active %s", len(tiers), Tier())
}

// TestTierFromEnv starts this test binary again with FASTGO_CPU set to each
// supported tier and checks that the child picked it.
func TestTierFromEnv(t *testing.T) {
	if want := os.Getenv("FASTGO_TEST_WANT_TIER"); want != "" {
		if Tier() != want {
			t.Fatalf("FASTGO_CPU=%s: Tier() = %q", os.Getenv("FASTGO_CPU"), Tier())
		}
		return
	}
	if testing.Short() {
		t.Skip("starts subprocesses")
	}
	for _, tr := range tiers {
		cmd := exec.Command(os.Args[0], "-test.run=^TestTierFromEnv$")
		cmd.Env = append(os.Environ(), "FASTGO_CPU="+tr.name, "FASTGO_TEST_WANT_TIER="+tr.name)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("FASTGO_CPU=%s: %v\n%s", tr.name, err, out)
		}
	}
}

// TestSgemmNoAllocs checks that a warm single-threaded Sgemm does not
// allocate: the pack buffers and the job come from pools.
func TestSgemmNoAllocs(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector makes sync.Pool drop values")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	rng := rand.New(rand.NewPCG(9, 9))
	const n = 100
	a, b, c := randSlice(rng, n*n), randSlice(rng, n*n), make([]float32, n*n)
	allocs := testing.AllocsPerRun(20, func() { Sgemm(false, false, n, n, n, 1, a, n, b, n, 0, c, n) })
	if allocs >= 1 {
		t.Fatalf("Sgemm allocates %v times per call", allocs)
	}
}
