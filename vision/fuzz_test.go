package vision

import (
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo/render"
	"github.com/fastgo-ml/fastgo/tensor"
)

// The fuzzers are seeded from the files in testdata/seed (and the corpus Go
// keeps in testdata/fuzz). TestWriteFuzzSeeds writes the seed files when
// FASTGO_WRITE_SEEDS is set:
//
//	FASTGO_WRITE_SEEDS=1 go test -run TestWriteFuzzSeeds ./vision/
//
// Run a fuzzer with, for example,
//
//	nice -n 19 go test -run '^$' -fuzz '^FuzzIDX$' -fuzztime 60s ./vision/

const seedDir = "testdata/seed"

func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("FASTGO_WRITE_SEEDS") == "" {
		t.Skip("set FASTGO_WRITE_SEEDS=1 to rewrite testdata/seed")
	}
	px := make([]byte, 3*4*5)
	for i := range px {
		px[i] = byte(i * 4)
	}
	idx := idxBytes([]int{3, 4, 5}, px)
	lab := idxBytes([]int{3}, []byte{7, 0, 9})
	files := map[string][]byte{
		"tiny-images-idx3-ubyte":    idx,
		"tiny-images-idx3-ubyte.gz": gzipBytes(t, idx),
		"tiny-labels-idx1-ubyte.gz": gzipBytes(t, lab),
		"cifar10.bin":               cifarRecords(2, 1),
		"cifar100.bin":              cifarRecords(1, 2),
	}
	c := color.NRGBA{9, 99, 199, 255}
	for _, f := range formats {
		if f != "webp" {
			files["tiny."+f] = encode(t, solid(5, 3, c), f)
		}
	}
	files["tiny.gray.png"] = encode(t, grayImage(4, 3), "png")
	for name, data := range files {
		writeFile(t, filepath.Join(seedDir, name), data)
	}
}

// seeds returns the seed files whose names contain one of the markers.
func seeds(f *testing.F, markers ...string) [][]byte {
	var out [][]byte
	for _, dir := range []string{seedDir, "testdata"} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			f.Fatal(err)
		}
		for _, e := range entries {
			if e.IsDir() || !slices.ContainsFunc(markers, func(m string) bool { return strings.Contains(e.Name(), m) }) {
				continue
			}
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				f.Fatal(err)
			}
			out = append(out, data)
		}
	}
	if len(out) == 0 {
		f.Fatalf("no seed files for %v", markers)
	}
	return out
}

func FuzzIDX(f *testing.F) {
	for _, s := range seeds(f, "idx") {
		f.Add(s)
	}
	f.Add(idxBytes([]int{1 << 30, 1 << 30}, nil))
	f.Add(gzipBytes(f, idxBytes([]int{1 << 16, 1 << 16}, []byte{1})))
	f.Add([]byte{0, 0, 8, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		dims, vals, err := DecodeIDX(data)
		if err != nil {
			if _, ok := err.(*FormatError); !ok {
				t.Fatalf("error %T %v is not a *FormatError", err, err)
			}
			return
		}
		if int64(len(vals)) != idxCount(dims) {
			t.Fatalf("dims %v with %d values", dims, len(vals))
		}
		if len(data) > 0 && data[0] != 0x1f && len(vals) > len(data) {
			t.Fatalf("%d values from %d bytes", len(vals), len(data))
		}
	})
}

// FuzzReadIDXFloats checks the streaming reader that FashionMNIST and MNIST
// use against DecodeIDX: the same error status and the same values.
func FuzzReadIDXFloats(f *testing.F) {
	for _, s := range seeds(f, "idx") {
		f.Add(s)
	}
	f.Add(gzipBytes(f, idxBytes([]int{2, 3}, []byte{1, 2, 3, 4, 5})))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "f-idx3-ubyte")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		dims, vals, err := readIDXFloats(p)
		wdims, wvals, werr := DecodeIDX(data)
		if (err == nil) != (werr == nil) {
			t.Fatalf("readIDXFloats error %v, DecodeIDX error %v", err, werr)
		}
		if err != nil {
			if !strings.Contains(err.Error(), p) {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		if !slices.Equal(dims, wdims) || len(vals) != len(wvals) {
			t.Fatalf("dims %v / %v, %d / %d values", dims, wdims, len(vals), len(wvals))
		}
		for i, v := range wvals {
			if vals[i] != byteToFloat[v] {
				t.Fatalf("value %d: %v, want %v", i, vals[i], byteToFloat[v])
			}
		}
	})
}

