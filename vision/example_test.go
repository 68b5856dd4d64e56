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

func ExampleToImage() {
	img := image.NewNRGBA(image.Rect(0, 0, 3, 2))
	img.Set(1, 1, color.NRGBA{255, 0, 0, 255})
	x, _ := vision.FromImage(img, 3)
	fmt.Println(x.Shape(), x.At(0, 1, 1), x.At(1, 1, 1))
	back, _ := vision.ToImage(x)
	fmt.Println(back.At(1, 1))
	// Output:
	// [3 2 3] 1 0
	// {255 0 0 255}
}
