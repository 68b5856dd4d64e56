package vision

import (
	"bytes"
	"context"
	"fmt"
	"image/color"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo/data"
)

// quietLogger records warnings in a buffer.
func quietLogger() (*slog.Logger, *bytes.Buffer) {
	var b bytes.Buffer
	return slog.New(slog.NewTextHandler(&b, nil)), &b
}

// allBatches collects an epoch, failing the test on an error.
func allBatches(t testing.TB, dl *DataLoader, epoch int) []data.Batch {
	t.Helper()
	var out []data.Batch
	for b, err := range dl.Epoch(context.Background(), epoch) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// checkLabels checks every item's label against its file's class folder.
func checkLabels(t *testing.T, dls *DataLoaders) {
	t.Helper()
	for _, dl := range []*DataLoader{dls.Train, dls.Valid} {
		fd := dl.Dataset().(*FileDataset)
		for i, p := range fd.Paths {
			if got, want := dls.Vocab[fd.Labels[i]], filepath.Base(filepath.Dir(p)); got != want {
				t.Errorf("%s labelled %s", p, got)
			}
		}
	}
}

func TestImageFolderTrainValid(t *testing.T) {
	dir := t.TempDir()
	classes := []string{"cat", "dog", "emu"}
	perClass := makeClassTree(t, filepath.Join(dir, "train"), classes, 2)
	vPerClass := makeClassTree(t, filepath.Join(dir, "valid"), classes, 1)
	dls, err := ImageFolder(dir, Size(8, 8), BatchSize(5))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(dls.Vocab, classes) || dls.C() != 3 {
		t.Fatalf("vocab %v", dls.Vocab)
	}
	if n := dls.Train.Dataset().Len(); n != 3*perClass {
		t.Errorf("train has %d items, want %d", n, 3*perClass)
	}
	if n := dls.Valid.Dataset().Len(); n != 3*vPerClass {
		t.Errorf("valid has %d items, want %d", n, 3*vPerClass)
	}
	checkLabels(t, dls)
	// Each image is painted in its class colour: the batch agrees with Y.
	for _, dl := range []*DataLoader{dls.Train, dls.Valid} {
		count := 0
		for _, b := range allBatches(t, dl, 0) {
			count += len(b.Y)
			for i, y := range b.Y {
				checkColour(t, b, i, classColours[dls.Vocab[y]])
			}
		}
		if want := dl.Len() * dl.BatchSize(); dl == dls.Train && count != want {
			t.Errorf("train epoch has %d items, want %d", count, want)
		}
		if dl == dls.Valid && count != dl.Dataset().Len() {
			t.Errorf("valid epoch has %d items, want %d", count, dl.Dataset().Len())
		}
	}
}

// checkColour checks the dominant channel of item i's centre pixel.
func checkColour(t *testing.T, b data.Batch, i int, c color.NRGBA) {
	t.Helper()
	s := b.X.Shape()
	h, w := s[2], s[3]
	px := [3]float32{b.X.At(i, 0, h/2, w/2), b.X.At(i, 1, h/2, w/2), b.X.At(i, 2, h/2, w/2)}
	want := 0
	for k, v := range []uint8{c.R, c.G, c.B} {
		if v > 100 {
			want = k
		}
	}
	got := 0
	for k := range px {
		if px[k] > px[got] {
			got = k
		}
	}
	if got != want || px[got] < 0.6 {
		t.Errorf("item %d (label %d) has pixel %v, want channel %d to dominate", i, b.Y[i], px, want)
	}
}

func TestImageFolderValidPct(t *testing.T) {
	dir := t.TempDir()
	per := makeClassTree(t, dir, []string{"cat", "dog"}, 2)
	n := 2 * per
	dls, err := ImageFolder(dir, ValidPct(0.25), Size(8, 8), Seed(7))
	if err != nil {
		t.Fatal(err)
	}
	nv := int(0.25 * float64(n)) // fastai's RandomSplitter rounds down
	if dls.Valid.Dataset().Len() != nv || dls.Train.Dataset().Len() != n-nv {
		t.Fatalf("split %d/%d of %d", dls.Train.Dataset().Len(), dls.Valid.Dataset().Len(), n)
	}
	checkLabels(t, dls)
	again, _ := ImageFolder(dir, ValidPct(0.25), Size(8, 8), Seed(7))
	other, _ := ImageFolder(dir, ValidPct(0.25), Size(8, 8), Seed(8))
	vp := dls.Valid.Dataset().(*FileDataset).Paths
	if !slices.Equal(vp, again.Valid.Dataset().(*FileDataset).Paths) {
		t.Error("same seed, different split")
	}
	if slices.Equal(vp, other.Valid.Dataset().(*FileDataset).Paths) {
		t.Error("different seeds, same split")
	}
	// No item is in both.
	for _, p := range vp {
		if slices.Contains(dls.Train.Dataset().(*FileDataset).Paths, p) {
			t.Errorf("%s in both splits", p)
		}
	}
}

func TestImageFolderEmptyClass(t *testing.T) {
	dir := t.TempDir()
	makeClassTree(t, filepath.Join(dir, "train"), []string{"cat", "dog"}, 1)
	os.MkdirAll(filepath.Join(dir, "train", "yak"), 0o755)
	os.WriteFile(filepath.Join(dir, "train", "yak", "notes.txt"), []byte("x"), 0o644)
	_, err := ImageFolder(dir)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "train", "yak")) {
		t.Fatalf("error %v does not name the empty folder", err)
	}
	log, buf := quietLogger()
	dls, err := ImageFolder(dir, SkipBadItems(), Logger(log))
	if err != nil {
		t.Fatal(err)
	}
	if dls.C() != 2 || !strings.Contains(buf.String(), "skipped 1 empty class folders") {
		t.Errorf("C %d, log %q", dls.C(), buf.String())
	}
}

