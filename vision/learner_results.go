package vision

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"slices"
	"strconv"

	"github.com/fastgo-ml/fastgo/data"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/render"
	"github.com/fastgo-ml/fastgo/tensor"
)

// ShowOption configures ShowResults.
type ShowOption func(*showConfig)

type showConfig struct {
	maxN    int
	loader  data.Loader
	inOrder bool
}

// MaxN sets the number of images ShowResults draws (default 9, fastai's
// max_n).
func MaxN(n int) ShowOption { return func(c *showConfig) { c.maxN = n } }

// ResultsFrom makes ShowResults draw items of dl instead of the learner's
// validation loader (fastai's dl=).
func ResultsFrom(dl data.Loader) ShowOption { return func(c *showConfig) { c.loader = dl } }

// InOrder makes ShowResults draw the loader's first items instead of a
// random choice (fastai's shuffle=False).
func InOrder() ShowOption { return func(c *showConfig) { c.inOrder = true } }

// The colours of a right and a wrong prediction (matplotlib's "green" and
// a red that reads on white).
var (
	rightColor = color.RGBA{0, 128, 0, 255}
	wrongColor = color.RGBA{210, 0, 0, 255}
)

// ShowResults writes a PNG grid of validation images with the model's
// predictions (fastai's learn.show_results): each image is captioned with
// its target above the prediction, both green when they agree and red when
// not. The images are MaxN items (9 by default) of the validation loader
// (or ResultsFrom's), chosen at random with a seed drawn from the loader's
// own, so that the same loader shows the same items; InOrder takes the
// first ones, as does a loader that is not a *DataLoader. The model runs in
// eval mode on the items as the loader transforms them. The file is
// written under a temporary name and renamed into place.
func ShowResults(ctx context.Context, learn *learner.Learner, path string, opts ...ShowOption) error {
	c := showConfig{maxN: 9}
	for _, o := range opts {
		o(&c)
	}
	if c.maxN < 1 {
		return fmt.Errorf("vision.ShowResults: MaxN(%d): want at least 1 image", c.maxN)
	}
	dl := c.loader
	if dl == nil {
		dl = learn.Data.ValidLoader()
	}
	some, err := resultsLoader(ctx, dl, &c)
	if err != nil {
		return fmt.Errorf("vision.ShowResults: %w", err)
	}
	p, err := learn.GetPreds(ctx, learner.OnLoader(some), learner.WithInput())
	if err != nil {
		return fmt.Errorf("vision.ShowResults: %w", err)
	}
	img, err := ResultsImage(p.Inputs, p.Targets, p.Decoded, learn.Data.Classes())
	if err != nil {
		return err
	}
	if err := render.WritePNG(path, img); err != nil {
		return fmt.Errorf("vision.ShowResults: %w", err)
	}
	return nil
}

// resultsLoader returns a loader over the items ShowResults draws.
func resultsLoader(ctx context.Context, dl data.Loader, c *showConfig) (data.Loader, error) {
	vdl, ok := dl.(*DataLoader)
	if !ok {
		b, err := data.First(ctx, dl, c.maxN)
		if err != nil {
			return nil, err
		}
		return &data.SliceLoader{X: b.X, Y: b.Y, BatchSize: len(b.Y)}, nil
	}
	n := min(c.maxN, vdl.ds.Len())
	if n == 0 {
		return nil, fmt.Errorf("the loader has no item")
	}
	var idx []int
	if c.inOrder {
		for i := range n {
			idx = append(idx, i)
		}
	} else {
		idx = tensor.NewRNG(mix(vdl.seed, 0x5e1ec7ed)).Perm(vdl.ds.Len())[:n]
	}
	return &DataLoader{
		ds: Subset(vdl.ds, idx), bs: n, split: vdl.split,
		itemTfms: vdl.itemTfms, batchTfms: vdl.batchTfms,
		workers: vdl.workers, prefetch: vdl.prefetch, seed: vdl.seed,
		skipBad: vdl.skipBad, logger: vdl.logger,
	}, nil
}

// ResultsImage draws ShowResults' picture: the images x [N,C,H,W] in a
// square grid under the title "target / prediction", each captioned with
// its target's and its prediction's class names (from vocab, or their
// numbers), both green when they agree and red when not.
func ResultsImage(x *tensor.Tensor, targets, preds []int, vocab []string) (image.Image, error) {
	if x == nil || x.Rank() != 4 || x.Dim(0) != len(targets) || len(targets) != len(preds) || len(targets) == 0 {
		var s []int
		if x != nil {
			s = x.Shape()
		}
		return nil, fmt.Errorf("vision.ResultsImage: images %v, %d targets and %d predictions: want [N,C,H,W] with N > 0 of each", s, len(targets), len(preds))
	}
	name := func(y int) string {
		if y >= 0 && y < len(vocab) {
			return vocab[y]
		}
		return strconv.Itoa(y)
	}
	cells := make([]render.Cell, len(targets))
	for i, img := range render.Items(x) {
		col := rightColor
		if targets[i] != preds[i] {
			col = wrongColor
		}
		cells[i] = render.Cell{
			Image:         img,
			Caption:       []string{name(targets[i]), name(preds[i])},
			CaptionColors: slices.Repeat([]color.Color{col}, 2),
		}
	}
	return render.Grid(render.Square(cells), render.Title("target / prediction"), render.MinSide(64), render.MaxCaption(14))
}
