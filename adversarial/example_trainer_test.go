package adversarial_test

import (
	"context"
	"fmt"

	"github.com/fastgo-ml/fastgo/adversarial"
	"github.com/fastgo-ml/fastgo/adversarial/attacks"
	"github.com/fastgo-ml/fastgo/data"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/tensor"
)

// features returns n images of 1x4x5 pixels and their labels (0 or 1), in
// the spirit of Tsipras et al.: the first pixel is 0.15 from grey in the
// direction of the class for 90% of the images (a robust feature, but a
// noisy one), the 19 others 0.08 from grey plus uniform noise (weak features
// that together separate the classes better, and that a Linf attack of 0.1
// reverses all at once).
func features(n int, seed uint64) (*tensor.Tensor, []int) {
	g := tensor.NewRNG(seed)
	x := tensor.New[float32](n, 1, 4, 5)
	y := make([]int, n)
	for i := range y {
		y[i] = i % 2
		s := float64(2*y[i] - 1)
		for j := 0; j < 20; j++ {
			v := 0.5 + 0.08*s + 0.2*(g.Float64()-0.5)
			if j == 0 {
				r := s
				if g.Float64() < 0.1 {
					r = -s
				}
				v = 0.5 + 0.15*r
			}
			x.Data()[i*20+j] = float32(v)
		}
	}
	return x, y
}

// Adversarial training is a callback of the ordinary fits: NewTrainer makes
// every training batch adversarial (PGD within the threat model) before the
// step. Plain training leans on the weak features (clean accuracy 0.96,
// robust 0.48 here); adversarial training on the robust one (0.90 and 0.90).
func ExampleNewTrainer() {
	tm := attacks.ThreatModel{Norm: attacks.Linf, Eps: 0.1}
	x, y := features(512, 1)
	xv, yv := features(256, 2)
	robust := func(m layers.Module) float64 {
		r, err := attacks.Run(context.Background(), attacks.PGD{Steps: 10, RandomStart: true}, m, xv, attacks.Untargeted(yv), tm)
		if err != nil {
			panic(err)
		}
		return r.Accuracy(yv)
	}
	fit := func(cbs ...learner.Callback) layers.Module {
		data := &data.SliceData{
			Train: &data.SliceLoader{X: x, Y: y, BatchSize: 32, Shuffle: true, Seed: 1},
			Valid: &data.SliceLoader{X: xv, Y: yv, BatchSize: 64},
			Vocab: []string{"dark", "bright"},
		}
		model := layers.NewSequential(layers.NewFlatten(), layers.NewLinear(20, 2, tensor.NewRNG(1)))
		l := learner.New(data, model)
		if err := l.FitOneCycle(context.Background(), 10, learner.LR(0.1), learner.Callbacks(cbs...)); err != nil {
			panic(err)
		}
		return model
	}
	plain := robust(fit())
	trained := robust(fit(adversarial.NewTrainer(adversarial.Attack(attacks.PGD{Steps: 5, RandomStart: true, LastIterate: true}), adversarial.Threat(tm))))
	fmt.Println("plain training, robust accuracy under 0.6:", plain < 0.6)
	fmt.Println("adversarial training, robust accuracy over 0.85:", trained > 0.85)
	// Output:
	// plain training, robust accuracy under 0.6: true
	// adversarial training, robust accuracy over 0.85: true
}
