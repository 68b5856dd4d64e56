package autograd

import (
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/tensor"
)

// scale2 is a tiny test op: out = 2*x.
func scale2[T tensor.Float](x *Var[T]) *Var[T] {
	out := x.Data().Clone()
	for i := range out.Data() {
		out.Data()[i] *= 2
	}
	return Record("scale2", out, func(g *tensor.Dense[T]) []*tensor.Dense[T] {
		gx := g.Clone()
		for i := range gx.Data() {
			gx.Data()[i] *= 2
		}
		return []*tensor.Dense[T]{gx}
	}, x)
}

// mulTest is a tiny test op: out = a*b (same shapes), counting backward work per input.
type mulCounter struct{ a, b int }

func mulTest[T tensor.Float](a, b *Var[T], cnt *mulCounter) *Var[T] {
	out := tensor.New[T](a.Shape()...)
	for i := range out.Data() {
		out.Data()[i] = a.Data().Data()[i] * b.Data().Data()[i]
	}
	return Record("mulTest", out, func(g *tensor.Dense[T]) []*tensor.Dense[T] {
		res := make([]*tensor.Dense[T], 2)
		if a.RequiresGrad() {
			cnt.a++
			ga := tensor.New[T](a.Shape()...)
			for i := range ga.Data() {
				ga.Data()[i] = g.Data()[i] * b.Data().Data()[i]
			}
			res[0] = ga
		}
		if b.RequiresGrad() {
			cnt.b++
			gb := tensor.New[T](b.Shape()...)
			for i := range gb.Data() {
				gb.Data()[i] = g.Data()[i] * a.Data().Data()[i]
			}
			res[1] = gb
		}
		return res
	}, a, b)
}

// sumTest reduces to a scalar.
func sumTest[T tensor.Float](x *Var[T]) *Var[T] {
	var s T
	for _, v := range x.Data().Data() {
		s += v
	}
	return Record("sumTest", tensor.Scalar(s), func(g *tensor.Dense[T]) []*tensor.Dense[T] {
		return []*tensor.Dense[T]{tensor.Full(g.Item(), x.Shape()...)}
	}, x)
}

func TestBackwardSharedSubexpression(t *testing.T) {
	// y = sum(x*x + 2x) reuses x three times and h twice: dy/dx = 2x + 2.
	x := Param(tensor.FromSlice([]float64{1, -2, 3}, 3))
	var cnt mulCounter
	h := scale2(x)
	sq := mulTest(x, x, &cnt)
	both := mulTest(sq, Const(tensor.Full[float64](1, 3)), &cnt)
	y := sumTest(addTest(both, h))
	y.Backward()
	want := []float64{4, -2, 8}
	for i, v := range x.Grad().Data() {
		if v != want[i] {
			t.Fatalf("grad %v, want %v", x.Grad().Data(), want)
		}
	}
	if cnt.b != 1 { // the constant operand of the second mulTest got no gradient work
		t.Errorf("gradient work for inputs b: %d, want 1 (only x*x's b)", cnt.b)
	}
}

func addTest[T tensor.Float](a, b *Var[T]) *Var[T] {
	out := a.Data().Clone()
	for i := range out.Data() {
		out.Data()[i] += b.Data().Data()[i]
	}
	return Record("addTest", out, func(g *tensor.Dense[T]) []*tensor.Dense[T] {
		return []*tensor.Dense[T]{g, g}
	}, a, b)
}

func TestAddSameGradientTwiceIsNotAliased(t *testing.T) {
	// addTest returns the same tensor g for both inputs; x+x must give 2, not 4.
	x := Param(tensor.FromSlice([]float64{1, 2}, 2))
	sumTest(addTest(x, x)).Backward()
	for _, v := range x.Grad().Data() {
		if v != 2 {
			t.Fatalf("grad %v, want [2 2]", x.Grad().Data())
		}
	}
}

func TestGradientsAccumulateUntilZeroGrad(t *testing.T) {
	x := Param(tensor.FromSlice([]float32{1, 2}, 2))
	sumTest(scale2(x)).Backward()
	sumTest(scale2(x)).Backward()
	if g := x.Grad().Data(); g[0] != 4 || g[1] != 4 {
		t.Fatalf("accumulated grad %v, want [4 4]", g)
	}
	x.ZeroGrad()
	if x.Grad() != nil {
		t.Fatal("ZeroGrad left a gradient")
	}
}

