// Command blackbox attacks a classifier that it can only query: the model
// sits behind a prediction function (as a remote service or another
// framework's model would), which returns class probabilities for a batch
// of images and nothing else. The score-based Square attack and the
// decision-based HopSkipJump attack (top class only) go through a
// query-counting oracle over that function, with a budget per image.
//
//	go run ./examples/blackbox
//	go run ./examples/blackbox -small   # seconds, for CI
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math"

	"github.com/fastgo-ml/fastgo/adversarial/attacks"
	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/callbacks"
	"github.com/fastgo-ml/fastgo/data"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/vision"
	"github.com/fastgo-ml/fastgo/vision/models"
)

func main() {
	small := flag.Bool("small", false, "a briefly trained model, few images and queries: runs in seconds")
	flag.Parse()
	if err := run(*small); err != nil {
		log.Fatal(err)
	}
}

func run(small bool) error {
	ctx := context.Background()
	n, queries, pct := 100, 1000, 1.0
	if small {
		n, queries, pct = 16, 100, 0.2
	}

	// The defender trains a model and serves it.
	dls, err := vision.EmbeddedFashionMNIST(vision.BatchSize(128))
	if err != nil {
		return err
	}
	learn, err := vision.CNNLearner(dls, models.SmallCNN, learner.Metrics(learner.Accuracy()), vision.InitSeed(1))
	if err != nil {
		return err
	}
	if err := learn.FitOneCycle(ctx, 1, learner.LR(5e-3), learner.Callbacks(&callbacks.ShortEpoch{Pct: pct, FullValid: true})); err != nil {
		return err
	}
	service := serve(learn.Model)

	// The attacker has the service and some images with their labels.
	b, err := data.First(ctx, dls.Valid, n)
	if err != nil {
		return err
	}
	x, y := b.X, b.Y
	tm := attacks.ThreatModel{Norm: attacks.Linf, Eps: 0.1}
	runs := []struct {
		attack attacks.BlackBoxAttack
		access attacks.Access
	}{
		{attacks.Square{Queries: queries}, attacks.ScoreAccess},
		{attacks.HopSkipJump{Queries: queries}, attacks.LabelAccess},
	}
	for _, a := range runs {
		oracle := attacks.NewFuncOracle(service, a.access, queries)
		res, err := attacks.RunBlackBox(ctx, a.attack, oracle, x, attacks.Untargeted(y), tm)
		if err != nil {
			return err
		}
		total, fooled := 0, 0
		for i, q := range res.Queries {
			total += q
			if res.Success[i] {
				fooled++
			}
		}
		fmt.Printf("%-12s (%s, %d queries per image): robust accuracy %.3f, %d of %d images fooled, %.0f queries per image on average, largest Linf %.3f\n",
			res.Attack, a.access, queries, res.Accuracy(y), fooled, res.Len(), float64(total)/float64(res.Len()), maxOf(res.Norms))
	}
	return nil
}

// serve returns the only access the attacker gets to model: a function
// from a batch of images to class probabilities.
func serve(model layers.Module) attacks.PredictFunc {
	layers.Eval(model)
	return func(x *tensor.Tensor) ([][]float32, error) {
		var probs *tensor.Tensor
		autograd.NoGrad(func() {
			probs = tensor.Softmax(layers.Call(model, autograd.Const(x)).Data(), 1)
		})
		c := probs.Dim(1)
		rows := make([][]float32, probs.Dim(0))
		for i := range rows {
			rows[i] = append([]float32(nil), probs.Data()[i*c:(i+1)*c]...)
		}
		return rows, nil
	}
}

func maxOf(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, x)
	}
	return m
}
