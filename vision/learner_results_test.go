package vision

import (
	"context"
	"image"
	"image/color"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo/data"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/tensor"
)

// brightnessLearner returns a learner over 1x8x8 images that are all
// white or all black, whose model calls white "bright" (class 0) and black
// "dark" (class 1). The validation items are white, white, black, black,
// white, black, labelled so that items 1 and 3 are wrong.
func brightnessLearner(t *testing.T) *learner.Learner {
	t.Helper()
	images := func(levels ...float32) *tensor.Tensor {
		x := tensor.New[float32](len(levels), 1, 8, 8)
		for i, v := range levels {
			for k := range 64 {
				x.Data()[i*64+k] = v
			}
		}
		return x
	}
	train, err := NewTensorDataset(images(1, 0, 1, 0), []int{0, 1, 0, 1})
	if err != nil {
		t.Fatal(err)
	}
	valid, err := NewTensorDataset(images(1, 1, 0, 0, 1, 0), []int{0, 1, 1, 0, 0, 1})
	if err != nil {
		t.Fatal(err)
	}
	dls, err := newDataLoaders(train, valid, []string{"bright", "dark"}, []Option{BatchSize(2), Seed(4)})
	if err != nil {
		t.Fatal(err)
	}
	fc := layers.NewLinear(1, 2, tensor.NewRNG(1))
	copy(fc.Weight.Data().Data(), []float32{1, -1})
	copy(fc.Bias.Data().Data(), []float32{-0.5, 0.5})
	model := layers.NewSequential(&layers.AdaptiveAvgPool2d{H: 1, W: 1}, layers.NewFlatten(), fc)
	return learner.New(dls, model, learner.NoProgress())
}

// quadrantColours counts, in each quarter of the picture below its title,
// the pixels of the right and the wrong colour.
func quadrantColours(t *testing.T, path string) (right, wrong [4]int) {
	t.Helper()
	img, err := LoadImage(path, 3)
	if err != nil {
		t.Fatal(err)
	}
	h, w := img.Dim(1), img.Dim(2)
	is := func(y, x int, c color.RGBA) bool {
		return img.At(0, y, x) == float32(c.R)/255 && img.At(1, y, x) == float32(c.G)/255 && img.At(2, y, x) == float32(c.B)/255
	}
	const top = 20 // the title
	for y := top; y < h; y++ {
		for x := range w {
			q := 2*((y-top)*2/(h-top)) + x*2/w
			if is(y, x, rightColor) {
				right[q]++
			} else if is(y, x, wrongColor) {
				wrong[q]++
			}
		}
	}
	return right, wrong
}

// TestShowResults: the first four validation items in a 2x2 grid, the
// captions of the two mislabelled ones red, the others green.
func TestShowResults(t *testing.T) {
	learn := brightnessLearner(t)
	path := filepath.Join(t.TempDir(), "results.png")
	if err := ShowResults(context.Background(), learn, path, MaxN(4), InOrder()); err != nil {
		t.Fatal(err)
	}
	right, wrong := quadrantColours(t, path)
	for q, bad := range []bool{false, true, false, true} {
		if bad && (wrong[q] < 20 || right[q] != 0) || !bad && (right[q] < 20 || wrong[q] != 0) {
			t.Errorf("cell %d: %d right and %d wrong pixels; mislabelled: %v", q, right[q], wrong[q], bad)
		}
	}
	if !learn.Model.Core().Training() {
		t.Error("ShowResults left the model in eval mode")
	}

	// The same loader shows the same random choice; errors name the cause.
	a, b := filepath.Join(t.TempDir(), "a.png"), filepath.Join(t.TempDir(), "b.png")
	for _, p := range []string{a, b} {
		if err := ShowResults(context.Background(), learn, p, MaxN(3)); err != nil {
			t.Fatal(err)
		}
	}
	if x, y := mustRead(t, a), mustRead(t, b); !slices.Equal(x, y) {
		t.Error("two calls drew different pictures")
	}
	if err := ShowResults(context.Background(), learn, path, MaxN(0)); err == nil || !strings.Contains(err.Error(), "MaxN(0)") {
		t.Errorf("MaxN(0): %v", err)
	}
	bad := filepath.Join(t.TempDir(), "no", "such", "dir", "x.png")
	if err := ShowResults(context.Background(), learn, bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("an unwritable path: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ShowResults(ctx, learn, path); err == nil {
		t.Error("a cancelled context: no error")
	}
}

// TestResultsChoice: without InOrder the items are a seeded random choice
// of the loader's, other loaders give their first items.
func TestResultsChoice(t *testing.T) {
	learn := brightnessLearner(t)
	dl := learn.Data.ValidLoader().(*DataLoader)
	pick := func(l data.Loader, c showConfig) []int {
		sub, err := resultsLoader(context.Background(), l, &c)
		if err != nil {
			t.Fatal(err)
		}
		b, err := data.First(context.Background(), sub, 10)
		if err != nil {
			t.Fatal(err)
		}
		return b.Y
	}
	if got := pick(dl, showConfig{maxN: 4, inOrder: true}); !slices.Equal(got, []int{0, 1, 1, 0}) {
		t.Errorf("in order: labels %v", got)
	}
	sub, _ := resultsLoader(context.Background(), dl, &showConfig{maxN: 4})
	idx := sub.(*DataLoader).ds.(*rowSubset).idx
	sorted := slices.Sorted(slices.Values(idx))
	if len(slices.Compact(sorted)) != 4 || sorted[3] > 5 || slices.Equal(idx, []int{0, 1, 2, 3}) {
		t.Errorf("random choice %v", idx)
	}
	again, _ := resultsLoader(context.Background(), dl, &showConfig{maxN: 4})
	if !slices.Equal(again.(*DataLoader).ds.(*rowSubset).idx, idx) {
		t.Error("the choice changed")
	}
	if got := pick(dl, showConfig{maxN: 50}); len(got) != 6 {
		t.Errorf("MaxN beyond the items: %d", len(got))
	}
	x := tensor.Zeros(5, 1, 4, 4)
	other := &data.SliceLoader{X: x, Y: []int{1, 0, 1, 0, 1}, BatchSize: 2}
	if got := pick(other, showConfig{maxN: 3}); !slices.Equal(got, []int{1, 0, 1}) {
		t.Errorf("another loader: %v", got)
	}
}

func TestResultsImageErrors(t *testing.T) {
	x := tensor.Zeros(2, 1, 4, 4)
	for _, c := range []struct {
		x             *tensor.Tensor
		targets, pred []int
	}{{nil, nil, nil}, {x, []int{0}, []int{0}}, {x, []int{0, 1}, []int{0}}, {tensor.Zeros(0, 1, 4, 4), nil, nil}, {tensor.Zeros(2, 4, 4), []int{0, 1}, []int{0, 1}}} {
		if _, err := ResultsImage(c.x, c.targets, c.pred, nil); err == nil {
			t.Errorf("%v %v %v: no error", c.x, c.targets, c.pred)
		}
	}
	img, err := ResultsImage(x, []int{0, 7}, []int{0, 1}, []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := img.(*image.RGBA); !ok {
		t.Errorf("image %T", img)
	}
}
