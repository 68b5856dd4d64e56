package tensor

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/gonum"
)

// TestUseInGonum checks that after UseInGonum, blas32.Gemm computes the
// same product as gonum's own implementation (within float32 rounding).
func TestUseInGonum(t *testing.T) {
	rng := NewRNG(4)
	m, n, k := 37, 29, 53
	a, b := Uniform[float32](rng, -1, 1, m, k), Uniform[float32](rng, -1, 1, k, n)
	want := make([]float32, m*n)
	gonum.Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a.Data(), k, b.Data(), n, 0, want, n)
	UseInGonum()
	defer blas32.Use(gonum.Implementation{})
	c := blas32.General{Rows: m, Cols: n, Stride: n, Data: make([]float32, m*n)}
	blas32.Gemm(blas.NoTrans, blas.NoTrans, 1,
		blas32.General{Rows: m, Cols: k, Stride: k, Data: a.Data()},
		blas32.General{Rows: k, Cols: n, Stride: n, Data: b.Data()}, 0, c)
	if _, ok := blas32.Implementation().(gonum.Implementation); ok {
		t.Fatal("UseInGonum did not install an implementation")
	}
	for i := range want {
		if d := math.Abs(float64(c.Data[i] - want[i])); d > 1e-4 {
			t.Fatalf("element %d: %v, gonum %v", i, c.Data[i], want[i])
		}
	}
}
