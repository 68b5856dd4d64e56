package learner_test

import (
	"context"
	"fmt"
	"math"

	"github.com/fastgo-ml/fastgo/data"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/tensor"
)

// spiral returns n points of 3 interleaved spiral arms, a classic problem
// that a linear model cannot solve.
func spiral(n int, seed uint64) (*tensor.Tensor, []int) {
	rng := tensor.NewRNG(seed)
	x, y := tensor.Zeros(n, 2), make([]int, n)
	for i := 0; i < n; i++ {
		c := i % 3
		r := rng.Float64()
		a := 4*r + 2*math.Pi*float64(c)/3 + 0.2*rng.NormFloat64()
		x.Data()[2*i], x.Data()[2*i+1] = float32(r*math.Cos(a)), float32(r*math.Sin(a))
		y[i] = c
	}
	return x, y
}

func spiralData() *data.SliceData {
	xt, yt := spiral(1500, 1)
	xv, yv := spiral(600, 2)
	return &data.SliceData{
		Train: &data.SliceLoader{X: xt, Y: yt, BatchSize: 50, Shuffle: true, Seed: 1},
		Valid: &data.SliceLoader{X: xv, Y: yv, BatchSize: 200},
		Vocab: []string{"red", "green", "blue"},
	}
}

// mlp is a small model: Linear(2, 64), ReLU, Linear(64, 64), ReLU,
// Linear(64, 3).
func mlp() layers.Module {
	rng := tensor.NewRNG(7)
	return layers.NewSequential(
		layers.NewLinear(2, 64, rng), &layers.ReLU{},
		layers.NewLinear(64, 64, rng), &layers.ReLU{},
		layers.NewLinear(64, 3, rng))
}

// Train a classifier with the 1cycle policy and read the results table.
func ExampleLearner_FitOneCycle() {
	learn := learner.New(spiralData(), mlp(), learner.Metrics(learner.Accuracy()))
	if err := learn.FitOneCycle(context.Background(), 8, learner.LR(1e-2)); err != nil {
		fmt.Println(err)
		return
	}
	acc, _ := learn.Recorder.Last("accuracy")
	fmt.Println(learn.Recorder.MetricNames)
	fmt.Println("epochs:", len(learn.Recorder.Values), "accuracy above 0.9:", acc > 0.9)
	pred, _ := learn.Predict(tensor.FromSlice([]float32{0.05, 0}, 1, 2))
	fmt.Println("probabilities:", len(pred.Probs))
	// Output:
	// [epoch train_loss valid_loss accuracy time]
	// epochs: 8 accuracy above 0.9: true
	// probabilities: 3
}

// Find a learning rate, then train at it. LRFind leaves the model as it was.
func ExampleLearner_LRFind() {
	ctx := context.Background()
	learn := learner.New(spiralData(), mlp(), learner.Metrics(learner.Accuracy()))
	res, err := learn.LRFind(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("valley between 1e-4 and 1:", res.Valley > 1e-4 && res.Valley < 1)
	if err := learn.FitOneCycle(ctx, 8, learner.LR(res.Valley)); err != nil {
		fmt.Println(err)
		return
	}
	acc, _ := learn.Recorder.Last("accuracy")
	fmt.Println("accuracy above 0.9:", acc > 0.9)
	// Output:
	// valley between 1e-4 and 1: true
	// accuracy above 0.9: true
}

// A callback sees every event and may change the learner's state; here it
// counts the training batches and stops the fit after 10 with CancelFit.
func ExampleCallbackFunc() {
	batches := 0
	stop := learner.CallbackFunc(func(l *learner.Learner, e learner.Event) error {
		if e == learner.AfterBatch && l.Training {
			batches++
			if batches == 10 {
				return learner.CancelFit
			}
		}
		return nil
	})
	learn := learner.New(spiralData(), mlp())
	err := learn.Fit(context.Background(), 5, learner.Callbacks(stop))
	fmt.Println(batches, err)
	// Output:
	// 10 <nil>
}
