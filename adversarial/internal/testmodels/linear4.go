package testmodels

import (
	"math"

	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Linear4 is a linear classifier of 1x4x4 images into 4 classes, with
// Gaussian weights, and the Linf distance of each sample of x to its
// nearest boundary with another class: min_j (z_y - z_j) / ||w_y - w_j||_1,
// exact while the box does not bind (x within [eps, 1-eps]).
type Linear4 struct {
	layers.Base
	lin *layers.Linear
	// step, when set, rounds the input to {0, 1} first (by x > 0.5), a
	// function whose gradient is zero almost everywhere: the textbook
	// gradient-masked model.
	step bool
}

// L4D and L4K are Linear4's input size (16 pixels) and classes (4).
const L4D, L4K = 16, 4

// NewLinear4 returns a Linear4 with weights drawn with seed; with step it
// rounds its input to {0, 1} first.
func NewLinear4(seed uint64, step bool) *Linear4 {
	m := &Linear4{step: step}
	g := tensor.NewRNG(seed)
	w := make([]float32, L4K*L4D)
	for j := range w {
		w[j] = float32(g.NormFloat64())
	}
	b := make([]float32, L4K)
	m.lin = layers.Register(&m.Base, "lin", Linear(L4D, L4K, w, b))
	return m
}

// Forward implements layers.Module.
func (m *Linear4) Forward(x *autograd.Value) *autograd.Value {
	h := autograd.Flatten(x, 1, -1)
	if m.step {
		q := x.Data().Clone()
		for j, v := range q.Data() {
			if v > 0.5 {
				q.Data()[j] = 1
			} else {
				q.Data()[j] = 0
			}
		}
		h = autograd.Flatten(autograd.Const(q), 1, -1)
	}
	return layers.Call(m.lin, h)
}

// Distances returns, for each sample of x [N, 1, 4, 4], its Linf distance
// to the nearest boundary of class y_i (negative when misclassified).
func (m *Linear4) Distances(x *tensor.Tensor, labels []int) []float64 {
	w := m.lin.Weight.Data().Data()
	b := m.lin.Bias.Data().Data()
	out := make([]float64, len(labels))
	zs := Logits(w, b, x.Data(), L4D, L4K)
	for i, y := range labels {
		z := zs[i]
		best := math.Inf(1)
		for c := 0; c < L4K; c++ {
			if c == y {
				continue
			}
			var l1 float64
			for j := 0; j < L4D; j++ {
				l1 += math.Abs(float64(w[y*L4D+j]) - float64(w[c*L4D+j]))
			}
			best = math.Min(best, (z[y]-z[c])/l1)
		}
		out[i] = best
	}
	return out
}

// EvalData returns n images in [0.3, 0.7] and labels that are the model's
// predictions except for every seventh sample (misclassified on purpose).
func EvalData(m layers.Module, n int, seed uint64) (*tensor.Tensor, []int) {
	x := tensor.Uniform[float32](tensor.NewRNG(seed), 0.3, 0.7, n, 1, 4, 4)
	y := Predict(m, x)
	for i := 0; i < n; i += 7 {
		y[i] = (y[i] + 1) % L4K
	}
	return x, y
}
