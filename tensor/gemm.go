package tensor

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/internal/kernels"
)

// Transposed says whether a GEMM operand is used as it is or transposed, as
// gonum's blas.Transpose does.
type Transposed bool

// The two ways to use a GEMM operand.
const (
	NoTrans Transposed = false
	Trans   Transposed = true
)

// Gemm computes C = alpha*op(A)*op(B) + beta*C on row-major slices, where
// op(X) is X or its transpose: op(A) is m x k, op(B) is k x n, C is m x n, and
// lda, ldb, ldc are the row strides as stored. float32 runs on fastgo's SIMD
// kernels; float64 (used by gradient checks) on gonum's Dgemm. When beta is 0,
// C is not read.
func Gemm[T Float](tA, tB Transposed, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	transA, transB := bool(tA), bool(tB)
	switch av := any(a).(type) {
	case []float32:
		kernels.Sgemm(transA, transB, m, n, k, float32(alpha), av, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		if k == 0 {
			cv := any(c).([]float64)
			for i := 0; i < m; i++ {
				row := cv[i*ldc : i*ldc+n]
				for j := range row {
					if beta == 0 {
						row[j] = 0
					} else {
						row[j] *= float64(beta)
					}
				}
			}
			return
		}
		ta, tb := blas.NoTrans, blas.NoTrans
		if transA {
			ta = blas.Trans
		}
		if transB {
			tb = blas.Trans
		}
		gonum.Implementation{}.Dgemm(ta, tb, m, n, k, float64(alpha), av, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	default:
		// T is a named type over float32 or float64: convert through the base type.
		panic(fastgo.Errorf("tensor.Gemm: element type must be float32 or float64"))
	}
}

// UseInGonum installs fastgo's SGEMM as the Sgemm of gonum's blas32 package
// (through blas32.Use), so that gonum code doing float32 matrix products
// (blas32.Gemm, and what is built on it) runs on fastgo's SIMD kernels. The
// adapter keeps gonum's contract exactly, panics included; every other
// BLAS routine stays gonum's own. Call it once, at start-up, before other
// goroutines use blas32.
func UseInGonum() { kernels.UseInGonum() }
