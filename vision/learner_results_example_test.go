package vision_test

import (
	"context"
	"fmt"
	"image/png"
	"log"
	"os"
	"path/filepath"

	"github.com/fastgo-ml/fastgo/callbacks"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/vision"
	"github.com/fastgo-ml/fastgo/vision/models"
)

// Train briefly, then draw nine validation images with their targets above
// the model's predictions, green when right and red when wrong (fastai's
// learn.show_results()).
func ExampleShowResults() {
	ctx := context.Background()
	dls, err := vision.EmbeddedFashionMNIST(vision.BatchSize(64))
	if err != nil {
		log.Fatal(err)
	}
	learn, err := vision.CNNLearner(dls, models.SmallCNN, learner.NoProgress())
	if err != nil {
		log.Fatal(err)
	}
	err = learn.FitOneCycle(ctx, 1, learner.LR(5e-3), learner.Callbacks(&callbacks.ShortEpoch{Pct: 0.05}))
	if err != nil {
		log.Fatal(err)
	}
	dir, _ := os.MkdirTemp("", "results")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "results.png")
	if err := vision.ShowResults(ctx, learn, path, vision.MaxN(9)); err != nil {
		log.Fatal(err)
	}
	f, _ := os.Open(path)
	defer f.Close()
	cfg, _ := png.DecodeConfig(f)
	fmt.Println(cfg.Width, cfg.Height)
	// Output:
	// 276 374
}
