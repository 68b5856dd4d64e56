package callbacks_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/fastgo-ml/fastgo/callbacks"
	"github.com/fastgo-ml/fastgo/data"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Train with the usual companions: the results table, early stopping on
// the validation loss, and the best model saved and reloaded at the end.
func Example() {
	rng := tensor.NewRNG(1)
	x, y := tensor.Zeros(600, 2), make([]int, 600)
	for i := range y {
		y[i] = i % 2
		x.Data()[2*i] = float32(2*y[i]-1) + float32(0.7*rng.NormFloat64())
		x.Data()[2*i+1] = float32(0.7 * rng.NormFloat64())
	}
	data := &data.SliceData{
		Train: &data.SliceLoader{X: x.Narrow0(0, 400), Y: y[:400], BatchSize: 32, Shuffle: true, Seed: 1},
		Valid: &data.SliceLoader{X: x.Narrow0(400, 200), Y: y[400:], BatchSize: 100},
		Vocab: []string{"left", "right"},
	}
	model := layers.NewSequential(layers.NewLinear(2, 8, rng), &layers.ReLU{}, layers.NewLinear(8, 2, rng))
	learn := learner.New(data, model, learner.Metrics(learner.Accuracy()))

	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	stop := &callbacks.EarlyStopping{Patience: 3}
	save := &callbacks.SaveModel{Path: filepath.Join(dir, "best.safetensors")}
	var table strings.Builder // os.Stdout in a program
	err := learn.Fit(context.Background(), 50, learner.LR(1e-2),
		learner.Callbacks(save, stop), learner.ProgressTo(&table))
	fmt.Println("error:", err)
	fmt.Println(strings.Split(table.String(), "\n")[0])
	fmt.Println("stopped early:", stop.StoppedEpoch > 0 && stop.StoppedEpoch < 49)
	fmt.Println("best model reloaded:", save.BestEpoch >= 0 && save.BestEpoch < stop.StoppedEpoch)
	// Output:
	// error: <nil>
	// epoch     train_loss  valid_loss  accuracy  time
	// stopped early: true
	// best model reloaded: true
}
