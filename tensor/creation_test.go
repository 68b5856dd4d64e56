package tensor

import (
	"fmt"
	"math"
	"testing"
)

func TestCreation(t *testing.T) {
	cases := []struct {
		name  string
		got   *Tensor
		shape []int
		want  []float32
	}{
		{"Zeros", Zeros(2, 3), sh(2, 3), []float32{0, 0, 0, 0, 0, 0}},
		{"Ones", Ones(3), sh(3), []float32{1, 1, 1}},
		{"Full", Full[float32](-2.5, 1, 2), sh(1, 2), []float32{-2.5, -2.5}},
		{"Full rank 0", Full[float32](7), sh(), []float32{7}},
		{"New empty", New[float32](0, 4), sh(0, 4), []float32{}},
		{"Scalar", Scalar[float32](3), sh(), []float32{3}},
		{"FromSlice", FromSlice([]float32{1, 2, 3, 4, 5, 6}, 3, 2), sh(3, 2), []float32{1, 2, 3, 4, 5, 6}},
		{"Arange", Arange[float32](0, 5, 1), sh(5), []float32{0, 1, 2, 3, 4}},
		{"Arange step 2", Arange[float32](1, 8, 2), sh(4), []float32{1, 3, 5, 7}},
		{"Arange negative step", Arange[float32](5, 0, -2), sh(3), []float32{5, 3, 1}},
		{"Arange empty", Arange[float32](3, 3, 1), sh(0), []float32{}},
		{"Arange wrong direction", Arange[float32](3, 0, 1), sh(0), []float32{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !SameShape(c.got.Shape(), c.shape) || c.got.Rank() != len(c.shape) {
				t.Fatalf("shape %v, want %v", c.got.Shape(), c.shape)
			}
			if c.got.Len() != len(c.want) {
				t.Fatalf("Len %d, want %d", c.got.Len(), len(c.want))
			}
			for i, v := range c.want {
				if c.got.Data()[i] != v {
					t.Fatalf("data %v, want %v", c.got.Data(), c.want)
				}
			}
		})
	}
	mustPanic(t, func() { Zeros(2, -1) }, "tensor.New", "negative", "[2 -1]")
	mustPanic(t, func() { FromSlice([]float32{1, 2, 3}, 2, 2) }, "tensor.FromSlice", "3 elements", "[2 2]")
	mustPanic(t, func() { Arange[float32](0, 1, 0) }, "tensor.Arange", "step is 0")
	mustPanic(t, func() { Zeros(2).Item() }, "tensor.Item", "[2]")
	if Scalar[float64](4).Item() != 4 {
		t.Error("Item of a scalar")
	}
	// FromSlice wraps the slice.
	d := []float32{1, 2}
	x := FromSlice(d, 2)
	d[0] = 9
	if x.At(0) != 9 {
		t.Error("FromSlice copied its data")
	}
}

// TestArangeMatchesTorch pins torch.arange's semantics for fractional steps:
// the length is ceil((stop-start)/step) and element i is start + i*step,
// both computed in float64, so values do not drift with the length.
func TestArangeMatchesTorch(t *testing.T) {
	// torch.arange(0, 100, 0.1): len 1000, [999] = 99.9000015258789, [500] = 50.0
	a := Arange[float32](0, 100, 0.1)
	if a.Len() != 1000 {
		t.Fatalf("Arange(0, 100, 0.1) has %d elements, torch.arange 1000", a.Len())
	}
	if a.At(999) != 99.9 || a.At(500) != 50 {
		t.Errorf("Arange(0, 100, 0.1)[999], [500] = %v, %v; torch.arange 99.9, 50", a.At(999), a.At(500))
	}
	// torch.arange(1, 1.3, 0.1, dtype=float64): [1.0, 1.1, 1.2, 1.3]
	if b := Arange[float64](1, 1.3, 0.1); b.Len() != 4 {
		t.Errorf("Arange[float64](1, 1.3, 0.1) has %d elements, torch.arange 4", b.Len())
	}
}

