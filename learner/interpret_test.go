package learner

import (
	"context"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/data"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
)

// pixelLogits is a model whose logits are the first C pixels of each
// image: the test writes the predictions into the inputs.
type pixelLogits struct {
	layers.Base
	c int
}

func (p *pixelLogits) Forward(x *autograd.Value) *autograd.Value {
	flat := autograd.Flatten(x, 1, -1)
	return autograd.Narrow(flat, 1, 0, p.c)
}

// designed returns 1x4x4 images whose first three pixels are the logits
// of 3 classes, predicting pred[i] with confidence strength[i], and their
// targets.
func designed(pred, targets []int, strength []float32) *data.SliceData {
	n := len(pred)
	x := tensor.Zeros(n, 1, 4, 4)
	for i := range pred {
		x.Data()[i*16+pred[i]] = strength[i]
		for k := 3; k < 16; k++ {
			x.Data()[i*16+k] = float32(k) / 16 // something to draw
		}
	}
	return &data.SliceData{
		Train: &data.SliceLoader{X: x, Y: targets, BatchSize: 4},
		Valid: &data.SliceLoader{X: x, Y: targets, BatchSize: 4},
		Vocab: []string{"cat", "dog", "owl"},
	}
}

func TestClassificationInterpretation(t *testing.T) {
	// actual:    cat cat cat dog dog dog owl owl owl owl
	// predicted: cat dog dog dog cat dog owl cat cat dog
	targets := []int{0, 0, 0, 1, 1, 1, 2, 2, 2, 2}
	pred := []int{0, 1, 1, 1, 0, 1, 2, 0, 0, 1}
	strength := []float32{1, 2, 3, 1, 5, 1, 1, 4, 0.5, 6}
	d := designed(pred, targets, strength)
	l := New(d, &pixelLogits{c: 3})
	ci, err := NewClassificationInterpretation(context.Background(), l)
	if err != nil {
		t.Fatal(err)
	}
	wantCM := [][]int{{1, 2, 0}, {1, 2, 0}, {2, 1, 1}}
	if got := ci.ConfusionMatrix(); !reflect.DeepEqual(got, wantCM) {
		t.Fatalf("confusion matrix %v, want %v", got, wantCM)
	}
	// Largest first; ties in row-major order (cat->dog before owl->cat).
	wantMC := []Confusion{{"cat", "dog", 2}, {"owl", "cat", 2}, {"dog", "cat", 1}, {"owl", "dog", 1}}
	if got := ci.MostConfused(1); !reflect.DeepEqual(got, wantMC) {
		t.Fatalf("most confused %v, want %v", got, wantMC)
	}
	if got := ci.MostConfused(2); len(got) != 2 {
		t.Fatalf("most confused with min 2: %v", got)
	}
	// The loss of item i is CE([s at pred, 0, 0], target): log(e^s+2) - 0
	// when wrong. The worst: owl predicted dog with 6 (item 9), then dog
	// predicted cat with 5 (item 4), then owl->cat with 4 (item 7).
	losses, idx := ci.TopLosses(3)
	if !reflect.DeepEqual(idx, []int{9, 4, 7}) {
		t.Fatalf("top losses at %v, want [9 4 7]", idx)
	}
	if want := math.Log(math.Exp(6) + 2); math.Abs(losses[0]-want) > 1e-5 {
		t.Fatalf("top loss %v, want %v", losses[0], want)
	}
	// The smallest: the correct predictions 0, 3, 5, 6 tie at
	// log(e+2)-1; ties keep dataset order.
	if _, small := ci.SmallestLosses(2); !reflect.DeepEqual(small, []int{0, 3}) {
		t.Fatalf("smallest losses at %v, want [0 3]", small)
	}
	_, all := ci.SmallestLosses(0)
	if len(all) != 10 {
		t.Fatalf("TopLosses(0) gave %d items", len(all))
	}
	for k := 1; k < len(all); k++ {
		if ci.Preds.Losses[all[k]] < ci.Preds.Losses[all[k-1]] {
			t.Fatal("TopLosses(largest=false) is not ascending")
		}
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		plot func(string) error
	}{
		{"cm.png", func(p string) error { return ci.PlotConfusionMatrix(p) }},
		{"cm_norm.png", func(p string) error { return ci.PlotConfusionMatrix(p, Normalized()) }},
		{"top.png", func(p string) error { return ci.PlotTopLosses(p, 4) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			if d := os.Getenv("FASTGO_PLOT_DIR"); d != "" {
				path = filepath.Join(d, tc.name)
			}
			if err := tc.plot(path); err != nil {
				t.Fatal(err)
			}
			checkPNG(t, path, 200, 150)
		})
	}
}

// checkPNG decodes a PNG and checks its size and that it is not blank.
func checkPNG(t *testing.T, path string, minW, minH int) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b := img.Bounds()
	if b.Dx() < minW || b.Dy() < minH {
		t.Fatalf("%s is %dx%d, want at least %dx%d", path, b.Dx(), b.Dy(), minW, minH)
	}
	dark := 0
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			if r, g, bl, _ := img.At(x, y).RGBA(); r+g+bl < 3*0x8000 {
				dark++
			}
		}
	}
	if dark < 50 {
		t.Fatalf("%s is (almost) blank: %d dark pixels", path, dark)
	}
	return img
}

func TestRecorderPlots(t *testing.T) {
	l := New(blobData(64, 16, 8), newMLP(1))
	if err := l.FitOneCycle(context.Background(), 2, LR(0.01)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if d := os.Getenv("FASTGO_PLOT_DIR"); d != "" {
		dir = d
	}
	loss, sched := filepath.Join(dir, "loss.png"), filepath.Join(dir, "sched.png")
	if err := l.Recorder.PlotLoss(loss, SkipStart(5)); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, loss, 300, 200)
	if err := l.Recorder.PlotSched(sched); err != nil {
		t.Fatal(err)
	}
	if img := checkPNG(t, sched, 600, 200); img.Bounds().Dx() < 2*img.Bounds().Dy() {
		t.Fatalf("the schedule plot is %v: want lr and mom side by side", img.Bounds())
	}
	if err := l.Recorder.PlotLoss(loss, SkipStart(1000)); err == nil {
		t.Fatal("PlotLoss past the recorded losses succeeded")
	}
	if err := (&Recorder{}).PlotSched(sched); err == nil {
		t.Fatal("PlotSched with nothing recorded succeeded")
	}
}
