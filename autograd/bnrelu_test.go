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
				y = BatchNormReLU(x, w, b, rm, rv, BatchNormOptions{Training: training, Momentum: 0.1, Eps: 1e-5})
			} else {
				y = ReLU(BatchNorm(x, w, b, rm, rv, BatchNormOptions{Training: training, Momentum: 0.1, Eps: 1e-5}))
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

// TestConv2dReLUIsFused checks that Conv2dReLU gives, bit for bit, the
// output and the input, weight and bias gradients of ReLU after Conv2d, on
// the float32 packed paths (same and strided convolutions, with and without
// bias) and on the im2col path.
func TestConv2dReLUIsFused(t *testing.T) {
	rng := tensor.NewRNG(22)
	for _, packed := range []bool{true, false} {
		restore := SetConvPacked(packed)
		for _, c := range []struct {
			name string
			opts Conv2dOptions
			bias bool
		}{
			{"same 3x3 with bias", Conv2dOptions{Padding: [2]int{1, 1}}, true},
			{"same 3x3 no bias", Conv2dOptions{Padding: [2]int{1, 1}}, false},
			{"stride 2 with bias", Conv2dOptions{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}}, true},
			{"1x1 stride 2 no bias", Conv2dOptions{Stride: [2]int{2, 2}}, false},
		} {
			k := 3
			if c.opts.Padding[0] == 0 {
				k = 1
			}
			xd := tensor.Uniform[float32](rng, -1, 1, 3, 5, 9, 7)
			wd := tensor.Uniform[float32](rng, -0.5, 0.5, 6, 5, k, k)
			bd := tensor.Uniform[float32](rng, -0.5, 0.5, 6)
			run := func(fused bool) []*tensor.Tensor {
				x, w := Param(xd.Clone()), Param(wd.Clone())
				var b *Value
				if c.bias {
					b = Param(bd.Clone())
				}
				var y *Value
				if fused {
					y = Conv2dReLU(x, w, b, c.opts)
				} else {
					y = ReLU(Conv2d(x, w, b, c.opts))
				}
				gy := tensor.Uniform[float32](tensor.NewRNG(5), -1, 1, y.Shape()...)
				out := y.Data().Clone()
				y.BackwardWith(gy)
				res := []*tensor.Tensor{out, x.Grad(), w.Grad()}
				if b != nil {
					res = append(res, b.Grad())
				}
				return res
			}
			want, got := run(false), run(true)
			zeros := 0
			for _, v := range want[0].Data() {
				if v == 0 {
					zeros++
				}
			}
			if zeros == 0 || zeros == want[0].Len() {
				t.Fatalf("packed=%v %s: %d of %d outputs are 0; the ReLU is not exercised", packed, c.name, zeros, want[0].Len())
			}
			for r, name := range []string{"output", "input gradient", "weight gradient", "bias gradient"}[:len(want)] {
				for i, v := range want[r].Data() {
					if math.Float32bits(got[r].Data()[i]) != math.Float32bits(v) {
						t.Fatalf("packed=%v %s %s[%d]: fused %v, unfused %v", packed, c.name, name, i, got[r].Data()[i], v)
					}
				}
			}
		}
		restore()
	}
}

// TestAddReLUIsFused checks that AddReLU gives, bit for bit, the output and
// both input gradients of ReLU after Add on the float32 kernel path (an odd
// length exercises the kernel tails), with either input constant, and that
// it refuses inputs of different shapes.
func TestAddReLUIsFused(t *testing.T) {
	rng := tensor.NewRNG(23)
	ad := tensor.Uniform[float32](rng, -1, 1, 3, 5, 7, 9)
	bd := tensor.Uniform[float32](rng, -1, 1, 3, 5, 7, 9)
	gy := tensor.Uniform[float32](rng, -1, 1, 3, 5, 7, 9)
	for _, grads := range [][2]bool{{true, true}, {true, false}, {false, true}} {
		run := func(fused bool) []*tensor.Tensor {
			a, b := leaf(ad.Clone(), grads[0]), leaf(bd.Clone(), grads[1])
			var y *Value
			if fused {
				y = AddReLU(a, b)
			} else {
				y = ReLU(Add(a, b))
			}
			out := []*tensor.Tensor{y.Data().Clone()}
			y.BackwardWith(gy)
			return append(out, a.Grad(), b.Grad())
		}
		want, got := run(false), run(true)
		for k, name := range []string{"output", "gradient of a", "gradient of b"} {
			if (want[k] == nil) != (got[k] == nil) {
				t.Fatalf("grads=%v %s: fused %v, unfused %v", grads, name, got[k], want[k])
			}
			if want[k] == nil {
				continue
			}
			for i, v := range want[k].Data() {
				if math.Float32bits(got[k].Data()[i]) != math.Float32bits(v) {
					t.Fatalf("grads=%v %s[%d]: fused %v, unfused %v", grads, name, i, got[k].Data()[i], v)
				}
			}
		}
	}
	defer func() {
		if r := recover(); r == nil {
			t.Fatal("AddReLU of [2 3] and [3] did not panic")
		}
	}()
	AddReLU(Param(tensor.Zeros(2, 3)), Param(tensor.Zeros(3)))
}
