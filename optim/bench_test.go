package optim

import (
	"testing"

	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/tensor"
)

// TestStepAllocatesNothing checks that a warm Step allocates nothing, as a
// training step should not.
func TestStepAllocatesNothing(t *testing.T) {
	for _, mk := range makers {
		t.Run(mk.name, func(t *testing.T) {
			ps := newParams(1)
			opt := mk.make(twoGroups(ps))
			setGrads(ps, 0)
			opt.Step() // creates the buffers
			if n := testing.AllocsPerRun(10, opt.Step); n != 0 {
				t.Errorf("Step allocates %v times", n)
			}
		})
	}
}

// smallCNNShapes are the parameter shapes of the W2 SmallCNN (421,834
// parameters), whose training step the benchmarks of docs/performance.md time.
var smallCNNShapes = [][]int{{32, 1, 3, 3}, {32}, {32}, {32}, {64, 32, 3, 3}, {64}, {64}, {64}, {128, 3136}, {128}, {10, 128}, {10}}

func benchStep(b *testing.B, make func([]*ParamGroup) Optimizer) {
	g := tensor.NewRNG(1)
	var ps []*autograd.Value
	n := 0
	for _, s := range smallCNNShapes {
		p := autograd.Param(tensor.Normal[float32](g, 0, 0.1, s...))
		p.SetGrad(tensor.Normal[float32](g, 0, 0.01, s...))
		ps = append(ps, p)
		n += p.Data().Len()
	}
	opt := make(Params(ps...))
	opt.Step()
	b.SetBytes(int64(4 * n))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		opt.Step()
	}
}

func BenchmarkSGDMomentumStep(b *testing.B) {
	benchStep(b, func(g []*ParamGroup) Optimizer { return NewSGD(g, LR(0.01), Momentum(0.9)) })
}

func BenchmarkAdamStep(b *testing.B) {
	benchStep(b, func(g []*ParamGroup) Optimizer { return NewAdam(g) })
}

func BenchmarkAdamWStep(b *testing.B) {
	benchStep(b, func(g []*ParamGroup) Optimizer { return NewAdamW(g) })
}

func BenchmarkRMSPropStep(b *testing.B) {
	benchStep(b, func(g []*ParamGroup) Optimizer { return NewRMSProp(g, Momentum(0.9), Centered()) })
}
