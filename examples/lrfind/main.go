// Command lrfind runs fastai's learning-rate finder on a SmallCNN over the
// embedded Fashion-MNIST images, prints its four suggestions, plots the
// curve, and trains one cycle at the suggested rate:
//
//	learn.lr_find()             # fastai
//	learn.fit_one_cycle(1, lr)
//
//	go run ./examples/lrfind          # about half a minute
//	go run ./examples/lrfind -small   # seconds, for CI
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/fastgo-ml/fastgo/callbacks"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/vision"
	"github.com/fastgo-ml/fastgo/vision/models"
)

func main() {
	small := flag.Bool("small", false, "fewer finder batches and a short epoch: runs in seconds")
	plot := flag.String("plot", filepath.Join("fastgo-out", "lr_find.png"), "where to write the loss-against-learning-rate plot")
	flag.Parse()
	if err := run(*small, *plot); err != nil {
		log.Fatal(err)
	}
}

func run(small bool, plot string) error {
	ctx := context.Background()
	dls, err := vision.EmbeddedFashionMNIST(vision.BatchSize(128))
	if err != nil {
		return err
	}
	learn, err := vision.CNNLearner(dls, models.SmallCNN, learner.Metrics(learner.Accuracy()), learner.ProgressTo(os.Stdout), vision.InitSeed(1))
	if err != nil {
		return err
	}

	var opts []learner.Option // fastai's: 1e-7 to 10 over 100 batches
	if small {
		opts = append(opts, learner.NumIt(30))
	}
	res, err := learn.LRFind(ctx, opts...)
	if err != nil {
		return err
	}
	fmt.Printf("valley %.2e  slide %.2e  minimum %.2e  steep %.2e\n", res.Valley, res.Slide, res.Minimum, res.Steep)
	if err := os.MkdirAll(filepath.Dir(plot), 0o755); err != nil {
		return err
	}
	if err := res.Plot(plot); err != nil {
		return err
	}
	fmt.Println("plot:", plot)

	// LRFind left the model and the optimizer as they were: train at the
	// valley, fastai's default suggestion.
	var cbs []learner.Callback
	if small {
		cbs = append(cbs, &callbacks.ShortEpoch{Pct: 0.1, FullValid: true})
	}
	return learn.FitOneCycle(ctx, 1, learner.LR(res.Valley), learner.Callbacks(cbs...))
}
