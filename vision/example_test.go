package vision_test

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log"
	"os"
	"path/filepath"

	"github.com/fastgo-ml/fastgo/render"
	"github.com/fastgo-ml/fastgo/vision"
)

func ExampleEmbeddedFashionMNIST() {
	dls, err := vision.EmbeddedFashionMNIST(vision.BatchSize(128), vision.Seed(1))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("train:", dls.Train.Dataset().Len(), "valid:", dls.Valid.Dataset().Len(), "classes:", dls.C())
	fmt.Println("batches per epoch:", dls.Train.Len(), dls.Valid.Len())
	for b, err := range dls.Train.Batches(context.Background()) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("x:", b.X.Shape(), "y:", len(b.Y))
		break
	}
	// Output:
	// train: 8000 valid: 2000 classes: 10
	// batches per epoch: 62 16
	// x: [128 1 28 28] y: 128
}

func ExampleImageFolder() {
	// A tiny tree: root/train/<class>/*.png and root/valid/<class>/*.png.
	root, _ := os.MkdirTemp("", "folder")
	defer os.RemoveAll(root)
	for _, split := range []string{"train", "valid"} {
		for _, class := range []string{"bright", "dark"} {
			for i := range 4 {
				img := image.NewGray(image.Rect(0, 0, 40, 30))
				if class == "bright" {
					for j := range img.Pix {
						img.Pix[j] = 250
					}
				}
				p := filepath.Join(root, split, class, fmt.Sprintf("%d.png", i))
				os.MkdirAll(filepath.Dir(p), 0o755)
				f, _ := os.Create(p)
				png.Encode(f, img)
				f.Close()
			}
		}
	}
	dls, err := vision.ImageFolder(root,
		vision.BatchSize(4),
		vision.ItemTfms(vision.RandomResizedCrop(24, 24, 0.35)),
		vision.BatchTfms(vision.AugTransforms()))
	if err != nil {
		log.Fatal(err)
	}
	b, err := dls.OneBatch()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(dls.Vocab, b.X.Shape())
	// Output:
	// [bright dark] [4 3 24 24]
}

func ExampleFindData() {
	// FindData looks in the explicit directory, $FASTGO_DATA/<name>, the user
	// cache, Debian's package, and last downloads with a checksum check.
	dir, err := vision.FindData("fashion-mnist", "")
	if err != nil {
		fmt.Println("not found:", err != nil)
		return
	}
	_ = dir
}

func ExampleFromImage() {
	img := image.NewNRGBA(image.Rect(0, 0, 3, 2))
	img.Set(1, 1, color.NRGBA{255, 0, 0, 255})
	x, _ := vision.FromImage(img, 3)
	fmt.Println(x.Shape(), x.At(0, 1, 1), x.At(1, 1, 1))
	back, _ := render.Image(x) // and back
	fmt.Println(back.At(1, 1))
	// Output:
	// [3 2 3] 1 0
	// {255 0 0 255}
}

func ExampleFashionMNIST() {
	// Look for the full set without downloading it (FASTGO_OFFLINE), and
	// fall back on the 10,000 images that ship inside the module.
	old, had := os.LookupEnv("FASTGO_OFFLINE")
	os.Setenv("FASTGO_OFFLINE", "1")
	defer func() {
		if had {
			os.Setenv("FASTGO_OFFLINE", old)
		} else {
			os.Unsetenv("FASTGO_OFFLINE")
		}
	}()
	dls, err := vision.FashionMNIST(vision.BatchSize(64), vision.BatchTfms(vision.AugTransforms()))
	if err != nil {
		dls, err = vision.EmbeddedFashionMNIST(vision.BatchSize(64), vision.BatchTfms(vision.AugTransforms()))
	}
	if err != nil {
		log.Fatal(err)
	}
	b, err := dls.OneBatch()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(dls.C(), dls.Vocab[9], b.X.Shape())
	// Output:
	// 10 Ankle boot [64 1 28 28]
}

func ExampleDataLoaders_ShowBatch() {
	dls, err := vision.EmbeddedFashionMNIST(vision.BatchSize(16), vision.BatchTfms(vision.AugTransforms()))
	if err != nil {
		log.Fatal(err)
	}
	dir, _ := os.MkdirTemp("", "show")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "batch.png")
	// A 3x3 grid of training images, augmented, captioned with their class.
	if err := dls.ShowBatch(path, 9); err != nil {
		log.Fatal(err)
	}
	f, _ := os.Open(path)
	defer f.Close()
	cfg, _ := png.DecodeConfig(f)
	fmt.Println(cfg.Width, cfg.Height)
	// Output:
	// 276 318
}

