package tensor

import (
	"fmt"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/internal/parallel"
)

// MatMul returns the matrix product of a and b with torch.matmul's rules:
// two matrices multiply as usual; a 1-d a is a row vector and a 1-d b a
// column vector, whose added dimension is removed from the result; operands
// of rank 3 and more are stacks of matrices whose leading (batch) dimensions
// broadcast. It panics, naming both shapes, when the inner dimensions differ.
//
// float32 products run on fastgo's SIMD GEMM (see Gemm).
func MatMul[T Float](a, b *Dense[T]) *Dense[T] { return matmul("tensor.MatMul", a, b, false, false) }

// MatMulT is MatMul of op(a) and op(b), where op transposes the last two
// dimensions of its operand when the flag is set, without materialising the
// transpose. Transposed operands must have at least two dimensions.
func MatMulT[T Float](a, b *Dense[T], transA, transB Transposed) *Dense[T] {
	return matmul("tensor.MatMulT", a, b, bool(transA), bool(transB))
}

// smallGemm is the m*n*k below which a batch of products runs in parallel
// over the batch rather than inside each product.
const smallGemm = 1 << 18

func matmul[T Float](op string, a, b *Dense[T], ta, tb bool) *Dense[T] {
	ra, rb := len(a.shape), len(b.shape)
	if ra == 0 || rb == 0 {
		panic(fastgo.Errorf("%s: shapes %v and %v: operands need at least one dimension", op, a.shape, b.shape))
	}
	if (ta && ra < 2) || (tb && rb < 2) {
		panic(fastgo.Errorf("%s: shapes %v and %v: a 1-d operand cannot be transposed", op, a.shape, b.shape))
	}
	as, bs := a.shape, b.shape
	if ra == 1 {
		as = []int{1, as[0]}
	}
	if rb == 1 {
		bs = []int{bs[0], 1}
	}
	m, k := as[len(as)-2], as[len(as)-1]
	if ta {
		m, k = k, m
	}
	k2, n := bs[len(bs)-2], bs[len(bs)-1]
	if tb {
		k2, n = n, k2
	}
	if k != k2 {
		flags := ""
		if ta || tb {
			flags = fmt.Sprintf(" (transA %v, transB %v)", ta, tb)
		}
		panic(fastgo.Errorf("%s: shapes %v and %v do not multiply%s: inner dimensions %d and %d", op, a.shape, b.shape, flags, k, k2))
	}
	batchA, batchB := as[:len(as)-2], bs[:len(bs)-2]
	batch, ok := broadcast2(batchA, batchB)
	if !ok {
		panic(fastgo.Errorf("%s: batch dimensions of shapes %v and %v do not broadcast", op, a.shape, b.shape))
	}
	shape := append(append([]int(nil), batch...), m, n)
	out := New[T](shape...)
	lda, ldb := k, n
	if ta {
		lda = m
	}
	if tb {
		ldb = k
	}
	nb := 1
	for _, d := range batch {
		nb *= d
	}
	nbB := 1
	for _, d := range batchB {
		nbB *= d
	}
	switch {
	case m == 0 || n == 0 || k == 0:
		// The result is empty or all zeros, as New made it.
	case nb == 1 || (nbB == 1 && !ta):
		// One product; with b shared and a not transposed, a's batch folds
		// into its rows.
		Gemm(Transposed(ta), Transposed(tb), nb*m, n, k, 1, a.data, lda, b.data, ldb, 0, out.data, n)
	default:
		aSt, bSt := broadcastStrides(batchA, batch), broadcastStrides(batchB, batch)
		aOff, bOff := make([]int, nb), make([]int, nb)
		idx := make([]int, len(batch))
		for i := range nb {
			for d, j := range idx {
				aOff[i] += j * aSt[d] * m * k
				bOff[i] += j * bSt[d] * k * n
			}
			for d := len(idx) - 1; d >= 0; d-- {
				idx[d]++
				if idx[d] < batch[d] {
					break
				}
				idx[d] = 0
			}
		}
		one := func(i int) {
			Gemm(Transposed(ta), Transposed(tb), m, n, k, 1, a.data[aOff[i]:], lda, b.data[bOff[i]:], ldb, 0, out.data[i*m*n:], n)
		}
		if m*n*k < smallGemm {
			parallel.For(nb, max(1, smallGemm/max(1, m*n*k)), func(lo, hi int) {
				for i := lo; i < hi; i++ {
					one(i)
				}
			})
		} else {
			for i := range nb {
				one(i)
			}
		}
	}
	switch {
	case ra == 1 && rb == 1:
		return out.Reshape()
	case ra == 1:
		return out.Reshape(append(append([]int(nil), batch...), n)...)
	case rb == 1:
		return out.Reshape(append(append([]int(nil), batch...), m)...)
	}
	return out
}

// broadcast2 broadcasts two shapes, reporting failure instead of panicking.
func broadcast2(a, b []int) (shape []int, ok bool) {
	defer func() {
		if recover() != nil {
			shape, ok = nil, false
		}
	}()
	return BroadcastShapes("", a, b), true
}