func TestAccessors(t *testing.T) {
	x := Arange[float64](0, 24, 1).Reshape(2, 3, 4)
	if x.Dim(-1) != 4 || x.Dim(0) != 2 || x.Rank() != 3 || x.Len() != 24 {
		t.Fatalf("Dim/Rank/Len of %v", x.Shape())
	}
	if x.At(1, 2, 3) != 23 || x.At(0, 1, 0) != 4 {
		t.Fatalf("At: %v %v", x.At(1, 2, 3), x.At(0, 1, 0))
	}
	x.Set(-1, 1, 0, 2)
	if x.Data()[14] != -1 {
		t.Fatal("Set wrote the wrong element")
	}
	mustPanic(t, func() { x.At(2, 0, 0) }, "tensor.At", "[2 0 0]", "[2 3 4]")
	mustPanic(t, func() { x.At(0, 0) }, "tensor.At", "2 indices", "[2 3 4]")
	mustPanic(t, func() { x.Set(0, 0, -1, 0) }, "tensor.Set", "[2 3 4]")
	mustPanic(t, func() { x.Dim(3) }, "tensor.Dim", "axis 3", "[2 3 4]")

	c := x.Clone()
	c.Data()[0] = 100
	if x.Data()[0] == 100 {
		t.Error("Clone shares data")
	}
	y := New[float64](2, 3, 4)
	y.CopyFrom(x)
	assertEqual(t, "CopyFrom", y, x)
	y.Fill(0.5)
	for _, v := range y.Data() {
		if v != 0.5 {
			t.Fatal("Fill")
		}
	}
	f32 := Convert[float32](FromSlice([]float64{1.5, 1e-50, 1e50}, 3))
	if f32.Data()[0] != 1.5 || f32.Data()[1] != 0 || !math.IsInf(float64(f32.Data()[2]), 1) {
		t.Errorf("Convert to float32 = %v", f32.Data())
	}
}

func TestReshapeViews(t *testing.T) {
	x := Arange[float32](0, 12, 1)
	cases := []struct {
		shape, want []int
	}{
		{sh(3, 4), sh(3, 4)},
		{sh(-1, 6), sh(2, 6)},
		{sh(2, -1, 3), sh(2, 2, 3)},
		{sh(12), sh(12)},
		{sh(1, 12, 1), sh(1, 12, 1)},
	}
	for _, c := range cases {
		v := x.Reshape(c.shape...)
		if !SameShape(v.Shape(), c.want) {
			t.Errorf("Reshape(%v) shape %v, want %v", c.shape, v.Shape(), c.want)
		}
		if &v.Data()[0] != &x.Data()[0] {
			t.Errorf("Reshape(%v) is not a view", c.shape)
		}
	}
	// A write through a view shows in the original and back.
	v := x.Reshape(3, 4)
	v.Set(100, 2, 3)
	if x.At(11) != 100 {
		t.Error("a write through a view is not seen by the original")
	}
	// Rank 0 <-> one element.
	s := Scalar[float32](2).Reshape(1, 1)
	if !SameShape(s.Shape(), sh(1, 1)) || s.Reshape().Rank() != 0 {
		t.Error("reshape between rank 0 and [1 1]")
	}
	mustPanic(t, func() { x.Reshape(5, -1) }, "tensor.Reshape", "[5 -1]", "[12]")
	mustPanic(t, func() { x.Reshape(-1, -1) }, "tensor.Reshape", "[-1 -1]", "[12]")
	mustPanic(t, func() { x.Reshape(4, 4) }, "tensor.Reshape", "[4 4]", "[12]")
	mustPanic(t, func() { x.Reshape(-2, 6) }, "tensor.Reshape", "[-2 6]")

	m := Arange[float32](0, 12, 1).Reshape(4, 3)
	n := m.Narrow0(1, 2)
	if !SameShape(n.Shape(), sh(2, 3)) || n.At(0, 0) != 3 || &n.Data()[0] != &m.Data()[3] {
		t.Fatalf("Narrow0(1, 2) = %v", n)
	}
	// The view's capacity ends at its last row: appending cannot overwrite
	// the rows after it.
	if cap(n.Data()) != 6 {
		t.Errorf("Narrow0 view has capacity %d, want 6", cap(n.Data()))
	}
	mustPanic(t, func() { m.Narrow0(3, 2) }, "tensor.Narrow0", "[3,5)", "[4 3]")
}

