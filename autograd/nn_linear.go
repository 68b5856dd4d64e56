package autograd

import (
	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/internal/parallel"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Linear returns x W^T + b, as torch.nn.functional.linear: x is [..., in], w
// is [out, in] (PyTorch's layout), b is [out] or nil; the result is
// [..., out]. Backward runs only the GEMMs whose gradients are required: an
// attack, with w and b frozen, costs one GEMM (dx = dy W).
func Linear[T tensor.Float](x, w, b *Var[T]) *Var[T] {
	nnRank("Linear", "weight", w, 2)
	xs, ws := x.Shape(), w.Shape()
	if len(xs) < 1 || xs[len(xs)-1] != ws[1] {
		panic(fastgo.Errorf("autograd.Linear: input %v does not end in weight %v's %d input features", xs, ws, ws[1]))
	}
	if b != nil && (b.data.Rank() != 1 || b.Shape()[0] != ws[0]) {
		panic(fastgo.Errorf("autograd.Linear: bias %v does not match weight %v (want [%d])", b.Shape(), ws, ws[0]))
	}
	in, outF := ws[1], ws[0]
	rows := 1
	for _, d := range xs[:len(xs)-1] {
		rows *= d
	}
	oshape := append(append([]int(nil), xs[:len(xs)-1]...), outF)
	out := tensor.Empty[T](oshape...)
	od := out.Data()
	xd, wd := x.data, w.data
	var beta T
	if b != nil {
		bv := b.data.Data()
		for r := 0; r < rows; r++ {
			copy(od[r*outF:(r+1)*outF], bv)
		}
		beta = 1
	}
	tensor.Gemm(tensor.NoTrans, tensor.Trans, rows, outF, in, 1, xd.Data(), in, wd.Data(), in, beta, od, outF)
	return Record("Linear", out, func(gy *tensor.Dense[T]) []*tensor.Dense[T] {
		var gx, gw, gb *tensor.Dense[T]
		g := gy.Data()
		if x.RequiresGrad() {
			gx = tensor.Empty[T](xs...)
			tensor.Gemm(tensor.NoTrans, tensor.NoTrans, rows, in, outF, 1, g, outF, wd.Data(), in, 0, gx.Data(), in)
		}
		if w.RequiresGrad() {
			gw = tensor.Empty[T](ws...)
			tensor.Gemm(tensor.Trans, tensor.NoTrans, outF, in, rows, 1, g, outF, xd.Data(), in, 0, gw.Data(), in)
		}
		if nnNeeds(b) {
			gb = tensor.New[T](outF)
			bd := gb.Data()
			parallel.For(outF, 64, func(lo, hi int) {
				for r := 0; r < rows; r++ {
					row := g[r*outF+lo : r*outF+hi]
					d := bd[lo:hi]
					for j := range d {
						d[j] += row[j]
					}
				}
			})
		}
		return nnGrads([]*Var[T]{x, w, b}, gx, gw, gb)
	}, nnInputs(x, w, b)...)
}
