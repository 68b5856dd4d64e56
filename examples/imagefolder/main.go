// Command imagefolder trains an image classifier from a folder of images,
// the fastai way: ImageDataLoaders.from_folder, vision_learner, fine_tune
// (from torchvision's ImageNet weights, found on this machine or downloaded
// once, the default) or fit_one_cycle (from scratch, -pretrained none, and
// with -small), ClassificationInterpretation and export/load_learner.
//
//	go run ./examples/imagefolder -data ./my-images   # one sub-folder per class
//	go run ./examples/imagefolder                     # makes a tiny folder itself
//	go run ./examples/imagefolder -small              # seconds, for CI
//
// Without -data it writes a small folder of three classes of synthetic
// pictures (discs, squares and crosses on noise) and trains on that.
package main

import (
	"context"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/fastgo-ml/fastgo/callbacks"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/vision"
	"github.com/fastgo-ml/fastgo/vision/models"
)

func main() {
	data := flag.String("data", "", "an image folder: train/ and valid/, or one sub-folder per class (default: make a tiny one)")
	out := flag.String("out", filepath.Join("fastgo-out", "imagefolder"), "folder for the batch picture, the confusion matrix and the exported learner")
	size := flag.Int("size", 64, "images are resized to size x size")
	epochs := flag.Int("epochs", 8, "epochs (of fine_tune after its frozen one, unless -pretrained none)")
	pretrained := flag.String("pretrained", "auto", "the body's weights: auto (torchvision's ImageNet resnet18, found or downloaded), none (from scratch), or a weights file (.pth or .safetensors)")
	small := flag.Bool("small", false, "a few images and batches only: runs in seconds")
	flag.Parse()
	if err := run(*data, *out, *pretrained, *size, *epochs, *small); err != nil {
		log.Fatal(err)
	}
}

func run(data, out, pretrained string, size, epochs int, small bool) error {
	ctx := context.Background()
	if small && pretrained == "auto" {
		pretrained = "none" // seconds, and nothing to download
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if data == "" {
		n := 100
		if small {
			n = 12
		}
		data = filepath.Join(out, "shapes")
		if err := makeShapes(data, n); err != nil {
			return err
		}
		fmt.Printf("made %s: 3 classes of %d synthetic pictures\n", data, n)
	}

	// dls = ImageDataLoaders.from_folder(path, valid_pct=0.2, item_tfms=Resize(size), batch_tfms=aug_transforms())
	dls, err := vision.ImageFolder(data, vision.ValidPct(0.2), vision.Size(size, size),
		vision.BatchTfms(vision.AugTransforms()), vision.BatchSize(16))
	if err != nil {
		return err
	}
	fmt.Printf("classes %v: %d training and %d validation images\n", dls.Vocab, dls.Train.Dataset().Len(), dls.Valid.Dataset().Len())
	if err := dls.ShowBatch(filepath.Join(out, "batch.png"), 9); err != nil {
		return err
	}

	// learn = vision_learner(dls, resnet18, metrics=accuracy)
	opts := []learner.Option{learner.Metrics(learner.Accuracy()), learner.ProgressTo(os.Stdout)}
	switch pretrained {
	case "auto": // torchvision's weights, as fastai's pretrained=True
	case "none":
		opts = append(opts, vision.FromScratch())
	default:
		opts = append(opts, vision.Weights(pretrained))
	}
	learn, err := vision.CNNLearnerContext(ctx, dls, models.ResNet18, opts...)
	if err != nil {
		return err
	}
	var cbs []learner.Callback
	if small {
		epochs = 1
		cbs = append(cbs, &callbacks.ShortEpoch{Pct: 0.5})
	}
	if pretrained != "none" {
		// learn.fine_tune(epochs): the frozen head first, then everything.
		err = learn.FineTune(ctx, epochs, learner.Callbacks(cbs...))
	} else {
		// From scratch there is nothing to keep frozen: fit_one_cycle.
		err = learn.FitOneCycle(ctx, epochs, learner.LR(3e-3), learner.Callbacks(cbs...))
	}
	if err != nil {
		return err
	}

	// interp = ClassificationInterpretation.from_learner(learn)
	interp, err := learner.NewClassificationInterpretation(ctx, learn)
	if err != nil {
		return err
	}
	for _, c := range interp.MostConfused(1) {
		fmt.Printf("confused %s for %s %d times\n", c.Actual, c.Predicted, c.Count)
	}
	if err := interp.PlotConfusionMatrix(filepath.Join(out, "confusion.png")); err != nil {
		return err
	}

	// learn.export(); load_learner(...).predict(file)
	exported := filepath.Join(out, "export.safetensors")
	if err := learn.Export(exported); err != nil {
		return err
	}
	inf, err := vision.LoadLearner(exported)
	if err != nil {
		return err
	}
	file := dls.Valid.Dataset().(*vision.FileDataset).Paths[0]
	pred, err := inf.PredictFile(file)
	if err != nil {
		return err
	}
	fmt.Printf("%s: %s (p=%.2f)\n", file, pred.Class, pred.Probs[pred.Index])
	fmt.Printf("wrote %s, %s and %s\n", filepath.Join(out, "batch.png"), filepath.Join(out, "confusion.png"), exported)
	return nil
}

// makeShapes writes n 48x48 RGB pictures of each of three classes (disc,
// square, cross) into dir/<class>/, each shape of a random colour, size and
// place on a noisy background.
func makeShapes(dir string, n int) error {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, class := range []string{"disc", "square", "cross"} {
		if err := os.MkdirAll(filepath.Join(dir, class), 0o755); err != nil {
			return err
		}
		for i := range n {
			img := image.NewNRGBA(image.Rect(0, 0, 48, 48))
			fg := color.NRGBA{uint8(80 + rng.IntN(176)), uint8(80 + rng.IntN(176)), uint8(80 + rng.IntN(176)), 255}
			cx, cy := 14+rng.Float64()*20, 14+rng.Float64()*20
			r := 9 + rng.Float64()*5
			for y := range 48 {
				for x := range 48 {
					dx, dy := float64(x)-cx, float64(y)-cy
					var in bool
					switch class {
					case "disc":
						in = dx*dx+dy*dy < r*r
					case "square":
						in = math.Abs(dx) < r && math.Abs(dy) < r
					case "cross":
						in = (math.Abs(dx) < r/3 && math.Abs(dy) < r) || (math.Abs(dy) < r/3 && math.Abs(dx) < r)
					}
					c := color.NRGBA{uint8(rng.IntN(60)), uint8(rng.IntN(60)), uint8(rng.IntN(60)), 255}
					if in {
						c = fg
					}
					img.SetNRGBA(x, y, c)
				}
			}
			f, err := os.Create(filepath.Join(dir, class, fmt.Sprintf("%s_%03d.png", class, i)))
			if err != nil {
				return err
			}
			if err := png.Encode(f, img); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
		}
	}
	return nil
}