// writePNG writes a w x h image of one grey level.
func writePNG(path string, w, h int, level uint8) {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = level
	}
	os.MkdirAll(filepath.Dir(path), 0o755)
	f, err := os.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	png.Encode(f, img)
	f.Close()
}

func ExampleFromCSV() {
	dir, _ := os.MkdirTemp("", "csv")
	defer os.RemoveAll(dir)
	csv := "name,label,is_valid\n"
	for i := range 10 {
		label := []string{"dark", "bright"}[i%2]
		writePNG(filepath.Join(dir, "images", fmt.Sprintf("%d.png", i)), 20, 16, uint8(i%2*250))
		csv += fmt.Sprintf("%d,%s,%v\n", i, label, i >= 8)
	}
	os.WriteFile(filepath.Join(dir, "labels.csv"), []byte(csv), 0o644)
	dls, err := vision.FromCSV(filepath.Join(dir, "labels.csv"),
		vision.Folder("images"), vision.CSVSuffix(".png"), vision.ValidCol("is_valid"),
		vision.Size(16, 16), vision.BatchSize(4))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(dls.Vocab, dls.Train.Dataset().Len(), dls.Valid.Dataset().Len())
	// Output:
	// [bright dark] 8 2
}

func ExampleFromNameRe() {
	dir, _ := os.MkdirTemp("", "pets")
	defer os.RemoveAll(dir)
	for i, name := range []string{"great_pyrenees_173.png", "great_pyrenees_2.png", "Abyssinian_9.png", "Abyssinian_12.png", "pug_1.png"} {
		writePNG(filepath.Join(dir, name), 24, 24, uint8(40*i))
	}
	dls, err := vision.FromNameRe(dir, `^(.+)_\d+\.png$`, vision.ValidPct(0.2), vision.Seed(3))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(dls.Vocab, dls.Train.Dataset().Len(), dls.Valid.Dataset().Len())
	// Output:
	// [Abyssinian great_pyrenees pug] 4 1
}

// fastai's DataBlock: what the items are, how to split and label them, and
// the transforms, in one value; DataLoaders takes the loaders' settings.
func ExampleDataBlock() {
	// A tiny tree: root/train/<class>/*.png and root/valid/<class>/*.png.
	root, _ := os.MkdirTemp("", "block")
	defer os.RemoveAll(root)
	for _, split := range []string{"train", "valid"} {
		for i, class := range []string{"bright", "dark"} {
			for j := range 3 {
				writePNG(filepath.Join(root, split, class, fmt.Sprintf("%d.png", j)), 40, 30, uint8(250-200*i))
			}
		}
	}
	block := vision.DataBlock{
		Image:     vision.ImageBlock{Channels: 1},
		GetItems:  vision.GetImageFiles("train", "valid"),
		Splitter:  vision.GrandparentSplitter("train", "valid"),
		GetY:      vision.ParentLabel,
		ItemTfms:  []vision.ItemTransform{vision.RandomResizedCrop(24, 24, 0.35)},
		BatchTfms: []vision.BatchTransform{vision.AugTransforms()},
	}
	dls, err := block.DataLoaders(root, vision.BatchSize(4), vision.Seed(1))
	if err != nil {
		log.Fatal(err)
	}
	b, err := dls.OneBatch()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(dls.Vocab, dls.Train.Dataset().Len(), dls.Valid.Dataset().Len(), b.X.Shape())
	// Output:
	// [bright dark] 6 6 [4 1 24 24]
}

// A CSV of file names and labels with a validation column, as fastai's
// DataBlock(get_x=ColReader(0, pref=..., suff='.png'), get_y=ColReader(1),
// splitter=ColSplitter()).
func ExampleDataBlock_csv() {
	dir, _ := os.MkdirTemp("", "csvblock")
	defer os.RemoveAll(dir)
	csv := "name,label,is_valid\n"
	for i := range 10 {
		writePNG(filepath.Join(dir, "images", fmt.Sprintf("%d.png", i)), 20, 16, uint8(i%2*250))
		csv += fmt.Sprintf("%d,%s,%v\n", i, []string{"dark", "bright"}[i%2], i >= 8)
	}
	os.WriteFile(filepath.Join(dir, "labels.csv"), []byte(csv), 0o644)
	dls, err := vision.DataBlock{
		GetItems: vision.CSVRows(vision.Folder("images")),
		GetX:     vision.ColReader("name").Suffix(".png"),
		GetY:     vision.ColReader("label"),
		Splitter: vision.ColSplitter("is_valid"),
		ItemTfms: []vision.ItemTransform{vision.Resize(16, 16, vision.Crop)},
	}.DataLoaders(filepath.Join(dir, "labels.csv"), vision.BatchSize(4))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(dls.Vocab, dls.Train.Dataset().Len(), dls.Valid.Dataset().Len())
	// Output:
	// [bright dark] 8 2
}