func TestBadImageInBatch(t *testing.T) {
	dir := t.TempDir()
	makeClassTree(t, filepath.Join(dir, "train"), []string{"cat", "dog"}, 1)
	makeClassTree(t, filepath.Join(dir, "valid"), []string{"cat", "dog"}, 1)
	bad := filepath.Join(dir, "valid", "dog", "broken.png")
	good := encode(t, solid(12, 10, classColours["dog"]), "png")
	writeFile(t, bad, good[:len(good)/2])
	corrupt := filepath.Join(dir, "valid", "cat", "corrupt.jpg")
	writeFile(t, corrupt, []byte("\xff\xd8\xff\xe0 this is not a jpeg"))

	dls, err := ImageFolder(dir, Size(8, 8), BatchSize(4))
	if err != nil {
		t.Fatal(err)
	}
	var got error
	for _, err := range dls.Valid.Batches(context.Background()) {
		if err != nil {
			got = err
			break
		}
	}
	if got == nil || !(strings.Contains(got.Error(), bad) || strings.Contains(got.Error(), corrupt)) {
		t.Fatalf("error %v does not name a bad file", got)
	}

	log, buf := quietLogger()
	dls, err = ImageFolder(dir, Size(8, 8), BatchSize(4), SkipBadItems(), Logger(log))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for b, err := range dls.Valid.Batches(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		n += len(b.Y)
	}
	if want := dls.Valid.Dataset().Len() - 2; n != want || dls.Valid.Skipped() != 2 {
		t.Errorf("%d items served, %d skipped; want %d and 2", n, dls.Valid.Skipped(), want)
	}
	if !strings.Contains(buf.String(), "skipped 2 bad items") {
		t.Errorf("log %q", buf.String())
	}
}