func TestRNGRepeatable(t *testing.T) {
	// The same seed gives the same values; another seed, others.
	a := Uniform[float32](NewRNG(7), -1, 1, 1000)
	b := Uniform[float32](NewRNG(7), -1, 1, 1000)
	c := Uniform[float32](NewRNG(8), -1, 1, 1000)
	assertEqual(t, "Uniform same seed", a, b)
	same := 0
	for i := range a.Data() {
		if a.Data()[i] == c.Data()[i] {
			same++
		}
	}
	if same > 5 {
		t.Errorf("seeds 7 and 8 agree on %d of 1000 draws", same)
	}
	assertEqual(t, "Normal same seed", Normal[float64](NewRNG(3), 0, 1, 50), Normal[float64](NewRNG(3), 0, 1, 50))
	// PCG's output is specified by math/rand/v2, so the values of a seed
	// are fixed on every platform and Go release: pinning them catches a
	// change of seeding that would make saved runs irreproducible.
	g := NewRNG(42)
	if got := fmt.Sprint(g.Uint64(), g.Uint64(), g.Float64()); got != "6195063244628665600 16194398729626527473 0.3385292912914212" {
		t.Errorf("NewRNG(42) draws %s, want 6195063244628665600 16194398729626527473 0.3385292912914212", got)
	}
	// Split gives an independent generator and advances the parent by one
	// draw only.
	p1, p2 := NewRNG(5), NewRNG(5)
	child := p1.Split()
	p2.Uint64()
	if p1.Uint64() != p2.Uint64() {
		t.Error("Split advanced the parent by more than one draw")
	}
	if child.Uint64() == NewRNG(5).Uint64() {
		t.Error("the split generator repeats its parent")
	}
}

func TestRNGDistributions(t *testing.T) {
	const n = 200000
	g := NewRNG(11)
	stats := func(x []float64) (mean, variance, lo, hi float64) {
		lo, hi = math.Inf(1), math.Inf(-1)
		for _, v := range x {
			mean += v
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		mean /= float64(len(x))
		for _, v := range x {
			variance += (v - mean) * (v - mean)
		}
		return mean, variance / float64(len(x)-1), lo, hi
	}
	u := Uniform[float64](g, -2, 3, n)
	m, v, lo, hi := stats(u.Data())
	// U(-2, 3): mean 0.5, variance 25/12; bounds [-2, 3).
	if lo < -2 || hi >= 3 || lo > -1.99 || hi < 2.99 {
		t.Errorf("Uniform(-2, 3) range [%v, %v]", lo, hi)
	}
	if math.Abs(m-0.5) > 5*math.Sqrt(25.0/12/n) || math.Abs(v-25.0/12) > 0.02 {
		t.Errorf("Uniform(-2, 3) mean %v variance %v, want 0.5, %v", m, v, 25.0/12)
	}
	u32 := Uniform[float32](g, 0, 1, n)
	for _, x := range u32.Data() {
		if x < 0 || x >= 1 {
			t.Fatalf("Uniform[float32](0, 1) drew %v", x)
		}
	}
	nrm := Normal[float64](g, 1.5, 0.5, n)
	m, v, _, _ = stats(nrm.Data())
	if math.Abs(m-1.5) > 5*0.5/math.Sqrt(n) || math.Abs(v-0.25) > 0.005 {
		t.Errorf("Normal(1.5, 0.5) mean %v variance %v", m, v)
	}
	ber := Bernoulli[float32](g, 0.3, n)
	ones := 0
	for _, x := range ber.Data() {
		switch x {
		case 1:
			ones++
		case 0:
		default:
			t.Fatalf("Bernoulli drew %v", x)
		}
	}
	if p := float64(ones) / n; math.Abs(p-0.3) > 5*math.Sqrt(0.3*0.7/n) {
		t.Errorf("Bernoulli(0.3) gave %v ones", p)
	}
	perm := g.Perm(100)
	seen := make([]bool, 100)
	for _, i := range perm {
		if seen[i] {
			t.Fatalf("Perm repeats %d", i)
		}
		seen[i] = true
	}
	for i := 0; i < 1000; i++ {
		if k := g.IntN(7); k < 0 || k >= 7 {
			t.Fatalf("IntN(7) = %d", k)
		}
		if f := g.Float64(); f < 0 || f >= 1 {
			t.Fatalf("Float64 = %v", f)
		}
	}
}