func FuzzCIFAR(f *testing.F) {
	for _, s := range seeds(f, "cifar") {
		f.Add(s, 1)
		f.Add(s, 2)
	}
	f.Add([]byte{1, 2, 3}, 1)
	f.Fuzz(func(t *testing.T, data []byte, labelBytes int) {
		labelBytes = 1 + labelBytes&1 // 1 or 2
		ds, err := DecodeCIFAR(data, labelBytes, labelBytes-1)
		if err != nil {
			if _, ok := err.(*FormatError); !ok {
				t.Fatalf("error %T %v is not a *FormatError", err, err)
			}
			return
		}
		if ds.Len()*(labelBytes+cifarPixels) != len(data) {
			t.Fatalf("%d records from %d bytes", ds.Len(), len(data))
		}
		for i, v := range ds.X.Data() {
			rec := i / cifarPixels
			if want := byteToFloat[data[rec*(labelBytes+cifarPixels)+labelBytes+i%cifarPixels]]; v != want {
				t.Fatalf("pixel %d: %v, want %v", i, v, want)
			}
		}
		for i, y := range ds.Y {
			if y != int(data[i*(labelBytes+cifarPixels)+labelBytes-1]) {
				t.Fatalf("label %d: %d", i, y)
			}
		}
	})
}

// FuzzLoadImage feeds the image path of a data loader: decoding (into a
// worker's reused memory and not), then the item and batch transforms.
func FuzzLoadImage(f *testing.F) {
	for _, s := range seeds(f, ".png", ".jpg", ".gif", ".bmp", ".tif", ".webp") {
		f.Add(s)
	}
	var s scratch
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := DecodeImage(data, 3)
		g, gerr := decodeImage(data, 1, &s)
		if (err == nil) != (gerr == nil) {
			t.Fatalf("3 channels: %v, 1 channel: %v", err, gerr)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "vision: ") {
				t.Fatalf("error %q", err)
			}
			return
		}
		if x.Dim(1) != g.Dim(1) || x.Dim(2) != g.Dim(2) || x.Dim(1)*x.Dim(2) > MaxImagePixels {
			t.Fatalf("shapes %v and %v", x.Shape(), g.Shape())
		}
		inUnit(t, "decoded", x.Data())
		inUnit(t, "grey", g.Data())
		if x.Dim(1)*x.Dim(2) > 1<<16 {
			return // the transforms' cost grows with the image, not its bytes
		}
		rng := tensor.NewRNG(uint64(len(data)))
		items := []*tensor.Tensor{
			Resize(7, 5, Crop).TransformItem(x, rng, TrainSplit),
			Resize(7, 5, Pad).TransformItem(g, rng, ValidSplit),
			RandomResizedCrop(7, 5, 0.08).TransformItem(x, rng, TrainSplit),
			CenterCrop(7, 5).TransformItem(x, nil, ValidSplit),
		}
		batch := tensor.Zeros(len(items), 3, 7, 5)
		for i, it := range items {
			if it.Dim(1) != 7 || it.Dim(2) != 5 {
				t.Fatalf("item transform %d gave %v", i, it.Shape())
			}
			for c := 0; c < 3; c++ {
				copy(batch.Data()[(i*3+c)*35:], it.Data()[(c%it.Dim(0))*35:(c%it.Dim(0)+1)*35])
			}
		}
		rngs := []*tensor.RNG{tensor.NewRNG(1), tensor.NewRNG(2), tensor.NewRNG(3), tensor.NewRNG(4)}
		AugTransforms().TransformBatch(batch, rngs, TrainSplit)
		RandomErasing{P: 1}.TransformBatch(batch, rngs, TrainSplit)
		inUnit(t, "transformed", batch.Data())
		// The scratch path decodes what the plain path does.
		if y, err := decodeImage(data, 3, &s); err != nil || !slices.Equal(y.Data(), x.Data()) {
			t.Fatalf("scratch decode differs: %v", err)
		}
	})
}

// FuzzFromCSV: a CSV of file names and labels is outside data. FromCSV never
// panics on it; every row it accepts names a regular file inside the data
// folder, and its loaders serve them.
func FuzzFromCSV(f *testing.F) {
	dir := f.TempDir()
	for i := range 4 {
		img := tensor.Full[float32](float32(i)/4, 1, 6, 6)
		writeTestPNG(f, filepath.Join(dir, string(rune('a'+i))+".png"), img)
	}
	f.Add("file,label\na.png,x\nb.png,y\nc.png,x\nd.png,y\n")
	f.Add("a.png,x\n../a.png,y\n/etc/passwd,x\n\"b.png\",\"y\"\n")
	f.Add("a.png\n,\n\"unterminated\n")
	f.Fuzz(func(t *testing.T, content string) {
		p := filepath.Join(dir, "labels.csv")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		dls, err := FromCSV(p, BatchSize(2), Workers(1), Size(6, 6), Channels(1))
		if err != nil {
			return
		}
		for _, ds := range []Dataset{dls.Train.Dataset(), dls.Valid.Dataset()} {
			for i := range ds.Len() {
				if _, err := ds.Image(i); err != nil {
					t.Fatalf("accepted row %d does not load: %v", i, err)
				}
			}
		}
	})
}

// writeTestPNG writes x [1,H,W] as a PNG.
func writeTestPNG(tb testing.TB, path string, x *tensor.Tensor) {
	tb.Helper()
	img, err := render.Image(x)
	if err != nil {
		tb.Fatal(err)
	}
	if err := render.WritePNG(path, img); err != nil {
		tb.Fatal(err)
	}
}
