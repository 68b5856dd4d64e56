package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/gonum"
)

// TestGonum32Sgemm compares Gonum32.Sgemm with gonum's own Sgemm on random
// shapes, transposes, strides and scalars.
func TestGonum32Sgemm(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	trans := []blas.Transpose{blas.NoTrans, blas.Trans, blas.ConjTrans}
	for i := 0; i < 300; i++ {
		tA, tB := trans[rng.IntN(3)], trans[rng.IntN(3)]
		m, n, k := rng.IntN(60), rng.IntN(60), rng.IntN(60)
		if i%50 == 0 {
			m, n, k = 150+rng.IntN(200), 150+rng.IntN(200), 250+rng.IntN(200)
		}
		alpha := []float32{0, 1, -0.5, 2}[rng.IntN(4)]
		beta := []float32{0, 1, -1.5, 0.25}[rng.IntN(4)]
		ar, ac := m, k
		if tA != blas.NoTrans {
			ar, ac = k, m
		}
		br, bc := k, n
		if tB != blas.NoTrans {
			br, bc = n, k
		}
		lda, ldb, ldc := max(1, ac)+rng.IntN(3), max(1, bc)+rng.IntN(3), max(1, n)+rng.IntN(3)
		a := randSlice(rng, max(0, ar-1)*lda+ac+rng.IntN(2))
		b := randSlice(rng, max(0, br-1)*ldb+bc+rng.IntN(2))
		c := randSlice(rng, max(0, m-1)*ldc+n+rng.IntN(2))
		want := append([]float32(nil), c...)
		gonum.Implementation{}.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, want, ldc)
		Gonum32{}.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		eps := float64(math.Nextafter32(1, 2) - 1)
		for j := range c {
			tol := 4 * float64(k+2) * eps * (math.Abs(float64(want[j])) + float64(k))
			if math.Abs(float64(c[j]-want[j])) > tol {
				t.Fatalf("case %d (%c%c m=%d n=%d k=%d alpha=%v beta=%v): c[%d] = %v, gonum %v", i, tA, tB, m, n, k, alpha, beta, j, c[j], want[j])
			}
		}
	}
}

// TestGonum32SgemmPanics checks that Gonum32 panics exactly when and with
// the message gonum does.
func TestGonum32SgemmPanics(t *testing.T) {
	s := make([]float32, 64)
	cases := []struct {
		tA, tB  blas.Transpose
		m, n, k int
		a       []float32
		lda     int
		b       []float32
		ldb     int
		c       []float32
		ldc     int
		beta    float32
	}{
		{tA: 'X', tB: blas.NoTrans, m: 2, n: 2, k: 2, a: s, lda: 2, b: s, ldb: 2, c: s, ldc: 2},
		{tA: blas.NoTrans, tB: 0, m: 2, n: 2, k: 2, a: s, lda: 2, b: s, ldb: 2, c: s, ldc: 2},
		{tA: blas.NoTrans, tB: blas.NoTrans, m: -1, n: 2, k: 2, a: s, lda: 2, b: s, ldb: 2, c: s, ldc: 2},
		{tA: blas.NoTrans, tB: blas.NoTrans, m: 2, n: -1, k: 2, a: s, lda: 2, b: s, ldb: 2, c: s, ldc: 2},
		{tA: blas.NoTrans, tB: blas.NoTrans, m: 2, n: 2, k: -1, a: s, lda: 2, b: s, ldb: 2, c: s, ldc: 2},
		{tA: blas.NoTrans, tB: blas.NoTrans, m: 2, n: 2, k: 3, a: s, lda: 2, b: s, ldb: 2, c: s, ldc: 2},
		{tA: blas.Trans, tB: blas.NoTrans, m: 3, n: 2, k: 2, a: s, lda: 2, b: s, ldb: 2, c: s, ldc: 2},
		{tA: blas.NoTrans, tB: blas.NoTrans, m: 2, n: 3, k: 2, a: s, lda: 2, b: s, ldb: 2, c: s, ldc: 3},
		{tA: blas.NoTrans, tB: blas.Trans, m: 2, n: 2, k: 3, a: s, lda: 3, b: s, ldb: 2, c: s, ldc: 2},
		{tA: blas.NoTrans, tB: blas.NoTrans, m: 2, n: 3, k: 2, a: s, lda: 2, b: s, ldb: 3, c: s, ldc: 2},
		{tA: blas.NoTrans, tB: blas.NoTrans, m: 0, n: 0, k: 0, a: nil, lda: 0, b: nil, ldb: 1, c: nil, ldc: 1},
		{tA: blas.NoTrans, tB: blas.NoTrans, m: 0, n: 5, k: 0, a: nil, lda: 1, b: nil, ldb: 5, c: nil, ldc: 5},
		{tA: blas.NoTrans, tB: blas.NoTrans, m: 9, n: 2, k: 8, a: s, lda: 8, b: s, ldb: 2, c: s, ldc: 2},
		{tA: blas.Trans, tB: blas.NoTrans, m: 8, n: 2, k: 9, a: s, lda: 8, b: s, ldb: 2, c: s, ldc: 2},
		{tA: blas.NoTrans, tB: blas.NoTrans, m: 2, n: 9, k: 8, a: s, lda: 8, b: s, ldb: 9, c: s, ldc: 9},
		{tA: blas.NoTrans, tB: blas.Trans, m: 2, n: 9, k: 8, a: s, lda: 8, b: s, ldb: 8, c: s, ldc: 9},
		{tA: blas.NoTrans, tB: blas.NoTrans, m: 9, n: 8, k: 2, a: s, lda: 2, b: s, ldb: 8, c: s, ldc: 8},
		{tA: blas.NoTrans, tB: blas.NoTrans, m: 3, n: 3, k: 0, a: nil, lda: 1, b: nil, ldb: 3, c: s[:9], ldc: 3, beta: 1},
		{tA: blas.NoTrans, tB: blas.NoTrans, m: 3, n: 3, k: 3, a: s, lda: 3, b: s, ldb: 3, c: s[:8], ldc: 3},
	}
	recovered := func(f func()) (r any) {
		defer func() { r = recover() }()
		f()
		return nil
	}
	for i, c := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			c1 := append([]float32(nil), c.c...)
			c2 := append([]float32(nil), c.c...)
			want := recovered(func() {
				gonum.Implementation{}.Sgemm(c.tA, c.tB, c.m, c.n, c.k, 1, c.a, c.lda, c.b, c.ldb, c.beta, c1, c.ldc)
			})
			got := recovered(func() {
				Gonum32{}.Sgemm(c.tA, c.tB, c.m, c.n, c.k, 1, c.a, c.lda, c.b, c.ldb, c.beta, c2, c.ldc)
			})
			if got != want {
				t.Fatalf("panic %v, gonum panics %v", got, want)
			}
		})
	}
}

func TestUseInGonum(t *testing.T) {
	saved := blas32.Implementation()
	defer blas32.Use(saved)
	UseInGonum()
	if _, ok := blas32.Implementation().(Gonum32); !ok {
		t.Fatalf("blas32.Implementation() = %T after UseInGonum", blas32.Implementation())
	}
	a := blas32.General{Rows: 2, Cols: 2, Stride: 2, Data: []float32{1, 2, 3, 4}}
	c := blas32.General{Rows: 2, Cols: 2, Stride: 2, Data: make([]float32, 4)}
	blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, a, a, 0, c)
	if want := []float32{7, 10, 15, 22}; fmt.Sprint(c.Data) != fmt.Sprint(want) {
		t.Fatalf("blas32.Gemm = %v, want %v", c.Data, want)
	}
}
