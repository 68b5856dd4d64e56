package autograd

import (
	"github.com/fastgo-ml/fastgo/tensor"
)

// MatMul returns the matrix product of a and b with torch.matmul's rules
// (see tensor.MatMul): 1-d operands are vectors, and the batch dimensions of
// stacks of matrices broadcast, their gradients summed back. Only the
// gradients that are wanted are computed: with a frozen b, no GEMM is spent on
// b's gradient.
func MatMul[T tensor.Float](a, b *Var[T]) *Var[T] {
	return MatMulT(a, b, tensor.NoTrans, tensor.NoTrans)
}

// MatMulT is MatMul of op(a) and op(b), where op transposes the last two
// dimensions when the flag is set, without materialising a transpose in the
// forward or the backward pass.
func MatMulT[T tensor.Float](a, b *Var[T], tA, tB tensor.Transposed) *Var[T] {
	transA, transB := bool(tA), bool(tB)
	var out *tensor.Dense[T]
	if transA || transB {
		out = tensor.MatMulT(a.data, b.data, tA, tB)
	} else {
		out = tensor.MatMul(a.data, b.data) // so that a shape error names MatMul
	}
	return Record("MatMul", out, func(g *tensor.Dense[T]) []*tensor.Dense[T] {
		// Work on matrices: a 1-d a is a row, a 1-d b a column, and g gets
		// back the dimensions the product removed.
		a2, b2 := a.data, b.data
		gs := append([]int(nil), g.Shape()...)
		if b2.Rank() == 1 {
			b2 = b2.Reshape(b2.Len(), 1)
			gs = append(gs, 1)
		}
		if a2.Rank() == 1 {
			a2 = a2.Reshape(1, a2.Len())
			gs = append(gs[:len(gs)-1], 1, gs[len(gs)-1])
		}
		g2 := g.Reshape(gs...)
		return grads2(a, b,
			func() *tensor.Dense[T] {
				return tensor.ReduceTo(matMulGradA(a2, b2, g2, transA, transB), a2.Shape()).Reshape(a.Shape()...)
			},
			func() *tensor.Dense[T] {
				return tensor.ReduceTo(matMulGradB(a2, b2, g2, transA, transB), b2.Shape()).Reshape(b.Shape()...)
			})
	}, a, b)
}

// matMulGradA returns the gradient of op(a)·op(b) with respect to a as
// stored, given the output gradient g (all operands at least 2-d), before
// batch broadcasting is summed away.
func matMulGradA[T tensor.Float](a, b, g *tensor.Dense[T], ta, tb bool) *tensor.Dense[T] {
	switch {
	case !ta && !tb: // dA = g·Bᵀ
		return tensor.MatMulT(g, b, tensor.NoTrans, tensor.Trans)
	case !ta && tb: // dA = g·B
		return tensor.MatMulT(g, b, tensor.NoTrans, tensor.NoTrans)
	case ta && !tb: // dA = B·gᵀ
		return tensor.MatMulT(b, g, tensor.NoTrans, tensor.Trans)
	default: // dA = Bᵀ·gᵀ
		return tensor.MatMulT(b, g, tensor.Trans, tensor.Trans)
	}
}

// matMulGradB is matMulGradA for b. When b is one matrix shared by a batch of
// a (a linear layer on a sequence), the batch folds into the rows of a single
// product instead of a stack of products summed afterwards.
func matMulGradB[T tensor.Float](a, b, g *tensor.Dense[T], ta, tb bool) *tensor.Dense[T] {
	if b.Rank() == 2 && a.Rank() > 2 && !ta && a.Len() > 0 {
		a = a.Reshape(-1, a.Dim(-1))
		g = g.Reshape(-1, g.Dim(-1))
	}
	switch {
	case !ta && !tb: // dB = Aᵀ·g
		return tensor.MatMulT(a, g, tensor.Trans, tensor.NoTrans)
	case !ta && tb: // dB = gᵀ·A
		return tensor.MatMulT(g, a, tensor.Trans, tensor.NoTrans)
	case ta && !tb: // dB = A·g
		return tensor.MatMulT(a, g, tensor.NoTrans, tensor.NoTrans)
	default: // dB = gᵀ·Aᵀ
		return tensor.MatMulT(g, a, tensor.Trans, tensor.Trans)
	}
}
