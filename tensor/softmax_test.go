package tensor

import (
	"math"
	"testing"
)

func TestSoftmaxHand(t *testing.T) {
	// scipy.special.softmax([1, 2, 3]) and log_softmax.
	x := f64(sh(3), 1, 2, 3)
	assertClose(t, "Softmax", Softmax(x, 0), f64(sh(3), 0.09003057317038046, 0.24472847105479767, 0.6652409557748219), 1e-15)
	assertClose(t, "LogSoftmax", LogSoftmax(x, -1), f64(sh(3), -2.4076059644443806, -1.4076059644443804, -0.4076059644443803), 1e-15)
	// Stable for large inputs.
	big := f64(sh(3), 1001, 1002, 1003)
	assertClose(t, "Softmax large", Softmax(big, 0), Softmax(x, 0), 1e-15)
	assertClose(t, "LogSoftmax large", LogSoftmax(Convert[float32](big), 0), Convert[float32](LogSoftmax(x, 0)), 1e-6)
	neg := LogSoftmax(f64(sh(2), 0, -1000), 0)
	if neg.data[0] != 0 || neg.data[1] != -1000 {
		t.Errorf("LogSoftmax([0 -1000]) = %v, want [0 -1000]", neg.data)
	}
}

func TestSoftmaxAxes(t *testing.T) {
	g := NewRNG(9)
	a := Normal[float64](g, 0, 2, 3, 4, 5)
	for ax := -3; ax < 3; ax++ {
		s := Softmax(a, ax)
		assertClose(t, "sums to 1", Sum(s, ax), Full[float64](1, Sum(a, ax).shape...), 1e-14)
		// Softmax along ax equals softmax along the last axis of the
		// tensor with ax moved last.
		p := []int{0, 1, 2}
		axn := (ax + 3) % 3
		p[axn], p[2] = p[2], p[axn]
		assertClose(t, "vs last axis", Permute(Softmax(Permute(a, p...), -1), p...), s, 1e-15)
		assertClose(t, "log", LogSoftmax(a, ax), Log(s), 1e-13)
	}
	mustPanic(t, func() { Softmax(a, 3) }, "tensor.Softmax", "axis 3", "[3 4 5]")
}

func TestSoftmaxGrads(t *testing.T) {
	// Compare the vector-Jacobian products with finite differences of
	// sum(g * f(x)).
	g := NewRNG(10)
	x := Normal[float64](g, 0, 1, 3, 4)
	w := Normal[float64](g, 0, 1, 3, 4)
	for _, ax := range []int{0, 1} {
		for _, c := range []struct {
			name string
			f    func(*Tensor64, int) *Tensor64
			grad func(y, g *Tensor64, ax int) *Tensor64
		}{{"Softmax", Softmax[float64], SoftmaxGrad[float64]}, {"LogSoftmax", LogSoftmax[float64], LogSoftmaxGrad[float64]}} {
			got := c.grad(c.f(x, ax), w, ax)
			for i := range x.data {
				orig := x.data[i]
				x.data[i] = orig + 1e-6
				up := SumAll(Mul(c.f(x, ax), w))
				x.data[i] = orig - 1e-6
				down := SumAll(Mul(c.f(x, ax), w))
				x.data[i] = orig
				if num := (up - down) / 2e-6; math.Abs(num-got.data[i]) > 1e-6 {
					t.Errorf("%s axis %d element %d: %v, finite difference %v", c.name, ax, i, got.data[i], num)
				}
			}
		}
	}
}