func TestFromCSV(t *testing.T) {
	dir := t.TempDir()
	var rows []string
	rows = append(rows, "name,label,is_valid")
	for i := 0; i < 12; i++ {
		cl := []string{"cat", "dog", "emu"}[i%3]
		f := formats[i%len(formats)]
		name := fmt.Sprintf("img/%02d.%s", i, f)
		writeFile(t, filepath.Join(dir, name), encode(t, solid(9, 9, classColours[cl]), f))
		rows = append(rows, fmt.Sprintf("%s,%s,%d", name, cl, b2i(i >= 9)))
	}
	csvPath := filepath.Join(dir, "labels.csv")
	writeFile(t, csvPath, []byte(strings.Join(rows, "\n")+"\n"))
	dls, err := FromCSV(csvPath, Size(9, 9), BatchSize(3), ValidCol("is_valid"))
	if err != nil {
		t.Fatal(err)
	}
	if dls.Train.Dataset().Len() != 9 || dls.Valid.Dataset().Len() != 3 || dls.C() != 3 {
		t.Fatalf("split %d/%d C %d", dls.Train.Dataset().Len(), dls.Valid.Dataset().Len(), dls.C())
	}
	for _, b := range allBatches(t, dls.Valid, 0) {
		for i, y := range b.Y {
			if want := []string{"cat", "dog", "emu"}[b.Index[i]%3]; dls.Vocab[y] != want {
				t.Errorf("valid item %d labelled %s, want %s", b.Index[i], dls.Vocab[y], want)
			}
		}
	}

	// A row naming a missing file is an error naming the CSV and the row.
	rows = append(rows, "img/missing.png,cat,0")
	writeFile(t, csvPath, []byte(strings.Join(rows, "\n")+"\n"))
	_, err = FromCSV(csvPath)
	if err == nil || !strings.Contains(err.Error(), csvPath+" row 14") || !strings.Contains(err.Error(), "missing.png does not exist") {
		t.Fatalf("error %v", err)
	}
	log, buf := quietLogger()
	dls, err = FromCSV(csvPath, SkipBadItems(), Logger(log), ValidCol("is_valid"))
	if err != nil {
		t.Fatal(err)
	}
	if dls.Train.Dataset().Len() != 9 || !strings.Contains(buf.String(), "skipped 1 bad rows") {
		t.Errorf("train %d, log %q", dls.Train.Dataset().Len(), buf.String())
	}
	// Without ValidCol the is_valid column is ignored, as fastai's from_df
	// with valid_col=None: ValidPct splits int(0.2*12) = 2 rows off.
	rows = rows[:len(rows)-1]
	writeFile(t, csvPath, []byte(strings.Join(rows, "\n")+"\n"))
	dls, err = FromCSV(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	if dls.Train.Dataset().Len() != 10 || dls.Valid.Dataset().Len() != 2 {
		t.Errorf("ValidPct split %d/%d, want 10/2", dls.Train.Dataset().Len(), dls.Valid.Dataset().Len())
	}
	if _, err := FromCSV(csvPath, ValidCol("valid")); err == nil || !strings.Contains(err.Error(), `no column "valid"`) {
		t.Errorf("missing valid column: %v", err)
	}
	if _, err := FromCSV(csvPath, ValidCol("is_valid"), NoCSVHeader()); err == nil {
		t.Error("ValidCol without a header: no error")
	}
	// Folder is relative to the CSV's directory and CSVSuffix completes
	// the names, as fastai's folder= and suff=.
	writeFile(t, filepath.Join(dir, "sub", "names.csv"), []byte("fn,label\n00,cat\n06,cat\n"))
	dls, err = FromCSV(filepath.Join(dir, "sub", "names.csv"), Folder("../img"), CSVSuffix(".png"), ValidPct(0))
	if err != nil {
		t.Fatal(err)
	}
	if fd := dls.Train.Dataset().(*FileDataset); fd.Len() != 2 || fd.Paths[1] != filepath.Join(dir, "img", "06.png") {
		t.Errorf("paths %v", fd.Paths)
	}
	empty := filepath.Join(dir, "empty.csv")
	writeFile(t, empty, []byte("name,label\n"))
	if _, err := FromCSV(empty); err == nil || !strings.Contains(err.Error(), empty) {
		t.Errorf("empty CSV: %v", err)
	}

	// No header, other columns, no valid column: ValidPct splits.
	noHeader := filepath.Join(dir, "plain.csv")
	writeFile(t, noHeader, []byte("cat,img/00.png\ndog,img/01.jpg\nemu,img/02.gif\ncat,img/03.bmp\n"))
	dls, err = FromCSV(noHeader, NoCSVHeader(), CSVColumns(1, 0), ValidPct(0.25))
	if err != nil {
		t.Fatal(err)
	}
	if dls.Train.Dataset().Len() != 3 || dls.Valid.Dataset().Len() != 1 {
		t.Errorf("split %d/%d", dls.Train.Dataset().Len(), dls.Valid.Dataset().Len())
	}
	// A short row is an error naming the row.
	short := filepath.Join(dir, "short.csv")
	writeFile(t, short, []byte("name,label\nimg/00.png\n"))
	if _, err := FromCSV(short); err == nil || !strings.Contains(err.Error(), "row 2") {
		t.Errorf("short row: %v", err)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestFromNameRe(t *testing.T) {
	dir := t.TempDir()
	names := map[string]string{
		"great_pyrenees_1.png": "great_pyrenees", "great_pyrenees_2.jpg": "great_pyrenees",
		"Abyssinian_3.bmp": "Abyssinian", "Abyssinian_10.tif": "Abyssinian",
		"pug_4.gif": "pug", "pug_5.webp": "pug", "sub/pug_6.png": "pug",
	}
	for n := range names {
		f := strings.TrimPrefix(filepath.Ext(n), ".")
		writeFile(t, filepath.Join(dir, n), encode(t, solid(6, 4, color.NRGBA{1, 2, 3, 255}), f))
	}
	dls, err := FromNameRe(dir, `^(.+)_\d+\.\w+$`, ValidPct(0.3), Size(4, 6))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"Abyssinian", "great_pyrenees", "pug"}; !slices.Equal(dls.Vocab, want) {
		t.Fatalf("vocab %v", dls.Vocab)
	}
	total := 0
	for _, dl := range []*DataLoader{dls.Train, dls.Valid} {
		fd := dl.Dataset().(*FileDataset)
		total += fd.Len()
		for i, p := range fd.Paths {
			rel, _ := filepath.Rel(dir, p)
			if got := dls.Vocab[fd.Labels[i]]; got != names[filepath.ToSlash(rel)] {
				t.Errorf("%s labelled %s", rel, got)
			}
		}
	}
	if total != len(names) || dls.Valid.Dataset().Len() != 2 {
		t.Errorf("%d items, %d valid", total, dls.Valid.Dataset().Len())
	}
	// A name the pattern does not match.
	writeFile(t, filepath.Join(dir, "nolabel.png"), encode(t, solid(2, 2, color.NRGBA{}), "png"))
	if _, err := FromNameRe(dir, `^(.+)_\d+\.\w+$`); err == nil || !strings.Contains(err.Error(), "nolabel.png") {
		t.Errorf("error %v", err)
	}
	log, buf := quietLogger()
	if _, err := FromNameRe(dir, `^(.+)_\d+\.\w+$`, SkipBadItems(), Logger(log)); err != nil || !strings.Contains(buf.String(), "skipped 1 files") {
		t.Errorf("skip: %v %q", err, buf.String())
	}
	if _, err := FromNameRe(dir, `no group`); err == nil {
		t.Error("pattern without a group: no error")
	}
	// FromNameFunc with fastai's pets idiom: upper case first letter is a cat.
	dls, err = FromNameFunc(dir, func(name string) string {
		if name[0] >= 'A' && name[0] <= 'Z' {
			return "cat"
		}
		return "dog"
	})
	if err != nil || !slices.Equal(dls.Vocab, []string{"cat", "dog"}) {
		t.Errorf("FromNameFunc: %v %v", err, dls.Vocab)
	}
}

func TestFromLists(t *testing.T) {
	dir := t.TempDir()
	var paths, labels []string
	for i := 0; i < 10; i++ {
		p := filepath.Join(dir, fmt.Sprintf("%d.png", i))
		writeFile(t, p, encode(t, solid(5, 5, color.NRGBA{uint8(i * 20), 0, 0, 255}), "png"))
		paths = append(paths, p)
		labels = append(labels, fmt.Sprint(i%2))
	}
	dls, err := FromLists(paths, labels, ValidPct(0.2), BatchSize(2), Channels(1))
	if err != nil {
		t.Fatal(err)
	}
	b, err := dls.OneBatch()
	if err != nil {
		t.Fatal(err)
	}
	if s := b.X.Shape(); s[0] != 2 || s[1] != 1 || s[2] != 5 {
		t.Errorf("grey batch shape %v", s)
	}
	if _, err := FromLists(paths, labels[:3]); err == nil {
		t.Error("length mismatch: no error")
	}
	// TestDL takes unlabelled files and serves them in order.
	tdl := dls.TestDL(ImageFiles(paths[:3]...))
	bs := allBatches(t, tdl, 0)
	if len(bs) != 2 || bs[0].Y[0] != -1 || bs[0].X.Dim(1) != 1 || bs[1].Index[0] != 2 {
		t.Errorf("%d test batches, first labels %v shape %v", len(bs), bs[0].Y, bs[0].X.Shape())
	}
}

func TestDifferentSizesNeedResize(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a", "1.png"), encode(t, solid(5, 5, color.NRGBA{}), "png"))
	writeFile(t, filepath.Join(dir, "a", "2.png"), encode(t, solid(6, 5, color.NRGBA{}), "png"))
	dls, err := ImageFolder(dir, ValidPct(0), BatchSize(2))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dls.OneBatch(); err == nil || !strings.Contains(err.Error(), "Size(h, w)") {
		t.Fatalf("error %v", err)
	}
}