func TestFrozenInputGetsNoGradientWork(t *testing.T) {
	w := Param(tensor.FromSlice([]float32{3, 4}, 2))
	w.SetRequiresGrad(false)
	x := Param(tensor.FromSlice([]float32{1, 2}, 2))
	var cnt mulCounter
	sumTest(mulTest(x, w, &cnt)).Backward()
	if cnt.a != 1 || cnt.b != 0 {
		t.Fatalf("backward work a=%d b=%d, want 1 and 0", cnt.a, cnt.b)
	}
	if w.Grad() != nil {
		t.Fatal("frozen weight got a gradient")
	}
	if g := x.Grad().Data(); g[0] != 3 || g[1] != 4 {
		t.Fatalf("input grad %v, want [3 4]", g)
	}
}

func TestNoGradRecordsNothing(t *testing.T) {
	x := Param(tensor.FromSlice([]float32{1}, 1))
	var y *Value
	NoGrad(func() {
		if GradEnabled() {
			t.Fatal("GradEnabled inside NoGrad")
		}
		y = scale2(x)
	})
	if !GradEnabled() {
		t.Fatal("grad mode not restored")
	}
	if y.RequiresGrad() || !y.IsLeaf() {
		t.Fatal("op under NoGrad recorded a graph")
	}
}

func TestGradsDoesNotTouchLeafGrads(t *testing.T) {
	x := Param(tensor.FromSlice([]float64{1, 2}, 2))
	w := Param(tensor.FromSlice([]float64{5, 7}, 2))
	var cnt mulCounter
	g := Grads(sumTest(mulTest(x, w, &cnt)), x)
	if d := g[0].Data(); d[0] != 5 || d[1] != 7 {
		t.Fatalf("Grads = %v, want [5 7]", d)
	}
	if x.Grad() != nil || w.Grad() != nil {
		t.Fatal("Grads accumulated into leaf gradients")
	}
}

func TestSecondBackwardPanics(t *testing.T) {
	x := Param(tensor.FromSlice([]float32{1}, 1))
	y := scale2(x)
	s := sumTest(y)
	s.Backward()
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(fastgo.Error).Error(), "freed") {
			t.Fatalf("second backward: recover() = %v, want a panic about the freed graph", r)
		}
	}()
	s.Backward()
}

func TestBackwardNonScalarPanicsWithShape(t *testing.T) {
	x := Param(tensor.FromSlice([]float32{1, 2}, 2))
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(fastgo.Error).Error(), "[2]") {
			t.Fatalf("recover() = %v, want a panic naming shape [2]", r)
		}
	}()
	scale2(x).Backward()
}

func TestDeepChainDoesNotOverflow(t *testing.T) {
	x := Param(tensor.FromSlice([]float64{1}, 1))
	y := x
	for i := 0; i < 20000; i++ {
		y = addTest(y, Const(tensor.FromSlice([]float64{0}, 1)))
	}
	sumTest(y).Backward()
	if x.Grad().Data()[0] != 1 {
		t.Fatalf("grad %v, want 1", x.Grad().Data())
	}
}

func TestCheckGradCatchesAWrongBackward(t *testing.T) {
	wrong := func(xs []*Var[float64]) *Var[float64] {
		x := xs[0]
		out := x.Data().Clone()
		for i := range out.Data() {
			out.Data()[i] *= out.Data()[i]
		}
		return Record("badSquare", out, func(g *tensor.Tensor64) []*tensor.Tensor64 {
			return []*tensor.Tensor64{g.Clone()} // should be 2*x*g
		}, x)
	}
	err := CheckGrad(wrong, []*tensor.Tensor64{tensor.FromSlice([]float64{0.7, 1.5}, 2)}, CheckOptions{})
	if err == nil || !strings.Contains(err.Error(), "element 0") {
		t.Fatalf("CheckGrad on a wrong backward = %v, want an error naming element 0", err)
	}
	good := func(xs []*Var[float64]) *Var[float64] { return mulTest(xs[0], xs[0], &mulCounter{}) }
	if err := CheckGrad(good, []*tensor.Tensor64{tensor.FromSlice([]float64{0.5, 1.5}, 2)}, CheckOptions{}); err != nil {
		t.Fatal(err)
	}
}
