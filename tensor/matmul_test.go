package tensor

import (
	"runtime"
	"testing"
)

// refMatMul multiplies two matrices naively.
func refMatMul(a, b *Tensor64) *Tensor64 {
	m, k, n := a.shape[0], a.shape[1], b.shape[1]
	out := New[float64](m, n)
	for i := range m {
		for j := range n {
			s := 0.0
			for p := range k {
				s += a.At(i, p) * b.At(p, j)
			}
			out.Set(s, i, j)
		}
	}
	return out
}

func TestMatMulHand(t *testing.T) {
	// np.array([[1,2,3],[4,5,6]]) @ np.array([[7,8],[9,10],[11,12]])
	a := f64(sh(2, 3), 1, 2, 3, 4, 5, 6)
	b := f64(sh(3, 2), 7, 8, 9, 10, 11, 12)
	assertEqual(t, "2-d", MatMul(a, b), f64(sh(2, 2), 58, 64, 139, 154))
	// Vectors as torch.matmul treats them.
	v := f64(sh(3), 1, 0, -1)
	assertEqual(t, "matrix-vector", MatMul(a, v), f64(sh(2), -2, -2))
	assertEqual(t, "vector-matrix", MatMul(f64(sh(2), 1, -1), a), f64(sh(3), -3, -3, -3))
	assertEqual(t, "dot", MatMul(v, v), Scalar[float64](2))
	// An empty inner dimension gives zeros.
	assertEqual(t, "k=0", MatMul(New[float32](2, 0), New[float32](0, 3)), New[float32](2, 3))
	assertEqual(t, "k=0 float64", MatMul(New[float64](2, 0), New[float64](0, 3)), New[float64](2, 3))
	assertEqual(t, "m=0", MatMul(New[float32](0, 4), New[float32](4, 3)), New[float32](0, 3))
	a32 := Convert[float32](a)
	b32 := Convert[float32](b)
	assertEqual(t, "float32", MatMul(a32, b32), FromSlice([]float32{58, 64, 139, 154}, 2, 2))
}

func TestMatMulTransposes(t *testing.T) {
	g := NewRNG(6)
	a := Normal[float64](g, 0, 1, 5, 7)
	b := Normal[float64](g, 0, 1, 7, 3)
	want := refMatMul(a, b)
	at, bt := Transpose(a, 0, 1), Transpose(b, 0, 1)
	assertClose(t, "NN", MatMulT(a, b, NoTrans, NoTrans), want, 1e-13)
	assertClose(t, "TN", MatMulT(at, b, Trans, NoTrans), want, 1e-13)
	assertClose(t, "NT", MatMulT(a, bt, NoTrans, Trans), want, 1e-13)
	assertClose(t, "TT", MatMulT(at, bt, Trans, Trans), want, 1e-13)
	// Batched with transposes.
	ab := Normal[float64](g, 0, 1, 4, 7, 5)
	got := MatMulT(ab, bt, Trans, Trans)
	for i := range 4 {
		w := refMatMul(Transpose(Narrow(ab, 0, i, 1).Reshape(7, 5), 0, 1), b)
		assertClose(t, "batched TT", Narrow(got, 0, i, 1).Reshape(5, 3), w, 1e-13)
	}
}

func TestMatMulBatchedBroadcast(t *testing.T) {
	g := NewRNG(7)
	cases := []struct{ a, b, out []int }{
		{sh(4, 2, 3), sh(3, 5), sh(4, 2, 5)},
		{sh(2, 3), sh(4, 3, 5), sh(4, 2, 5)},
		{sh(2, 1, 2, 3), sh(4, 3, 5), sh(2, 4, 2, 5)},
		{sh(3, 2, 3), sh(3, 3, 1), sh(3, 2, 1)},
		{sh(3), sh(2, 3, 4), sh(2, 4)},
		{sh(2, 4, 3), sh(3), sh(2, 4)},
		{sh(1, 2, 3), sh(3, 3, 2), sh(3, 2, 2)},
		{sh(200, 8, 8), sh(200, 8, 8), sh(200, 8, 8)}, // runs in parallel over the batch
	}
	for _, c := range cases {
		a := Normal[float64](g, 0, 1, c.a...)
		b := Normal[float64](g, 0, 1, c.b...)
		got := MatMul(a, b)
		if !SameShape(got.shape, c.out) {
			t.Fatalf("MatMul(%v, %v) shape %v, want %v", c.a, c.b, got.shape, c.out)
		}
		// Reference: bring both to matrices, broadcast the batch, multiply each.
		a2, b2 := a, b
		if len(c.a) == 1 {
			a2 = a.Reshape(1, c.a[0])
		}
		if len(c.b) == 1 {
			b2 = b.Reshape(c.b[0], 1)
		}
		ra, rb := a2.Rank(), b2.Rank()
		batch := BroadcastShapes("ref", a2.shape[:ra-2], b2.shape[:rb-2])
		m, n := a2.shape[ra-2], b2.shape[rb-1]
		ae := BroadcastTo(a2, append(append([]int(nil), batch...), a2.shape[ra-2:]...)...)
		be := BroadcastTo(b2, append(append([]int(nil), batch...), b2.shape[rb-2:]...)...)
		nb := 1
		for _, d := range batch {
			nb *= d
		}
		ae, be = ae.Reshape(nb, m, -1), be.Reshape(nb, -1, n)
		flat := got.Reshape(nb, m, n)
		for i := range nb {
			w := refMatMul(Narrow(ae, 0, i, 1).Reshape(m, -1), Narrow(be, 0, i, 1).Reshape(-1, n))
			assertClose(t, "batched", Narrow(flat, 0, i, 1).Reshape(m, n), w, 1e-13)
		}
	}
}

