// Command certify gives a classifier certified robustness with randomised
// smoothing (Cohen, Rosenfeld and Kolter, 2019): it trains a SmallCNN on
// noisy copies of the embedded Fashion-MNIST images (the GaussianNoise
// callback), then certifies validation images with adversarial.Smoothed:
// each certified image keeps its smoothed class against every L2
// perturbation below its radius, with probability 1 - alpha.
//
//	go run ./examples/certify          # about a minute
//	go run ./examples/certify -small   # seconds, for CI
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/fastgo-ml/fastgo/adversarial"
	"github.com/fastgo-ml/fastgo/adversarial/robustness"
	"github.com/fastgo-ml/fastgo/callbacks"
	"github.com/fastgo-ml/fastgo/data"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/vision"
	"github.com/fastgo-ml/fastgo/vision/models"
)

func main() {
	small := flag.Bool("small", false, "a short epoch, few images and noise samples: runs in seconds")
	sigma := flag.Float64("sigma", 0.25, "the noise's standard deviation, in [0,1] pixels")
	flag.Parse()
	if err := run(*small, *sigma); err != nil {
		log.Fatal(err)
	}
}

func run(small bool, sigma float64) error {
	ctx := context.Background()
	epochs, pct, images, n0, n := 3, 1.0, 100, 100, 1000
	if small {
		epochs, pct, images, n0, n = 1, 0.1, 8, 10, 100
	}
	dls, err := vision.EmbeddedFashionMNIST(vision.BatchSize(128))
	if err != nil {
		return err
	}
	learn, err := vision.CNNLearner(dls, models.SmallCNN, learner.Metrics(learner.Accuracy()), learner.ProgressTo(os.Stdout), vision.InitSeed(1))
	if err != nil {
		return err
	}
	cbs := []learner.Callback{&adversarial.GaussianNoise{Sigma: sigma, Seed: 1}}
	if pct < 1 {
		cbs = append(cbs, &callbacks.ShortEpoch{Pct: pct, FullValid: true})
	}
	if err := learn.FitOneCycle(ctx, epochs, learner.LR(5e-3), learner.Callbacks(cbs...)); err != nil {
		return err
	}

	b, err := data.First(ctx, dls.Valid, images)
	if err != nil {
		return err
	}
	x, y := b.X, b.Y
	smoothed := &robustness.Smoothed{Model: learn.Model, Sigma: sigma, Seed: 1}
	const alpha = 0.001
	certs, err := smoothed.Certify(ctx, x, n0, n, alpha)
	if err != nil {
		return err
	}
	radii := []float64{0, 0.25, 0.5}
	correct := make([]int, len(radii))
	abstained := 0
	for i, c := range certs {
		if c.Class == robustness.Abstain {
			abstained++
			continue
		}
		for k, r := range radii {
			if c.Class == y[i] && c.Radius >= r {
				correct[k]++
			}
		}
		if i < 5 {
			fmt.Printf("image %d (%s): certified %s within L2 %.3f (pA >= %.3f)\n", i, dls.Vocab[y[i]], dls.Vocab[c.Class], c.Radius, c.PA)
		}
	}
	fmt.Printf("\nsigma %g, n %d, alpha %g, %d images, %d abstentions\n", sigma, n, alpha, len(certs), abstained)
	for k, r := range radii {
		fmt.Printf("certified accuracy at L2 radius %-4g  %.3f\n", r, float64(correct[k])/float64(len(certs)))
	}

	// PREDICT: the smoothed classifier's answer, abstaining when unsure.
	pred, err := smoothed.Predict(ctx, x, n, alpha)
	if err != nil {
		return err
	}
	ok := 0
	for i, p := range pred {
		if p == y[i] {
			ok++
		}
	}
	fmt.Printf("smoothed prediction accuracy %.3f\n", float64(ok)/float64(len(pred)))
	return nil
}
