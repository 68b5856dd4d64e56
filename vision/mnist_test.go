package vision

import (
	"context"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo/data"
)

const debianFMNIST = "/usr/share/datasets/fashion-mnist"

func TestEmbeddedFashionMNIST(t *testing.T) {
	dls, err := EmbeddedFashionMNIST(BatchSize(100))
	if err != nil {
		t.Fatal(err)
	}
	if dls.Train.Dataset().Len() != 8000 || dls.Valid.Dataset().Len() != 2000 || dls.C() != 10 {
		t.Fatalf("split %d/%d, C %d", dls.Train.Dataset().Len(), dls.Valid.Dataset().Len(), dls.C())
	}
	counts := make([]int, 10)
	for _, dl := range []*DataLoader{dls.Train, dls.Valid} {
		for i := 0; i < dl.Dataset().Len(); i++ {
			counts[dl.Dataset().Label(i)]++
		}
	}
	for c, n := range counts {
		if n != 1000 { // the test split is balanced
			t.Errorf("class %d has %d images", c, n)
		}
	}
	b, err := dls.OneBatch()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(b.X.Shape(), []int{100, 1, 28, 28}) {
		t.Errorf("shape %v", b.X.Shape())
	}
	inUnit(t, "embedded batch", b.X.Data())
	// The split is fixed: pinned here, so that a change to it (which would
	// move everyone's validation figures) cannot go unnoticed, and it does
	// not move with the Seed option.
	va := dls.Valid.Dataset().(*rowSubset).idx
	sum := 0
	for _, i := range va {
		sum += i
	}
	if !slices.Equal(va[:6], []int{2, 7, 10, 16, 21, 24}) || sum != 10087482 {
		t.Errorf("validation indices %v... (sum %d), want [2 7 10 16 21 24]... (sum 10087482)", va[:6], sum)
	}
	other, _ := EmbeddedFashionMNIST(Seed(99))
	if !slices.Equal(other.Valid.Dataset().(*rowSubset).idx, va) {
		t.Error("the split moved with the seed")
	}
	if slices.Equal(allBatches(t, other.Train, 0)[0].Index, allBatches(t, dls.Train, 0)[0].Index) {
		t.Error("the seed does not move the shuffle")
	}
	if !strings.Contains(EmbeddedLicense, "Zalando") || !strings.Contains(EmbeddedLicense, "MIT") {
		t.Error("licence notice missing")
	}
}

func TestFashionMNISTFull(t *testing.T) {
	if _, err := os.Stat(filepath.Join(debianFMNIST, "train-images-idx3-ubyte.gz")); err != nil {
		t.Skip("full Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
	}
	if testing.Short() {
		t.Skip("-short")
	}
	dls, err := FashionMNIST(DataDir(debianFMNIST), BatchSize(256))
	if err != nil {
		t.Fatal(err)
	}
	if dls.Train.Dataset().Len() != 60000 || dls.Valid.Dataset().Len() != 10000 {
		t.Fatalf("%d/%d", dls.Train.Dataset().Len(), dls.Valid.Dataset().Len())
	}
	// The embedded images are the test split.
	emb, _ := Embedded()
	full := dls.Valid.Dataset().(*TensorDataset)
	if !slices.Equal(emb.X.Data(), full.X.Data()) || !slices.Equal(emb.Y, full.Y) {
		t.Error("the embedded images differ from the installed test split")
	}
}

func TestMNISTDataDir(t *testing.T) {
	dir := t.TempDir()
	fakeMNIST(t, dir, 40, 10, true)
	dls, err := MNIST(DataDir(dir), BatchSize(8))
	if err != nil {
		t.Fatal(err)
	}
	if dls.Train.Len() != 5 || dls.Valid.Len() != 2 || dls.Vocab[3] != "3" {
		t.Errorf("batches %d/%d vocab %v", dls.Train.Len(), dls.Valid.Len(), dls.Vocab)
	}
	isolate(t)
	if _, err := MNIST(DataDir(t.TempDir())); err == nil || !strings.Contains(err.Error(), "train-images-idx3-ubyte.gz") {
		t.Errorf("missing MNIST: %v", err)
	}
}

func TestShowBatch(t *testing.T) {
	dls, err := EmbeddedFashionMNIST(BatchSize(16), BatchTfms(AugTransforms()))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "batch.png")
	if err := dls.ShowBatch(p, 9); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	// render's layout: 3x3 cells of 84+6 by 84+14+6 pixels (the image
	// enlarged 3 times, one caption line, padding) plus a 6-pixel margin.
	if b := img.Bounds(); b.Dx() != 3*90+6 || b.Dy() != 3*104+6 {
		t.Errorf("grid is %v", b)
	}
	// Each cell shows its image, enlarged 3 times, over its caption.
	b, err := dls.OneBatch()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 9; i++ {
		x0, y0 := 6+(i%3)*90, 6+(i/3)*104
		for _, p := range [][2]int{{0, 0}, {40, 50}, {83, 83}} {
			want := uint8(math.Round(255 * min(1, max(0, float64(b.X.At(i, 0, p[1]/3, p[0]/3))))))
			if r, _, _, _ := img.At(x0+p[0], y0+p[1]).RGBA(); uint8(r>>8) != want {
				t.Errorf("cell %d pixel %v: %d, want %d", i, p, r>>8, want)
			}
		}
		dark := 0
		for y := y0 + 84; y < y0+84+14; y++ {
			for x := x0; x < x0+84; x++ {
				if r, _, _, _ := img.At(x, y).RGBA(); r < 0x8000 {
					dark++
				}
			}
		}
		if dark < 10 {
			t.Errorf("cell %d has no caption (%d dark pixels)", i, dark)
		}
	}
	// A failed write leaves no file behind.
	if err := ShowBatch(filepath.Join(t.TempDir(), "no", "such", "dir.png"), b, dls.Vocab, 4); err == nil {
		t.Error("ShowBatch into a missing directory: no error")
	}
	left, _ := filepath.Glob(p + ".tmp-*")
	if len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
	vb, _ := dls.Valid.OneBatch(context.Background())
	if _, err := GridImage(data.Batch{X: vb.X.Reshape(-1, 28, 28), Y: vb.Y}, nil, 4); err == nil {
		t.Error("3-d batch: no error")
	}
}
