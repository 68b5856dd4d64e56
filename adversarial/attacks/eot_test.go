package attacks

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/fastgo-ml/fastgo/adversarial/internal/testmodels"
	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
)

// noisyLinear is a randomised model: logits W x + s * V x, with s ~ N(0,
// Scale^2) drawn anew at every forward pass. Its expected logits are W x,
// but a single pass's gradient is dominated by the random s V.
type noisyLinear struct {
	layers.Base
	w, v  *layers.Linear
	rng   *tensor.RNG
	scale float32
}

func (m *noisyLinear) Forward(x *autograd.Value) *autograd.Value {
	s := float32(m.rng.NormFloat64()) * m.scale
	return autograd.Add(layers.Call(m.w, x), autograd.MulScalar(layers.Call(m.v, x), s))
}

// TestEOT: on a deterministic model EOT(2) is the wrapped attack bit for
// bit; on a randomised model EOT's averaged gradient follows the expected
// model, and fools it where the single-pass attack, led by noise, fails.
func TestEOT(t *testing.T) {
	ctx := context.Background()
	m := testmodels.NewSmallNet(4, testmodels.SynthClasses)
	x := testmodels.Images(10, 3)
	labels := testmodels.Predict(m, x)
	tm := ThreatModel{Norm: Linf, Eps: 0.1}
	inner := PGD{Steps: 4, RandomStart: true, Seed: 2}
	a, err := Run(ctx, inner, m, x, Untargeted(labels), tm)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Run(ctx, EOT{Attack: inner, Samples: 2}, m, x, Untargeted(labels), tm)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Adv.Data(), b.Adv.Data()) {
		t.Error("EOT(2) on a deterministic model differs from the wrapped attack")
	}

	const d = 16
	rng := tensor.NewRNG(5)
	wl, w, bias := testmodels.RandomLinear(rng, d, 2)
	vl, _, _ := testmodels.RandomLinear(rng, d, 2)
	noisy := &noisyLinear{rng: tensor.NewRNG(6), scale: 5}
	noisy.w = layers.Register(&noisy.Base, "w", wl)
	noisy.v = layers.Register(&noisy.Base, "v", vl)
	xs := tensor.Uniform[float32](rng, 0.3, 0.7, 40, d)
	z := testmodels.Logits(w, bias, xs.Data(), d, 2)
	y := testmodels.Classes(z)
	// Each sample's distance to the expected model's boundary, in Linf.
	var l1 float64
	for p := 0; p < d; p++ {
		l1 += math.Abs(float64(w[d+p]) - float64(w[p]))
	}
	eps := 0.0
	for i := range y {
		eps = math.Max(eps, 1.2*math.Abs(z[i][1]-z[i][0])/l1)
	}
	eps = math.Min(eps, 0.3)
	fooled := func(r *Result) int {
		n := 0
		for i, p := range Predictions(linearOut(w, bias, r.Adv, d)) {
			if p != y[i] {
				n++
			}
		}
		return n
	}
	pgd := PGD{Steps: 10, Alpha: eps / 4, Loss: MarginLoss, Seed: 1}
	plain, err := Run(ctx, pgd, noisy, xs, Untargeted(y), ThreatModel{Norm: Linf, Eps: eps})
	if err != nil {
		t.Fatal(err)
	}
	eot, err := Run(ctx, EOT{Attack: pgd, Samples: 400}, noisy, xs, Untargeted(y), ThreatModel{Norm: Linf, Eps: eps})
	if err != nil {
		t.Fatal(err)
	}
	fp, fe := fooled(plain), fooled(eot)
	t.Logf("expected model fooled at Linf %.3f: PGD %d/40, EOT400(PGD) %d/40", eps, fp, fe)
	if fe < 36 || fe <= fp {
		t.Errorf("EOT fooled the expected model on %d of 40 samples (plain PGD %d)", fe, fp)
	}
}

// linearOut returns W x + b for a batch x [N, d].
func linearOut(w, b []float32, x *tensor.Tensor, d int) *tensor.Tensor {
	z := testmodels.Logits(w, b, x.Data(), d, len(b))
	out := tensor.New[float32](len(z), len(b))
	for i := range z {
		for j := range z[i] {
			out.Data()[i*len(b)+j] = float32(z[i][j])
		}
	}
	return out
}