func TestMatMulPanics(t *testing.T) {
	a, b := New[float32](2, 3), New[float32](4, 5)
	mustPanic(t, func() { MatMul(a, b) }, "tensor.MatMul:", "[2 3]", "[4 5]", "inner dimensions 3 and 4")
	mustPanic(t, func() { MatMulT(a, b, Trans, NoTrans) }, "tensor.MatMulT:", "[2 3]", "[4 5]", "inner dimensions 2 and 4")
	mustPanic(t, func() { MatMul(New[float32](2, 2, 3), New[float32](3, 3, 4)) }, "tensor.MatMul:", "[2 2 3]", "[3 3 4]", "batch")
	mustPanic(t, func() { MatMul(New[float32](3), New[float32](4)) }, "tensor.MatMul:", "[3]", "[4]")
	mustPanic(t, func() { MatMulT(New[float32](3), New[float32](3, 4), Trans, NoTrans) }, "tensor.MatMulT:", "[3]", "[3 4]")
	mustPanic(t, func() { MatMul(Scalar[float32](1), a) }, "tensor.MatMul:", "[]", "[2 3]")
}

// withProcs runs f with GOMAXPROCS set to n.
func withProcs(n int, f func()) {
	old := runtime.GOMAXPROCS(n)
	defer runtime.GOMAXPROCS(old)
	f()
}

// TestDeterminism checks that parallel operations give bit-identical results
// for any number of threads.
func TestDeterminism(t *testing.T) {
	g := NewRNG(8)
	m, k, n := 300, 500, 400
	if testing.Short() {
		m, k, n = 130, 70, 150
	}
	a := Normal[float32](g, 0, 1, m, k)
	b := Normal[float32](g, 0, 1, k, n)
	logits := Normal[float32](g, 0, 3, 512, 1000)
	big := Normal[float32](g, 0, 1, 64, 32, 28, 28)
	ba := Normal[float32](g, 0, 1, 64, 32, 48)
	bb := Normal[float32](g, 0, 1, 64, 48, 40)
	type result struct{ mm, mmt, bmm, sm, lsm, sm0, sum, sum0, sumAll, add *Tensor }
	run := func() (r result) {
		r.mm = MatMul(a, b)
		r.mmt = MatMulT(a, Transpose(b, 0, 1), NoTrans, Trans)
		r.bmm = MatMul(ba, bb)
		r.sm = Softmax(logits, -1)
		r.lsm = LogSoftmax(logits, 1)
		r.sm0 = Softmax(logits, 0)
		r.sum = Sum(big, 0, 2, 3)
		r.sum0 = KeepDims(Sum(big, 0), big.Shape(), 0)
		r.sumAll = Scalar(SumAll(big))
		r.add = Add(big, Full[float32](0.5, 32, 1, 1))
		return r
	}
	var one, two result
	withProcs(1, func() { one = run() })
	withProcs(2, func() { two = run() })
	assertEqual(t, "MatMul", two.mm, one.mm)
	assertEqual(t, "MatMulT", two.mmt, one.mmt)
	assertEqual(t, "batched MatMul", two.bmm, one.bmm)
	assertEqual(t, "Softmax", two.sm, one.sm)
	assertEqual(t, "LogSoftmax", two.lsm, one.lsm)
	assertEqual(t, "Softmax axis 0", two.sm0, one.sm0)
	assertEqual(t, "Sum", two.sum, one.sum)
	assertEqual(t, "Sum axis 0", two.sum0, one.sum0)
	assertEqual(t, "SumAll", two.sumAll, one.sumAll)
	assertEqual(t, "Add", two.add, one.add)
}
