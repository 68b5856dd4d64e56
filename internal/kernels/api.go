package kernels

import (
	"runtime"
	"strings"

	"github.com/fastgo-ml/fastgo"
)

// Sgemm computes C = alpha*op(A)*op(B) + beta*C for row-major float32
// matrices, where op(X) is X or its transpose. op(A) is m x k, op(B) is k x n,
// C is m x n; lda, ldb and ldc are the row strides of A, B and C as stored
// (A is stored m x k, or k x m when transA; B is stored k x n, or n x k when
// transB). When beta is 0, C is not read (NaNs in C do not propagate); when
// alpha is 0 or k is 0, A and B are not read.
//
// Sgemm panics, naming the sizes, when a size is negative, a stride is
// smaller than its row or a slice is too short.
//
// The work is split over GOMAXPROCS goroutines by blocks of C only, never
// over k, and the blocking along k is fixed, so the result is bit-identical
// for any GOMAXPROCS.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkSgemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	sgemm(&active.gemm, runtime.GOMAXPROCS(0), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// checkSgemm panics on arguments Sgemm cannot honour.
func checkSgemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fastgo.Errorf("kernels.Sgemm: negative size m=%d n=%d k=%d", m, n, k))
	}
	checkMatrix("a", transA, m, k, a, lda)
	checkMatrix("b", transB, k, n, b, ldb)
	checkMatrix("c", false, m, n, c, ldc)
}

// checkMatrix checks the storage of a rows x cols operand (stored transposed
// when trans).
func checkMatrix(name string, trans bool, rows, cols int, s []float32, ld int) {
	r, w := rows, cols
	if trans {
		r, w = cols, rows
	}
	if ld < max(1, w) {
		panic(fastgo.Errorf("kernels.Sgemm: ld%s=%d < max(1, %d) for %s stored %dx%d", name, ld, w, strings.ToUpper(name), r, w))
	}
	if r > 0 && w > 0 && len(s) < (r-1)*ld+w {
		panic(fastgo.Errorf("kernels.Sgemm: len(%s)=%d < %d for %s stored %dx%d with ld%s=%d", name, len(s), (r-1)*ld+w, strings.ToUpper(name), r, w, name, ld))
	}
}

// sgemmRef is the simple reference SGEMM the tiers are tested against.
func sgemmRef(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float32
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += av * bv
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}
