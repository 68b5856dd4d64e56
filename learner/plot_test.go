package learner

import (
	"image"
	"path/filepath"
	"testing"

	"github.com/fastgo-ml/fastgo/render"
)

// columnsWith returns the x of the picture's columns holding at least
// minRun pixels of colour c (within a small tolerance).
func columnsWith(img image.Image, c [3]uint32, minRun int) []int {
	var out []int
	b := img.Bounds()
	near := func(a, b uint32) bool { return a+0x1800 > b && b+0x1800 > a }
	for x := b.Min.X; x < b.Max.X; x++ {
		n := 0
		for y := b.Min.Y; y < b.Max.Y; y++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if near(r, c[0]) && near(g, c[1]) && near(bl, c[2]) {
				n++
			}
		}
		if n >= minRun {
			out = append(out, x)
		}
	}
	return out
}

// border reports the non-white pixels within px of the picture's edges.
func border(img image.Image, px int) int {
	b := img.Bounds()
	n := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if x-b.Min.X >= px && b.Max.X-x > px && y-b.Min.Y >= px && b.Max.Y-y > px {
				continue
			}
			if r, g, bl, _ := img.At(x, y).RGBA(); r < 0xf000 || g < 0xf000 || bl < 0xf000 {
				n++
			}
		}
	}
	return n
}

func TestPlotLossMarksBatch(t *testing.T) {
	r := &Recorder{}
	for i := range 60 {
		r.Losses = append(r.Losses, 2/float64(1+i%30))
	}
	r.EpochIters = []int{29, 59}
	r.Values = [][]float64{{1, 0.9}, {0.8, 0.7}}
	dir := t.TempDir()
	plain, marked := filepath.Join(dir, "plain.png"), filepath.Join(dir, "marked.png")
	if err := r.PlotLoss(plain, SkipStart(0)); err != nil {
		t.Fatal(err)
	}
	if err := r.PlotLoss(marked, SkipStart(0), MarkBatch(30, "adversarial training starts")); err != nil {
		t.Fatal(err)
	}
	cr, cg, cb, _ := render.Color(3).RGBA()
	mark := [3]uint32{cr, cg, cb}
	if cols := columnsWith(checkPNG(t, plain, 400, 300), mark, 40); len(cols) != 0 {
		t.Errorf("the plot without a mark has a vertical line of the mark's colour at %v", cols)
	}
	img := checkPNG(t, marked, 400, 300)
	cols := columnsWith(img, mark, 40)
	if len(cols) == 0 || cols[len(cols)-1]-cols[0] > 4 {
		t.Fatalf("want one vertical mark line, have columns %v", cols)
	}
	// Batch 30 of 0..59 sits mid-plot.
	if w := img.Bounds().Dx(); cols[0] < w/3 || cols[0] > 2*w/3 {
		t.Errorf("mark at x=%d of %d, want it near the middle", cols[0], w)
	}
	if n := border(img, 8); n != 0 {
		t.Errorf("%d drawn pixels in the 8-pixel border: something runs off the picture", n)
	}
}

// TestConfusionMatrixLabelsInFrame draws Fashion-MNIST's ten long class
// names: every tick label stays inside the picture.
func TestConfusionMatrixLabelsInFrame(t *testing.T) {
	classes := []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}
	var tg, dc []int
	for i := range 500 {
		a := i % 10
		d := a
		if i%7 == 0 {
			d = (a + 3) % 10
		}
		tg, dc = append(tg, a), append(dc, d)
	}
	ci := &ClassificationInterpretation{Classes: classes, Preds: &Preds{Targets: tg, Decoded: dc}}
	for _, opts := range [][]Option{nil, {Normalized()}} {
		path := filepath.Join(t.TempDir(), "cm.png")
		if err := ci.PlotConfusionMatrix(path, opts...); err != nil {
			t.Fatal(err)
		}
		img := checkPNG(t, path, 400, 400)
		if n := border(img, 8); n != 0 {
			t.Errorf("%d drawn pixels in the 8-pixel border: a label runs off the picture", n)
		}
	}
}
