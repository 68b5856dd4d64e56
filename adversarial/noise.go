package adversarial

import (
	"fmt"
	"math"

	"github.com/fastgo-ml/fastgo/adversarial/attacks"
	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/tensor"
)

// GaussianNoise is the training of Cohen et al.'s randomised smoothing as a
// learner callback: before each training batch it adds N(0, Sigma^2) noise
// to every input value, so that the model learns to classify noisy inputs,
// which is what the smoothed classifier (Smoothed) asks of it. The noise is
// not clipped to the pixel box (as in Cohen et al.), and each batch draws
// from its own stream, seeded by Seed and the batch number. Validation
// batches are left clean. Train with the Sigma you certify with.
type GaussianNoise struct {
	// Sigma is the noise's standard deviation in pixels (> 0).
	Sigma float64
	// Seed seeds the noise.
	Seed uint64
}

// Order implements learner.Ordered (TrainerOrder).
func (g *GaussianNoise) Order() int { return TrainerOrder }

// Name implements learner.Named.
func (g *GaussianNoise) Name() string { return "GaussianNoise" }

// Handle implements learner.Callback.
func (g *GaussianNoise) Handle(l *learner.Learner, e learner.Event) error {
	switch e {
	case learner.BeforeFit:
		if !(g.Sigma > 0) || math.IsInf(g.Sigma, 0) {
			return fmt.Errorf("adversarial.GaussianNoise: Sigma %v must be finite and > 0", g.Sigma)
		}
	case learner.BeforeBatch:
		if !l.Training {
			return nil
		}
		x := l.XB.Data().Clone()
		rng := tensor.NewRNG(attacks.IndexSeed(g.Seed, l.TrainIter))
		for j := range x.Data() {
			x.Data()[j] += float32(g.Sigma * rng.NormFloat64())
		}
		l.XB = autograd.Const(x)
	}
	return nil
}
