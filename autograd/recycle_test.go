package autograd

import (
	"math"
	"testing"

	"github.com/fastgo-ml/fastgo/tensor"
)

// pooledParam returns a Param whose data is a pooled tensor holding vals.
func pooled(vals []float32, shape ...int) *tensor.Tensor {
	t := tensor.Empty[float32](shape...)
	copy(t.Data(), vals)
	return t
}

func ramp(n int, scale float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = scale * float32(i%17-8)
	}
	return v
}

func finite(t *testing.T, name string, x *tensor.Tensor) {
	t.Helper()
	if x == nil || x.Len() == 0 {
		t.Fatalf("%s: gone (nil or released)", name)
	}
	for i, v := range x.Data() {
		if math.IsNaN(float64(v)) {
			t.Fatalf("%s[%d] is NaN: it read recycled memory", name, i)
		}
	}
}

// TestRecycledGradientsAreRight runs graphs whose gradients are shared,
// passed through, reshaped and accumulated, with every pooled buffer
// poisoned on release, and checks each gradient against its closed form.
func TestRecycledGradientsAreRight(t *testing.T) {
	defer tensor.SetPoison(tensor.SetPoison(true))
	const n = 2048 // large enough for the pool
	x := Param(pooled(ramp(n, 0.1), n))
	// y = relu(x) used three ways: twice in one Add (the same gradient for
	// both inputs), and once through a reshape.
	y := ReLU(x)
	s := Add(y, y)
	r := Reshape(y, 32, 64)
	loss := Add(SumAll(Mul(s, s)), SumAll(r))
	loss.Backward()
	g := x.Grad()
	finite(t, "x.grad", g)
	for i, xv := range x.Data().Data() {
		want := float32(0)
		if xv > 0 {
			want = 8*xv + 1 // d/dy (2y)^2 = 8y, plus 1 from the reshape's sum
		}
		if d := math.Abs(float64(g.Data()[i] - want)); d > 1e-4 {
			t.Fatalf("x.grad[%d] = %v, want %v", i, g.Data()[i], want)
		}
	}
	// Accumulation across passes into a leaf Grad the engine took over.
	first := g.Clone()
	loss2 := SumAll(Mul(ReLU(x), ReLU(x)))
	loss2.Backward()
	for i, xv := range x.Data().Data() {
		want := first.Data()[i]
		if xv > 0 {
			want += 2 * xv
		}
		if d := math.Abs(float64(x.Grad().Data()[i] - want)); d > 1e-4 {
			t.Fatalf("accumulated x.grad[%d] = %v, want %v", i, x.Grad().Data()[i], want)
		}
	}
}

// TestGradsResultsSurvive checks that the tensors Grads returns, including a
// reshaped view, stay valid after the pass recycles its buffers.
func TestGradsResultsSurvive(t *testing.T) {
	defer tensor.SetPoison(tensor.SetPoison(true))
	const n = 4096
	a := Param(pooled(ramp(n, 0.01), 64, 64))
	b := Reshape(a, n) // the gradient of a comes back through a view
	h := Transient(ReLU(b))
	loss := SumAll(Mul(h, h))
	ga := Grads(loss, a)[0]
	finite(t, "grad a", ga)
	for i, v := range a.Data().Data() {
		want := float32(0)
		if v > 0 {
			want = 2 * v
		}
		if d := math.Abs(float64(ga.Data()[i] - want)); d > 1e-5 {
			t.Fatalf("grad a[%d] = %v, want %v", i, ga.Data()[i], want)
		}
	}
	if h.Data().Len() != 0 {
		t.Fatal("a transient value was not recycled by the pass")
	}
}

// TestTransientViewOfOutputKept checks that a transient value is not
// recycled when the value a caller holds (here the output, a view of it)
// shares its memory, and that the caller's input is never recycled.
func TestTransientViewOfOutputKept(t *testing.T) {
	defer tensor.SetPoison(tensor.SetPoison(true))
	const n = 2048
	x := Param(pooled(ramp(n, 0.1), 2, n/2))
	h := Consumed(x, ReLU(x)) // x is a leaf: Consumed must not mark it
	out := Consumed(h, Flatten(h, 0, -1))
	loss := SumAll(Mul(out, out))
	loss.Backward()
	finite(t, "out", out.Data())
	finite(t, "x", x.Data())
	if x.IsTransient() {
		t.Fatal("Consumed marked a leaf")
	}
}

// TestNoGradReleasesConsumed checks that under NoGrad a consumed value is
// recycled at once, except when its consumer returned it or a view of it.
func TestNoGradReleasesConsumed(t *testing.T) {
	const n = 2048
	x := Const(pooled(ramp(n, 0.1), n))
	NoGrad(func() {
		h := ReLU(x)
		out := Consumed(h, MulScalar(h, 2))
		if h.Data().Len() != 0 {
			t.Fatal("a consumed value survived under NoGrad")
		}
		finite(t, "out", out.Data())
		v := ReLU(x)
		view := Consumed(v, Reshape(v, 32, 64))
		finite(t, "view of a consumed value", view.Data())
		same := Consumed(view, view) // a consumer that returns its input
		finite(t, "returned input", same.Data())
	})
	finite(t, "x", x.Data())
}

// TestWarmStepsBitIdentical runs the same forward and backward repeatedly:
// the first pass gets fresh buffers, later ones recycled (poisoned) ones,
// and every pass must give the same gradients bit for bit.
func TestWarmStepsBitIdentical(t *testing.T) {
	defer tensor.SetPoison(tensor.SetPoison(true))
	m := newSmallCNN(true)
	rng := tensor.NewRNG(2)
	x := tensor.Uniform[float32](rng, 0, 1, 16, 1, 28, 28)
	y := make([]int, 16)
	for i := range y {
		y[i] = i % 10
	}
	params := []*Value{m.conv1W, m.conv1B, m.bn1W, m.bn1B, m.conv2W, m.conv2B, m.bn2W, m.bn2B, m.fc1W, m.fc1B, m.fc2W, m.fc2B}
	var ref []*tensor.Tensor
	for step := 0; step < 3; step++ {
		for _, p := range params {
			p.ZeroGrad()
		}
		m.loss(Const(x), y, false).Backward()
		for i, p := range params {
			finite(t, "grad", p.Grad())
			if step == 0 {
				ref = append(ref, p.Grad().Clone())
				continue
			}
			for j, v := range p.Grad().Data() {
				if math.Float32bits(v) != math.Float32bits(ref[i].Data()[j]) {
					t.Fatalf("step %d: gradient %d differs at %d: %v vs %v", step, i, j, v, ref[i].Data()[j])
				}
			}
		}
	}
}

// TestGradsUnreachableIsZero checks that Grads with respect to a value the
// output does not depend on gives zeros, and leaves requires-grad as it was.
func TestGradsUnreachableIsZero(t *testing.T) {
	a := Param(tensor.FromSlice([]float32{1, 2}, 2))
	b := Param(tensor.FromSlice([]float32{3, 4}, 2))
	loss := SumAll(Mul(a, a))
	g := Grads(loss, b)[0]
	if g.Data()[0] != 0 || g.Data()[1] != 0 {
		t.Fatalf("gradient wrt an unrelated value = %v", g.Data())
	}
	if !a.RequiresGrad() || !b.RequiresGrad() {
		t.Fatal("Grads left a leaf pruned")
	}
}
