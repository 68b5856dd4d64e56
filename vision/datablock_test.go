package vision_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/fastgo-ml/fastgo/data"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/vision"
)

// writeRGB writes a w x h PNG of random colours drawn from rng.
func writeRGB(t testing.TB, path string, w, h int, rng *tensor.RNG) {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.IntN(256))
		if i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// sameLoaders checks that got serves what want serves: the same items in
// the same order with the same labels, vocabulary and settings, and the
// same batches, bit for bit, for the first epochs of the training, the
// validation and the augmented validation loaders.
func sameLoaders(t *testing.T, want, got *vision.DataLoaders, epochs int) {
	t.Helper()
	if !slices.Equal(want.Vocab, got.Vocab) {
		t.Fatalf("vocab %q, want %q", got.Vocab, want.Vocab)
	}
	for _, p := range []struct {
		name      string
		want, got *vision.DataLoader
	}{{"train", want.Train, got.Train}, {"valid", want.Valid, got.Valid}} {
		w, g := p.want.Dataset().(*vision.FileDataset), p.got.Dataset().(*vision.FileDataset)
		if !slices.Equal(w.Paths, g.Paths) || !slices.Equal(w.Labels, g.Labels) || w.Channels != g.Channels {
			t.Fatalf("%s items:\n got %q %v %d\nwant %q %v %d", p.name, g.Paths, g.Labels, g.Channels, w.Paths, w.Labels, w.Channels)
		}
		if p.want.Len() != p.got.Len() || p.want.BatchSize() != p.got.BatchSize() {
			t.Fatalf("%s: %d batches of %d, want %d of %d", p.name, p.got.Len(), p.got.BatchSize(), p.want.Len(), p.want.BatchSize())
		}
		for e := range epochs {
			sameEpoch(t, fmt.Sprintf("%s epoch %d", p.name, e), p.want, p.got, e)
		}
	}
	sameEpoch(t, "augmented valid", want.AugmentedValid(), got.AugmentedValid(), 1)
	ws, err := want.TransformSpec()
	if err != nil {
		t.Fatal(err)
	}
	gs, err := got.TransformSpec()
	if err != nil || !bytes.Equal(ws, gs) {
		t.Fatalf("transform spec %s (%v), want %s", gs, err, ws)
	}
}

// sameEpoch checks that two loaders serve the same batches in an epoch.
func sameEpoch(t *testing.T, what string, want, got data.Loader, e int) {
	t.Helper()
	collect := func(l data.Loader) []data.Batch {
		var out []data.Batch
		for b, err := range l.Epoch(context.Background(), e) {
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			out = append(out, b)
		}
		return out
	}
	wb, gb := collect(want), collect(got)
	if len(wb) != len(gb) || len(wb) == 0 {
		t.Fatalf("%s: %d batches, want %d (> 0)", what, len(gb), len(wb))
	}
	for i := range wb {
		w, g := wb[i], gb[i]
		if !slices.Equal(w.X.Shape(), g.X.Shape()) || !slices.Equal(w.Y, g.Y) || !slices.Equal(w.Index, g.Index) {
			t.Fatalf("%s batch %d: x %v y %v index %v, want %v %v %v", what, i, g.X.Shape(), g.Y, g.Index, w.X.Shape(), w.Y, w.Index)
		}
		for k, v := range w.X.Data() {
			if math.Float32bits(v) != math.Float32bits(g.X.Data()[k]) {
				t.Fatalf("%s batch %d: pixel %d is %g, want %g", what, i, k, g.X.Data()[k], v)
			}
		}
	}
}

// TestDataBlockEqualsImageFolder: fastai's from_folder written as a
// DataBlock builds the loaders ImageFolder builds, bit for bit, with
// random item and batch transforms.
func TestDataBlockEqualsImageFolder(t *testing.T) {
	dir := t.TempDir()
	rng := tensor.NewRNG(1)
	for _, split := range []string{"train", "valid"} {
		for c, class := range []string{"cat", "dog", "emu"} {
			for i := range 3 + c {
				writeRGB(t, filepath.Join(dir, split, class, fmt.Sprintf("%d.png", i)), 20+i, 16+c, rng)
			}
		}
	}
	shorthand, err := vision.ImageFolder(dir, vision.BatchSize(4), vision.Seed(3),
		vision.ItemTfms(vision.RandomResizedCrop(12, 12, 0.35)), vision.BatchTfms(vision.AugTransforms()))
	if err != nil {
		t.Fatal(err)
	}
	block := vision.DataBlock{
		GetItems:  vision.GetImageFiles("train", "valid"),
		Splitter:  vision.GrandparentSplitter("train", "valid"),
		GetY:      vision.ParentLabel,
		ItemTfms:  []vision.ItemTransform{vision.RandomResizedCrop(12, 12, 0.35)},
		BatchTfms: []vision.BatchTransform{vision.AugTransforms()},
	}
	dls, err := block.DataLoaders(dir, vision.BatchSize(4), vision.Seed(3))
	if err != nil {
		t.Fatal(err)
	}
	if dls.Train.Dataset().Len() != 12 || dls.Valid.Dataset().Len() != 12 {
		t.Fatalf("%d and %d items", dls.Train.Dataset().Len(), dls.Valid.Dataset().Len())
	}
	sameLoaders(t, shorthand, dls, 3)

	// One tree of class folders, split at random, decoded grey.
	flat := filepath.Join(dir, "train")
	shorthand, err = vision.ImageFolder(flat, vision.ValidPct(0.25), vision.Seed(7), vision.Channels(1),
		vision.Size(12, 12), vision.BatchTfms(vision.AugTransforms()), vision.BatchSize(3))
	if err != nil {
		t.Fatal(err)
	}
	dls, err = vision.DataBlock{
		Image:     vision.ImageBlock{Channels: 1},
		GetItems:  vision.GetImageFiles(),
		Splitter:  vision.RandomSplitter(0.25, 7),
		GetY:      vision.ParentLabel,
		ItemTfms:  []vision.ItemTransform{vision.Resize(12, 12, vision.Crop)},
		BatchTfms: []vision.BatchTransform{vision.AugTransforms()},
	}.DataLoaders(flat, vision.Seed(7), vision.BatchSize(3))
	if err != nil {
		t.Fatal(err)
	}
	if dls.Valid.Dataset().Len() != 3 {
		t.Fatalf("%d validation items, want int(0.25*12)", dls.Valid.Dataset().Len())
	}
	sameLoaders(t, shorthand, dls, 3)
}

