package vision

import (
	"context"
	"errors"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTruncatedImageEveryFormat cuts a valid image of every format at
// several places and flips bytes in it: loading is an error naming the file,
// or (when a decoder tolerates the damage) an image of the right size in
// [0,1]; never a panic.
func TestTruncatedImageEveryFormat(t *testing.T) {
	dir := t.TempDir()
	for _, f := range formats {
		t.Run(f, func(t *testing.T) {
			good := encode(t, solid(24, 16, color.NRGBA{120, 60, 30, 255}), f)
			if f == "webp" {
				good = mustRead(t, filepath.Join("testdata", "lossy.webp"))
			}
			errs := 0
			for _, cut := range []int{0, 1, 4, 8, len(good) / 4, len(good) / 2, len(good) - 1} {
				p := filepath.Join(dir, fmt.Sprintf("cut%d.%s", cut, f))
				writeFile(t, p, good[:cut])
				x, err := LoadImage(p, 3)
				if err == nil {
					inUnit(t, p, x.Data())
					continue
				}
				errs++
				if !strings.Contains(err.Error(), p) {
					t.Errorf("error %q does not name %s", err, p)
				}
			}
			// The short cuts can never decode.
			if errs < 4 {
				t.Errorf("only %d of 7 truncations failed", errs)
			}
			for i := 0; i < len(good); i += max(1, len(good)/16) {
				bad := append([]byte(nil), good...)
				bad[i] ^= 0xa5
				x, err := DecodeImage(bad, 3)
				if err == nil {
					inUnit(t, "corrupt", x.Data())
				}
			}
		})
	}
}

// TestBadDataNamesFile runs the data-set constructors on broken files: each
// error names the broken file (and the CSV row), or with SkipBadItems the
// warning counts what was left out.
func TestBadDataNamesFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"IDX counts disagree with the length", badIDXCounts},
		{"IDX labels disagree with images", badIDXLabels},
		{"IDX gzip cut short", badIDXGzipCut},
		{"CIFAR-100 file of the wrong size", badCIFARSize},
		{"CSV row naming a missing file", badCSVMissingFile},
		{"empty class folder", badEmptyClassFolder},
		{"corrupt image in a folder, skipped", badCorruptImage},
	} {
		t.Run(tc.name, tc.run)
	}
}

// badIDXCounts: IDX counts disagree with the length.
func badIDXCounts(t *testing.T) {
	for _, gz := range []bool{false, true} {
		dir := t.TempDir()
		fakeMNIST(t, dir, 20, 10, gz)
		name := "train-images-idx3-ubyte"
		if gz {
			name += ".gz"
		}
		p := filepath.Join(dir, name)
		// 21 images claimed, 20 present.
		px := make([]byte, 20*784)
		data := idxBytes([]int{21, 28, 28}, px)
		if gz {
			data = gzipBytes(t, data)
		}
		writeFile(t, p, data)
		_, err := FashionMNIST(DataDir(dir))
		if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "16464 bytes") {
			t.Errorf("gzip %v: error %v", gz, err)
		}
		var fe *FormatError
		if !errors.As(err, &fe) || fe.File != p {
			t.Errorf("gzip %v: error %T is not a FormatError naming the file", gz, err)
		}
	}
}

// badIDXLabels: IDX labels disagree with images.
func badIDXLabels(t *testing.T) {
	dir := t.TempDir()
	fakeMNIST(t, dir, 20, 10, true)
	p := filepath.Join(dir, "t10k-labels-idx1-ubyte.gz")
	writeFile(t, p, gzipBytes(t, idxBytes([]int{9}, make([]byte, 9))))
	if _, err := MNIST(DataDir(dir)); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("error %v does not name %s", err, p)
	}
}

// badIDXGzipCut: IDX gzip cut short.
func badIDXGzipCut(t *testing.T) {
	dir := t.TempDir()
	fakeMNIST(t, dir, 20, 10, true)
	p := filepath.Join(dir, "train-images-idx3-ubyte.gz")
	data := mustRead(t, p)
	writeFile(t, p, data[:len(data)/2])
	if _, err := FashionMNIST(DataDir(dir)); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("error %v does not name %s", err, p)
	}
}

// badCIFARSize: CIFAR-100 file of the wrong size.
func badCIFARSize(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "train.bin"), cifarRecords(3, 2))
	p := filepath.Join(dir, "test.bin")
	writeFile(t, p, cifarRecords(2, 2)[:3074+7])
	_, err := CIFAR100(dir)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "3081 bytes") {
		t.Errorf("error %v", err)
	}
}

// badCSVMissingFile: CSV row naming a missing file.
func badCSVMissingFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.png"), encode(t, solid(4, 4, classColours["cat"]), "png"))
	p := filepath.Join(dir, "labels.csv")
	writeFile(t, p, []byte("name,label\na.png,cat\nb.png,dog\na.png,cat\n"))
	_, err := FromCSV(p)
	var fe *FormatError
	if !errors.As(err, &fe) || fe.File != p || fe.Row != 3 || !strings.Contains(err.Error(), "b.png does not exist") {
		t.Errorf("error %v", err)
	}
	log, buf := quietLogger()
	dls, err := FromCSV(p, SkipBadItems(), Logger(log), ValidPct(0))
	if err != nil || dls.Train.Dataset().Len() != 2 || !strings.Contains(buf.String(), "skipped 1 bad rows of "+p) {
		t.Errorf("skip: %v, log %q", err, buf.String())
	}
}

// badEmptyClassFolder: empty class folder.
func badEmptyClassFolder(t *testing.T) {
	dir := t.TempDir()
	makeClassTree(t, dir, []string{"cat", "dog"}, 1)
	os.MkdirAll(filepath.Join(dir, "emu"), 0o755)
	_, err := ImageFolder(dir)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "emu")) {
		t.Errorf("error %v", err)
	}
}

// badCorruptImage: corrupt image in a folder, skipped.
func badCorruptImage(t *testing.T) {
	dir := t.TempDir()
	makeClassTree(t, dir, []string{"cat", "dog"}, 1)
	bad := filepath.Join(dir, "dog", "zz.jpg")
	writeFile(t, bad, []byte("\xff\xd8\xff not really"))
	dls, err := ImageFolder(dir, ValidPct(0), Size(8, 8), BatchSize(13))
	if err != nil {
		t.Fatal(err)
	}
	var got error
	for _, err := range dls.Train.Epoch(context.Background(), 0) {
		if err != nil {
			got = err
		}
	}
	if got == nil || !strings.Contains(got.Error(), bad) {
		t.Errorf("error %v does not name %s", got, bad)
	}
	log, buf := quietLogger()
	dls, _ = ImageFolder(dir, ValidPct(0), Size(8, 8), BatchSize(13), SkipBadItems(), Logger(log))
	n := 0
	for b, err := range dls.Train.Epoch(context.Background(), 0) {
		if err != nil {
			t.Fatal(err)
		}
		n += len(b.Y)
	}
	if n != 12 || !strings.Contains(buf.String(), "skipped 1 bad items") || !strings.Contains(buf.String(), bad) {
		t.Errorf("%d items, log %q", n, buf.String())
	}
}
