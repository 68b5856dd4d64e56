package tensor

import (
	"fmt"
	"math"
	"testing"

	"github.com/fastgo-ml/fastgo/internal/kernels"
)

func TestBroadcastShapes(t *testing.T) {
	cases := []struct{ a, b, want []int }{
		{sh(2, 3), sh(3), sh(2, 3)},
		{sh(2, 1, 4), sh(3, 1), sh(2, 3, 4)},
		{sh(), sh(5), sh(5)},
		{sh(), sh(), sh()},
		{sh(1), sh(4, 0), sh(4, 0)},
		{sh(8, 1, 6, 1), sh(7, 1, 5), sh(8, 7, 6, 5)}, // NumPy's documentation example
	}
	for _, c := range cases {
		if got := BroadcastShapes("test", c.a, c.b); !SameShape(got, c.want) {
			t.Errorf("BroadcastShapes(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

// binaryCases are shape pairs that broadcast, exercising the strided walk.
var binaryCases = [][2][]int{
	{sh(2, 3), sh(2, 3)},
	{sh(2, 3), sh(3)},
	{sh(3), sh(2, 3)},
	{sh(2, 1, 4), sh(3, 1)},
	{sh(2, 3), sh()},
	{sh(), sh(4)},
	{sh(1, 1), sh(1)},
	{sh(4, 1, 3, 1), sh(1, 5, 1, 2)},
	{sh(5, 1), sh(1, 7)},
	{sh(3, 1, 2), sh(3, 4, 1)},
	{sh(0, 3), sh(3)},
	{sh(70, 1, 300), sh(1, 3, 300)}, // large enough to run in parallel
	{sh(200, 199), sh(199)},
	{sh(40000), sh(40000)},
}

func TestBinaryMatchesReference(t *testing.T) {
	g := NewRNG(1)
	ops := []struct {
		name string
		f    func(a, b *Tensor64) *Tensor64
		ref  func(x, y float64) float64
	}{
		{"Add", Add[float64], func(x, y float64) float64 { return x + y }},
		{"Sub", Sub[float64], func(x, y float64) float64 { return x - y }},
		{"Mul", Mul[float64], func(x, y float64) float64 { return x * y }},
		{"Div", Div[float64], func(x, y float64) float64 { return x / y }},
		{"Pow", func(a, b *Tensor64) *Tensor64 { return Pow(Abs(a), b) }, func(x, y float64) float64 { return math.Pow(math.Abs(x), y) }},
		{"Maximum", Maximum[float64], math.Max},
		{"Minimum", Minimum[float64], math.Min},
		{"Eq", Eq[float64], func(x, y float64) float64 { return b2f[float64](x == y) }},
		{"Ne", Ne[float64], func(x, y float64) float64 { return b2f[float64](x != y) }},
		{"Gt", Gt[float64], func(x, y float64) float64 { return b2f[float64](x > y) }},
		{"Ge", Ge[float64], func(x, y float64) float64 { return b2f[float64](x >= y) }},
		{"Lt", Lt[float64], func(x, y float64) float64 { return b2f[float64](x < y) }},
		{"Le", Le[float64], func(x, y float64) float64 { return b2f[float64](x <= y) }},
	}
	for _, c := range binaryCases {
		// Small integers, so that comparisons see ties.
		a := Uniform[float64](g, -3, 3, c[0]...)
		b := Uniform[float64](g, -3, 3, c[1]...)
		for _, t := range []*Tensor64{a, b} {
			for i, v := range t.data {
				t.data[i] = math.Round(v)
				if t.data[i] == 0 {
					t.data[i] = 0.5
				}
			}
		}
		for _, op := range ops {
			got := op.f(a, b)
			assertClose(t, op.name+" "+shapeName(c[0], c[1]), got, refBinary(a, b, op.ref), 1e-15)
		}
	}
}

func shapeName(a, b []int) string { return fmt.Sprint(a, b) }

func TestBinaryHandValues(t *testing.T) {
	a := f64(sh(2, 3), 1, 2, 3, 4, 5, 6)
	// NumPy: np.arange(1,7).reshape(2,3) + np.array([10,20,30])
	assertEqual(t, "Add", Add(a, f64(sh(3), 10, 20, 30)), f64(sh(2, 3), 11, 22, 33, 14, 25, 36))
	// np.array([[1],[2]]) * np.array([1,10,100])
	assertEqual(t, "Mul outer", Mul(f64(sh(2, 1), 1, 2), f64(sh(3), 1, 10, 100)), f64(sh(2, 3), 1, 10, 100, 2, 20, 200))
	assertEqual(t, "Sub scalar-shaped", Sub(a, Scalar[float64](1)), f64(sh(2, 3), 0, 1, 2, 3, 4, 5))
	assertEqual(t, "Div", Div(a, f64(sh(2, 1), 1, 2)), f64(sh(2, 3), 1, 2, 3, 2, 2.5, 3))
	assertEqual(t, "Pow", Pow(a, f64(sh(3), 0, 1, 2)), f64(sh(2, 3), 1, 2, 9, 1, 5, 36))
	assertEqual(t, "Maximum", Maximum(a, Scalar[float64](3.5)), f64(sh(2, 3), 3.5, 3.5, 3.5, 4, 5, 6))
	assertEqual(t, "Minimum", Minimum(a, Scalar[float64](3.5)), f64(sh(2, 3), 1, 2, 3, 3.5, 3.5, 3.5))
	assertEqual(t, "Gt", Gt(a, f64(sh(3), 2, 2, 2)), f64(sh(2, 3), 0, 0, 1, 1, 1, 1))
	assertEqual(t, "Le", Le(a, Scalar[float64](2)), f64(sh(2, 3), 1, 1, 0, 0, 0, 0))
	assertEqual(t, "Eq", Eq(a, f64(sh(2, 1), 2, 6)), f64(sh(2, 3), 0, 1, 0, 0, 0, 1))
	nan := math.NaN()
	got := Maximum(f64(sh(3), nan, 1, 2), f64(sh(3), 0, nan, 1))
	if !math.IsNaN(got.data[0]) || !math.IsNaN(got.data[1]) || got.data[2] != 2 {
		t.Errorf("Maximum with NaN = %v, want [NaN NaN 2]", got.data)
	}
}

func TestWhere(t *testing.T) {
	cond := f64(sh(2, 1), 1, 0)
	a := f64(sh(3), 1, 2, 3)
	b := Scalar[float64](-1)
	assertEqual(t, "Where", Where(cond, a, b), f64(sh(2, 3), 1, 2, 3, -1, -1, -1))
	c2 := f64(sh(3), 0, 2, 0)
	assertEqual(t, "Where 2", Where(c2, a, f64(sh(2, 1), 10, 20)), f64(sh(2, 3), 10, 2, 10, 20, 2, 20))
	mustPanic(t, func() { Where(f64(sh(2), 1, 0), a, b) }, "tensor.Where", "[2]", "[3]", "[]")
}

func TestUnary(t *testing.T) {
	a := f64(sh(2, 2), -2, -0.5, 0, 4)
	cases := []struct {
		name string
		got  *Tensor64
		want []float64
	}{
		{"Neg", Neg(a), []float64{2, 0.5, 0, -4}},
		{"Abs", Abs(a), []float64{2, 0.5, 0, 4}},
		{"Sign", Sign(a), []float64{-1, -1, 0, 1}},
		{"Square", Square(a), []float64{4, 0.25, 0, 16}},
		{"Reciprocal", Reciprocal(a), []float64{-0.5, -2, math.Inf(1), 0.25}},
		{"Clamp", Clamp(a, -1, 1), []float64{-1, -0.5, 0, 1}},
		{"Exp", Exp(a), []float64{math.Exp(-2), math.Exp(-0.5), 1, math.Exp(4)}},
		{"Log", Log(Abs(a)), []float64{math.Ln2, -math.Ln2, math.Inf(-1), 2 * math.Ln2}},
		{"Sqrt", Sqrt(Abs(a)), []float64{math.Sqrt2, math.Sqrt(0.5), 0, 2}},
		{"AddScalar", AddScalar(a, 1), []float64{-1, 0.5, 1, 5}},
		{"SubScalar", SubScalar(a, 1), []float64{-3, -1.5, -1, 3}},
		{"RSubScalar", RSubScalar(1, a), []float64{3, 1.5, 1, -3}},
		{"MulScalar", MulScalar(a, 3), []float64{-6, -1.5, 0, 12}},
		{"DivScalar", DivScalar(a, 2), []float64{-1, -0.25, 0, 2}},
		{"PowScalar 2", PowScalar(a, 2), []float64{4, 0.25, 0, 16}},
		{"PowScalar 3", PowScalar(a, 3), []float64{-8, -0.125, 0, 64}},
		{"PowScalar 0.5", PowScalar(Abs(a), 0.5), []float64{math.Sqrt2, math.Sqrt(0.5), 0, 2}},
	}
	for _, c := range cases {
		assertClose(t, c.name, c.got, FromSlice(c.want, 2, 2), 1e-15)
	}
	mustPanic(t, func() { Clamp(a, 1, -1) }, "tensor.Clamp", "lo 1 > hi -1")
	if math.Signbit(Abs(f64(sh(1), math.Copysign(0, -1))).data[0]) {
		t.Error("Abs(-0) is -0")
	}
}

func TestInPlace(t *testing.T) {
	d := f64(sh(2, 3), 1, 2, 3, 4, 5, 6)
	AddInPlace(d, f64(sh(3), 1, 1, 1))
	assertEqual(t, "AddInPlace", d, f64(sh(2, 3), 2, 3, 4, 5, 6, 7))
	SubInPlace(d, f64(sh(2, 1), 1, 2))
	assertEqual(t, "SubInPlace", d, f64(sh(2, 3), 1, 2, 3, 3, 4, 5))
	MulInPlace(d, Scalar[float64](2))
	assertEqual(t, "MulInPlace", d, f64(sh(2, 3), 2, 4, 6, 6, 8, 10))
	DivInPlace(d, d.Clone())
	assertEqual(t, "DivInPlace", d, Full[float64](1, 2, 3))
	AddScaledInPlace(d, 2, f64(sh(2, 3), 1, 2, 3, 4, 5, 6))
	assertEqual(t, "AddScaledInPlace", d, f64(sh(2, 3), 3, 5, 7, 9, 11, 13))
	ScaleInPlace(d, 0.5)
	AddScalarInPlace(d, -0.5)
	assertEqual(t, "Scale/AddScalar", d, f64(sh(2, 3), 1, 2, 3, 4, 5, 6))
	ClampInPlace(d, 2, 5)
	assertEqual(t, "ClampInPlace", d, f64(sh(2, 3), 2, 2, 3, 4, 5, 5))
	mustPanic(t, func() { AddInPlace(f64(sh(3), 1, 2, 3), d) }, "tensor.AddInPlace", "[2 3]", "[3]")
	mustPanic(t, func() { AddScaledInPlace(d, 1, f64(sh(3), 1, 2, 3)) }, "tensor.AddScaledInPlace", "[2 3]", "[3]")
}

// TestFastPaths checks that the float32 SIMD paths give the result of the
// generic loops (float32 addition and multiplication are exactly rounded, so
// the comparison is exact).
func TestFastPaths(t *testing.T) {
	if fastBinary[float32](binAdd) == nil || fastBinary[float32](binMul) == nil || fastBinary[float64](binAdd) != nil {
		t.Fatal("fast paths not selected by element type")
	}
	if _, ok := any(kernels.Scale).(func(float32, []float32)); !ok {
		t.Fatal("kernels.Scale changed signature: ScaleInPlace lost its fast path")
	}
	if _, ok := any(kernels.Axpy).(func(float32, []float32, []float32)); !ok {
		t.Fatal("kernels.Axpy changed signature: AddScaledInPlace lost its fast path")
	}
	g := NewRNG(2)
	for _, n := range []int{1, 7, 33, 1000, 40001} {
		a := Normal[float32](g, 0, 1, n)
		b := Normal[float32](g, 0, 1, n)
		for _, k := range []binKind{binAdd, binMul} {
			want := New[float32](n)
			binRun(k, want.data, a.data, b.data, 1, 1)
			assertEqual(t, binNames[k], binary(k, a, b), want)
		}
		// Broadcast runs long enough for the kernel.
		row := Normal[float32](g, 0, 1, n)
		m := Normal[float32](g, 0, 1, 3, n)
		assertEqual(t, "Add rows", Add(m, row), refBinary(m, row, func(x, y float32) float32 { return x + y }))
		d := a.Clone()
		AddScaledInPlace(d, 0.5, b)
		for i := range d.data {
			if d.data[i] != a.data[i]+0.5*b.data[i] {
				t.Fatalf("AddScaledInPlace element %d", i)
			}
		}
		d = a.Clone()
		ScaleInPlace(d, 3)
		assertEqual(t, "ScaleInPlace", d, MulScalar(a, 3))
	}
}

func TestBinaryShapePanics(t *testing.T) {
	a, b := New[float32](2, 3), New[float32](4)
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"tensor.Add", func() { Add(a, b) }},
		{"tensor.Sub", func() { Sub(a, b) }},
		{"tensor.Mul", func() { Mul(a, b) }},
		{"tensor.Div", func() { Div(a, b) }},
		{"tensor.Pow", func() { Pow(a, b) }},
		{"tensor.Maximum", func() { Maximum(a, b) }},
		{"tensor.Minimum", func() { Minimum(a, b) }},
		{"tensor.Eq", func() { Eq(a, b) }},
		{"tensor.Lt", func() { Lt(a, b) }},
	} {
		t.Run(c.name, func(t *testing.T) { mustPanic(t, c.f, c.name+":", "[2 3]", "[4]") })
	}
}
