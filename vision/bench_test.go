package vision

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fastgo-ml/fastgo/tensor"
)

// BenchmarkLoadFashionMNIST reads all 70,000 Fashion-MNIST images from the
// Debian package's gzip files into tensors.
func BenchmarkLoadFashionMNIST(b *testing.B) {
	if _, err := os.Stat(filepath.Join(debianFMNIST, "train-images-idx3-ubyte.gz")); err != nil {
		b.Skip("full Fashion-MNIST not installed")
	}
	for b.Loop() {
		train, test, err := ReadMNIST(debianFMNIST)
		if err != nil {
			b.Fatal(err)
		}
		if train.Len()+test.Len() != 70000 {
			b.Fatal("wrong count")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Seconds())/float64(b.N), "s/load")
}

// BenchmarkEmbedded decodes the embedded 10,000 images.
func BenchmarkEmbedded(b *testing.B) {
	for b.Loop() {
		if _, err := IDXImages(embeddedImages(), embeddedLabels(), "i", "l"); err != nil {
			b.Fatal(err)
		}
	}
}

// makeJPEGFolder returns a folder of n 64x64 JPEGs (quality 95) in 10 class
// folders: photo-like content, a colour gradient with per-pixel noise and a
// disc, so that decoding costs what real images cost. The folder is built
// once under the temporary directory and reused by later runs.
func makeJPEGFolder(b *testing.B, n int) string {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("fastgo-bench-jpeg64-%d-v2", n))
	if _, err := os.Stat(filepath.Join(dir, "done")); err == nil {
		return dir
	}
	tmp, err := os.MkdirTemp(os.TempDir(), "fastgo-bench-jpeg64-*")
	if err != nil {
		b.Fatal(err)
	}
	g := tensor.NewRNG(1)
	clamp := func(v int) uint8 { return uint8(min(max(v, 0), 255)) }
	for i := 0; i < n; i++ {
		img := image.NewRGBA(image.Rect(0, 0, 64, 64))
		r0, g0, b0 := g.IntN(200), g.IntN(200), g.IntN(200)
		cx, cy, rad := g.IntN(64), g.IntN(64), 8+g.IntN(20)
		for y := 0; y < 64; y++ {
			for x := 0; x < 64; x++ {
				v := [3]int{r0 + x, g0 + y, b0 + (x*y)/64}
				if (x-cx)*(x-cx)+(y-cy)*(y-cy) < rad*rad {
					v = [3]int{255 - v[0], v[2], v[1]}
				}
				for k := range v {
					v[k] += g.IntN(49) - 24
				}
				img.SetRGBA(x, y, color.RGBA{clamp(v[0]), clamp(v[1]), clamp(v[2]), 255})
			}
		}
		writeFile(b, filepath.Join(tmp, fmt.Sprintf("c%d", i%10), fmt.Sprintf("%05d.jpg", i)), encode(b, img, "jpg"))
	}
	writeFile(b, filepath.Join(tmp, "done"), nil)
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp) // another run made it first
	}
	return dir
}

// BenchmarkImageFolderPipeline decodes 64x64 JPEGs, resizes them to 32x32
// and applies fastai's augmentation (AugTransforms), with GOMAXPROCS
// workers: run it with -cpu 2 for two cores.
func BenchmarkImageFolderPipeline(b *testing.B) {
	const n = 4096
	dir := makeJPEGFolder(b, n)
	dls, err := ImageFolder(dir, ValidPct(0), BatchSize(64), Size(32, 32), BatchTfms(AugTransforms()))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	items := 0
	for b.Loop() {
		for batch, err := range dls.Train.Batches(context.Background()) {
			if err != nil {
				b.Fatal(err)
			}
			items += len(batch.Y)
		}
	}
	b.ReportMetric(float64(items)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkInMemoryBatches measures batching of an in-memory data set
// without transforms (row copies).
func BenchmarkInMemoryBatches(b *testing.B) {
	ds, err := Embedded()
	if err != nil {
		b.Fatal(err)
	}
	dl := NewDataLoader(ds, TrainSplit, BatchSize(128))
	items := 0
	for b.Loop() {
		for batch, err := range dl.Batches(context.Background()) {
			if err != nil {
				b.Fatal(err)
			}
			items += len(batch.Y)
		}
	}
	b.ReportMetric(float64(items)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkAugment measures AugTransforms on 32x32 RGB batches of 64.
func BenchmarkAugment(b *testing.B) {
	src := tensor.Uniform[float32](tensor.NewRNG(1), 0, 1, 64, 3, 32, 32)
	x := src.Clone()
	a := AugTransforms()
	items := 0
	e := 0
	for b.Loop() {
		copy(x.Data(), src.Data()) // repeated lighting would drive pixels to 0 and 1
		rngs := make([]*tensor.RNG, 64)
		for i := range rngs {
			rngs[i] = tensor.NewRNG(uint64(e*64 + i))
		}
		e++
		a.TransformBatch(x, rngs, TrainSplit)
		items += 64
	}
	b.ReportMetric(float64(items)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkResize measures Resize(32, 32) of a 64x64 RGB image.
func BenchmarkResize(b *testing.B) {
	x := tensor.Uniform[float32](tensor.NewRNG(1), 0, 1, 3, 64, 64)
	r := Resize(32, 32, Crop)
	for b.Loop() {
		r.TransformItem(x, nil, ValidSplit)
	}
}

// BenchmarkLighting measures the brightness and contrast change of a 32x32
// RGB image.
func BenchmarkLighting(b *testing.B) {
	x := tensor.Uniform[float32](tensor.NewRNG(1), 0, 1, 3, 32, 32)
	y := x.Clone()
	for b.Loop() {
		copy(y.Data(), x.Data())
		lighting(y.Data(), 0.1, 1.1)
	}
}

// BenchmarkDecodeJPEG measures decoding a 64x64 JPEG into a tensor.
func BenchmarkDecodeJPEG(b *testing.B) {
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	data := encode(b, img, "jpg")
	var s scratch
	for b.Loop() {
		if _, err := decodeImage(data, 3, &s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoaderWait measures how long a consumer that spends 20 ms on
// each batch (a model's step) waits for the next one from a JPEG folder
// pipeline that needs less than that per batch: with prefetch the wait
// after the first batch is a channel receive.
func BenchmarkLoaderWait(b *testing.B) {
	dir := makeJPEGFolder(b, 640)
	dls, err := ImageFolder(dir, ValidPct(0), BatchSize(32), Size(32, 32), BatchTfms(AugTransforms()))
	if err != nil {
		b.Fatal(err)
	}
	var waited time.Duration
	waits := 0
	for b.Loop() {
		last := time.Time{}
		for _, err := range dls.Train.Batches(context.Background()) {
			if err != nil {
				b.Fatal(err)
			}
			if !last.IsZero() {
				waited += time.Since(last)
				waits++
			}
			time.Sleep(20 * time.Millisecond)
			last = time.Now()
		}
	}
	b.ReportMetric(float64(waited.Microseconds())/float64(max(waits, 1)), "wait-us/batch")
}
