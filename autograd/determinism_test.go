package autograd

import (
	"math"
	"runtime"
	"testing"

	"github.com/fastgo-ml/fastgo/internal/parallel"
	"github.com/fastgo-ml/fastgo/tensor"
)

// tasksOnWorkers returns the number of tasks the parallel package has run
// on its workers: it grows only when an op really splits its work.
func tasksOnWorkers() int64 { return parallel.Tasks() }

// detCase is a forward and backward pass whose every output must not depend
// on GOMAXPROCS.
type detCase struct {
	name string
	// run builds fresh leaves from the shared inputs, runs forward and
	// backward, and returns the output and every gradient.
	run func() []*tensor.Tensor
}

func detCases() []detCase {
	rng := tensor.NewRNG(77)
	u := func(lo, hi float32, shape ...int) *tensor.Tensor {
		return tensor.Uniform[float32](rng, lo, hi, shape...)
	}
	// seeded output gradients, so that every element of every gradient
	// depends on a different mix of inputs
	a, b := u(-1, 1, 300, 500), u(-1, 1, 500, 400)
	gmm := u(-1, 1, 300, 400)
	ba, bb := u(-1, 1, 16, 64, 96), u(-1, 1, 96, 80)
	gbmm := u(-1, 1, 16, 64, 80)
	cx, cw, cb := u(0, 1, 32, 32, 14, 14), u(-0.1, 0.1, 64, 32, 3, 3), u(-0.1, 0.1, 64)
	gc := u(-1, 1, 32, 64, 14, 14)
	px, pw, pb := u(0, 1, 64, 1, 28, 28), u(-0.3, 0.3, 32, 1, 3, 3), u(-0.1, 0.1, 32)
	gp := u(-1, 1, 64, 32, 28, 28)
	logits := u(-3, 3, 512, 1000)
	gs := u(-1, 1, 512, 1000)
	targets := make([]int, 512)
	for i := range targets {
		targets[i] = rng.IntN(1000)
	}
	bx := u(-2, 2, 64, 64, 14, 14)
	gbn := u(-1, 1, 64, 64, 14, 14)
	lx, lw, lb := u(-1, 1, 256, 3136), u(-0.02, 0.02, 128, 3136), u(-0.02, 0.02, 128)
	gl := u(-1, 1, 256, 128)
	mx := u(-1, 1, 64, 32, 28, 28)
	gm := u(-1, 1, 64, 32, 14, 14)

	grads := func(out *Value, g *tensor.Tensor, leaves ...*Value) []*tensor.Tensor {
		if g == nil {
			out.Backward()
		} else {
			out.BackwardWith(g)
		}
		res := []*tensor.Tensor{out.Data()}
		for _, l := range leaves {
			res = append(res, l.Grad())
		}
		return res
	}
	return []detCase{
		{"MatMul 300x500x400", func() []*tensor.Tensor {
			x, y := Param(a), Param(b)
			return grads(MatMul(x, y), gmm, x, y)
		}},
		{"MatMul batched [16 64 96]x[96 80]", func() []*tensor.Tensor {
			x, y := Param(ba), Param(bb)
			return grads(MatMul(x, y), gbmm, x, y)
		}},
		{"Conv2d batched path 32x32x14x14 -> 64", func() []*tensor.Tensor {
			x, w, bias := Param(cx), Param(cw), Param(cb)
			return grads(Conv2d(x, w, bias, Conv2dOptions{Padding: [2]int{1, 1}}), gc, x, w, bias)
		}},
		{"Conv2d per-sample path 64x1x28x28 -> 32", func() []*tensor.Tensor {
			x, w, bias := Param(px), Param(pw), Param(pb)
			return grads(Conv2d(x, w, bias, Conv2dOptions{Padding: [2]int{1, 1}}), gp, x, w, bias)
		}},
		{"Softmax 512x1000", func() []*tensor.Tensor {
			x := Param(logits)
			return grads(Softmax(x, -1), gs, x)
		}},
		{"Softmax axis 0", func() []*tensor.Tensor {
			x := Param(logits)
			return grads(Softmax(x, 0), gs, x)
		}},
		{"LogSoftmax 512x1000", func() []*tensor.Tensor {
			x := Param(logits)
			return grads(LogSoftmax(x, 1), gs, x)
		}},
		{"CrossEntropy 512x1000", func() []*tensor.Tensor {
			x := Param(logits)
			return grads(CrossEntropy(x, targets, LabelSmoothing(0.1)), nil, x)
		}},
		{"BatchNorm train 64x64x14x14", func() []*tensor.Tensor {
			x, w, bias := Param(bx), Param(tensor.Ones(64)), Param(tensor.Zeros(64))
			rm, rv := tensor.Zeros(64), tensor.Ones(64)
			r := grads(BatchNorm(x, w, bias, rm, rv, BatchNormOptions{Training: true, Momentum: 0.1, Eps: 1e-5}), gbn, x, w, bias)
			return append(r, rm, rv)
		}},
		{"Linear 256x3136 -> 128", func() []*tensor.Tensor {
			x, w, bias := Param(lx), Param(lw), Param(lb)
			return grads(Linear(x, w, bias), gl, x, w, bias)
		}},
		{"MaxPool2d 64x32x28x28", func() []*tensor.Tensor {
			x := Param(mx)
			return grads(MaxPool2d(x, Pool2dOptions{Kernel: [2]int{2, 2}}), gm, x)
		}},
		{"Sum over batch axes", func() []*tensor.Tensor {
			x := Param(bx)
			return grads(Sum(x, 0, 2, 3), tensor.Ones(64), x)
		}},
	}
}

// TestBitIdenticalAcrossGOMAXPROCS runs matmul, conv2d, softmax and the
// other parallel ops forward and backward with GOMAXPROCS 1 and 2 and checks
// that every output and gradient is the same bit for bit. It also proves
// that the sizes are large enough to split: with 2 procs each case hands
// tasks to the parallel package's workers, with 1 it hands none.
func TestBitIdenticalAcrossGOMAXPROCS(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, c := range detCases() {
		t.Run(c.name, func(t *testing.T) {
			var results [2][]*tensor.Tensor
			var split [2]int64
			for i, procs := range []int{1, 2} {
				runtime.GOMAXPROCS(procs)
				c.run() // warm the pools
				// A GEMM's helper that the OS has not started by the
				// time the caller has done the work is dropped: on a
				// busy machine, try again for a run that split.
				for try := 0; try < 20 && (try == 0 || procs == 2 && split[i] == 0); try++ {
					before := tasksOnWorkers()
					results[i] = c.run()
					split[i] = tasksOnWorkers() - before
				}
			}
			if split[1] == 0 {
				t.Errorf("with GOMAXPROCS 2 the op ran no task on a worker: it did not split, so the comparison proves nothing")
			}
			if split[0] != 0 {
				t.Errorf("with GOMAXPROCS 1 the op ran %d tasks on workers", split[0])
			}
			t.Logf("tasks on workers: %d with GOMAXPROCS 1, %d with 2", split[0], split[1])
			for k := range results[0] {
				one, two := results[0][k].Data(), results[1][k].Data()
				if len(one) != len(two) {
					t.Fatalf("result %d: %d elements with 1 proc, %d with 2", k, len(one), len(two))
				}
				for i := range one {
					if math.Float32bits(one[i]) != math.Float32bits(two[i]) {
						t.Fatalf("result %d element %d: %v with GOMAXPROCS 1, %v with 2", k, i, one[i], two[i])
					}
				}
			}
		})
	}
}
