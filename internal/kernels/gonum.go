package kernels

import (
	"runtime"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/gonum"
)

// Gonum32 is a gonum BLAS implementation whose Sgemm is this package's
// packed SGEMM; every other routine is gonum's own. Its Sgemm keeps gonum's
// contract exactly: the same panics (with gonum's messages) for a bad
// transpose, negative sizes, short leading dimensions and short slices, and
// the same quick returns.
type Gonum32 struct {
	gonum.Implementation
}

// Panic messages of gonum's BLAS, kept identical so callers cannot tell the
// implementations apart.
const (
	gonumBadTranspose = "blas: illegal transpose"
	gonumMLT0         = "blas: m < 0"
	gonumNLT0         = "blas: n < 0"
	gonumKLT0         = "blas: k < 0"
	gonumBadLdA       = "blas: bad leading dimension of A"
	gonumBadLdB       = "blas: bad leading dimension of B"
	gonumBadLdC       = "blas: bad leading dimension of C"
	gonumShortA       = "blas: insufficient length of a"
	gonumShortB       = "blas: insufficient length of b"
	gonumShortC       = "blas: insufficient length of c"
)

// Sgemm computes C = alpha*op(A)*op(B) + beta*C like
// gonum.Implementation.Sgemm (row-major; blas.ConjTrans means blas.Trans).
func (Gonum32) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	switch tA {
	case blas.NoTrans, blas.Trans, blas.ConjTrans:
	default:
		panic(gonumBadTranspose)
	}
	switch tB {
	case blas.NoTrans, blas.Trans, blas.ConjTrans:
	default:
		panic(gonumBadTranspose)
	}
	if m < 0 {
		panic(gonumMLT0)
	}
	if n < 0 {
		panic(gonumNLT0)
	}
	if k < 0 {
		panic(gonumKLT0)
	}
	aTrans := tA != blas.NoTrans
	bTrans := tB != blas.NoTrans
	if aTrans {
		if lda < max(1, m) {
			panic(gonumBadLdA)
		}
	} else if lda < max(1, k) {
		panic(gonumBadLdA)
	}
	if bTrans {
		if ldb < max(1, k) {
			panic(gonumBadLdB)
		}
	} else if ldb < max(1, n) {
		panic(gonumBadLdB)
	}
	if ldc < max(1, n) {
		panic(gonumBadLdC)
	}
	if m == 0 || n == 0 {
		return
	}
	if aTrans {
		if len(a) < (k-1)*lda+m {
			panic(gonumShortA)
		}
	} else if len(a) < (m-1)*lda+k {
		panic(gonumShortA)
	}
	if bTrans {
		if len(b) < (n-1)*ldb+k {
			panic(gonumShortB)
		}
	} else if len(b) < (k-1)*ldb+n {
		panic(gonumShortB)
	}
	if len(c) < (m-1)*ldc+n {
		panic(gonumShortC)
	}
	if (alpha == 0 || k == 0) && beta == 1 {
		return
	}
	sgemm(&active.gemm, runtime.GOMAXPROCS(0), aTrans, bTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// UseInGonum installs Gonum32 as the float32 BLAS of gonum's blas32 package
// (and so of everything built on it).
func UseInGonum() { blas32.Use(Gonum32{}) }
