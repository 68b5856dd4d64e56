package autograd

import (
	"math"
	"testing"

	"github.com/fastgo-ml/fastgo/tensor"
)

// TestBatchNormReLUIsFused checks that the fused op gives, bit for bit, the
// outputs, input and parameter gradients and running statistics of ReLU
// after BatchNorm, on the float32 kernel path, in training and in eval.
func TestBatchNormReLUIsFused(t *testing.T) {
	rng := tensor.NewRNG(21)
	xd := tensor.Uniform[float32](rng, -2, 2, 6, 5, 7, 9) // odd plane: kernel tails
	gy := tensor.Uniform[float32](rng, -1, 1, 6, 5, 7, 9)
	w0 := tensor.Uniform[float32](rng, 0.5, 1.5, 5)
	b0 := tensor.Uniform[float32](rng, -0.5, 0.5, 5)
	for _, training := range []bool{true, false} {
		type res struct {
			out, gx, gw, gb, rm, rv *tensor.Tensor
		}
		run := func(fused bool) res {
			x, w, b := Param(xd.Clone()), Param(w0.Clone()), Param(b0.Clone())
			rm, rv := tensor.Full[float32](0.1, 5), tensor.Full[float32](1.2, 5)
			var y *Value
			if fused {
				y = BatchNormReLU(x, w, b, rm, rv, training, 0.1, 1e-5)
			} else {
				y = ReLU(BatchNorm(x, w, b, rm, rv, training, 0.1, 1e-5))
			}
			out := y.Data().Clone()
			y.BackwardWith(gy)
			return res{out, x.Grad(), w.Grad(), b.Grad(), rm, rv}
		}
		want, got := run(false), run(true)
		for _, c := range []struct {
			name string
			a, b *tensor.Tensor
		}{{"output", got.out, want.out}, {"input gradient", got.gx, want.gx}, {"weight gradient", got.gw, want.gw},
			{"bias gradient", got.gb, want.gb}, {"running mean", got.rm, want.rm}, {"running var", got.rv, want.rv}} {
			for i, v := range c.b.Data() {
				if math.Float32bits(c.a.Data()[i]) != math.Float32bits(v) {
					t.Fatalf("training=%v %s[%d]: fused %v, unfused %v", training, c.name, i, c.a.Data()[i], v)
				}
			}
		}
	}
}