// TestDataBlockEqualsFromCSV: fastai's from_csv written as a DataBlock
// (columns by name, a folder and a suffix, the valid column) builds the
// loaders FromCSV builds.
func TestDataBlockEqualsFromCSV(t *testing.T) {
	dir := t.TempDir()
	rng := tensor.NewRNG(2)
	csv := "name,label,is_valid\n"
	for i := range 14 {
		writeRGB(t, filepath.Join(dir, "img", fmt.Sprintf("%02d.png", i)), 14+i%3, 15, rng)
		csv += fmt.Sprintf("%02d,%s,%v\n", i, []string{"b", "a", "c"}[i%3], i%4 == 0)
	}
	csvPath := filepath.Join(dir, "labels.csv")
	if err := os.WriteFile(csvPath, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	shorthand, err := vision.FromCSV(csvPath, vision.Folder("img"), vision.CSVSuffix(".png"), vision.ValidCol("is_valid"),
		vision.Size(12, 12), vision.BatchTfms(vision.AugTransforms()), vision.BatchSize(4), vision.Seed(5))
	if err != nil {
		t.Fatal(err)
	}
	dls, err := vision.DataBlock{
		GetItems:  vision.CSVRows(vision.Folder("img")),
		GetX:      vision.ColReader("name").Suffix(".png"),
		GetY:      vision.ColReader("label"),
		Splitter:  vision.ColSplitter("is_valid"),
		ItemTfms:  []vision.ItemTransform{vision.Resize(12, 12, vision.Crop)},
		BatchTfms: []vision.BatchTransform{vision.AugTransforms()},
	}.DataLoaders(csvPath, vision.BatchSize(4), vision.Seed(5))
	if err != nil {
		t.Fatal(err)
	}
	if dls.Valid.Dataset().Len() != 4 || dls.Train.Dataset().Len() != 10 {
		t.Fatalf("%d and %d items", dls.Train.Dataset().Len(), dls.Valid.Dataset().Len())
	}
	sameLoaders(t, shorthand, dls, 3)
}

// TestDataBlockEqualsFromNameRe: fastai's from_name_re written as a
// DataBlock builds the loaders FromNameRe builds.
func TestDataBlockEqualsFromNameRe(t *testing.T) {
	dir := t.TempDir()
	rng := tensor.NewRNG(3)
	for i, breed := range []string{"pug", "Abyssinian", "great_pyrenees", "pug", "Bengal", "great_pyrenees", "pug", "Bengal", "pug", "Abyssinian"} {
		sub := ""
		if i%3 == 0 {
			sub = "more"
		}
		writeRGB(t, filepath.Join(dir, sub, fmt.Sprintf("%s_%d.png", breed, i)), 18, 13+i%2, rng)
	}
	const pattern = `^(.+)_\d+\.png$`
	shorthand, err := vision.FromNameRe(dir, pattern, vision.Size(10, 10), vision.BatchTfms(vision.AugTransforms()), vision.BatchSize(2))
	if err != nil {
		t.Fatal(err)
	}
	dls, err := vision.DataBlock{
		GetItems:  vision.GetImageFiles(),
		Splitter:  vision.RandomSplitter(0.2, 42),
		GetY:      vision.RegexLabeller(regexp.MustCompile(pattern)),
		ItemTfms:  []vision.ItemTransform{vision.Resize(10, 10, vision.Crop)},
		BatchTfms: []vision.BatchTransform{vision.AugTransforms()},
	}.DataLoaders(dir, vision.BatchSize(2))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"Abyssinian", "Bengal", "great_pyrenees", "pug"}; !slices.Equal(dls.Vocab, want) {
		t.Fatalf("vocab %q", dls.Vocab)
	}
	sameLoaders(t, shorthand, dls, 3)
}
