package vision_test

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/vision"
)

// tree writes a PNG at each of the paths below dir and returns dir.
func tree(t *testing.T, paths ...string) string {
	t.Helper()
	dir := t.TempDir()
	rng := tensor.NewRNG(9)
	for _, p := range paths {
		if strings.HasSuffix(p, "/") {
			os.MkdirAll(filepath.Join(dir, p), 0o755)
			continue
		}
		if strings.HasSuffix(p, ".txt") {
			os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
			os.WriteFile(filepath.Join(dir, p), []byte("x"), 0o644)
			continue
		}
		writeRGB(t, filepath.Join(dir, p), 6, 5, rng)
	}
	return dir
}

// rel returns the items' paths relative to dir, with their Folders.
func rel(dir string, items []vision.Item) (paths, folders []string) {
	for _, it := range items {
		p, _ := filepath.Rel(dir, it.Path)
		f, _ := filepath.Rel(dir, it.Folder)
		paths, folders = append(paths, filepath.ToSlash(p)), append(folders, filepath.ToSlash(f))
	}
	return paths, folders
}

func TestGetImageFiles(t *testing.T) {
	dir := tree(t, "b/2.png", "a/1.jpg", "top.png", "a/notes.txt", "valid/y.png", "train/x.png", "train/deep/z.PNG", "empty/")
	items, err := vision.GetImageFiles()(dir)
	if err != nil {
		t.Fatal(err)
	}
	paths, folders := rel(dir, items)
	if want := []string{"a/1.jpg", "b/2.png", "top.png", "train/deep/z.PNG", "train/x.png", "valid/y.png"}; !slices.Equal(paths, want) {
		t.Errorf("all images: %q, want %q", paths, want)
	}
	if folders[0] != "." || items[0].Row != nil {
		t.Errorf("folder %q, row %v", folders[0], items[0].Row)
	}
	// Named folders, in the order given; a missing one is passed over.
	items, err = vision.GetImageFiles("valid", "nope", "train")(dir)
	if err != nil {
		t.Fatal(err)
	}
	paths, folders = rel(dir, items)
	if want := []string{"valid/y.png", "train/deep/z.PNG", "train/x.png"}; !slices.Equal(paths, want) {
		t.Errorf("named folders: %q, want %q", paths, want)
	}
	if want := []string{"valid", "train", "train"}; !slices.Equal(folders, want) {
		t.Errorf("folders %q, want %q", folders, want)
	}
	if _, err := vision.GetImageFiles()(filepath.Join(dir, "nowhere")); err == nil || !strings.Contains(err.Error(), "nowhere") {
		t.Errorf("a missing source: %v", err)
	}
}

func TestClassFolders(t *testing.T) {
	dir := tree(t, "train/cat/1.png", "train/cat/deep/2.png", "train/dog/3.png", "train/.cache/4.png", "train/top.png",
		"valid/cat/5.png", "valid/dog/6.png", "valid/yak/", "valid/zebu/notes.txt")
	items, err := vision.ClassFolders("train", "valid")(dir)
	var pe *vision.PartialError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), filepath.Join(dir, "valid", "yak")+" has no images") {
		t.Fatalf("empty class folders: %v", err)
	}
	if !strings.Contains(pe.Warning, "skipped 2 empty class folders in "+filepath.Join(dir, "valid")) {
		t.Errorf("warning %q", pe.Warning)
	}
	paths, _ := rel(dir, items)
	if want := []string{"train/cat/1.png", "train/cat/deep/2.png", "train/dog/3.png", "valid/cat/5.png", "valid/dog/6.png"}; !slices.Equal(paths, want) {
		t.Fatalf("items %q, want %q", paths, want)
	}
	var labels []string
	for _, it := range items {
		l, err := vision.FolderLabel(it)
		if err != nil {
			t.Fatal(err)
		}
		labels = append(labels, l)
	}
	if want := []string{"cat", "cat", "dog", "cat", "dog"}; !slices.Equal(labels, want) {
		t.Errorf("FolderLabel %q, want %q", labels, want)
	}
	tr, va, err := vision.FolderSplitter("train", "valid")(items)
	if err != nil || !slices.Equal(tr, []int{0, 1, 2}) || !slices.Equal(va, []int{3, 4}) {
		t.Errorf("FolderSplitter %v %v %v", tr, va, err)
	}
	// A listed folder without a class folder holding images is an error.
	if _, err := vision.ClassFolders("train", "test")(dir); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "test")) {
		t.Errorf("missing folder: %v", err)
	}
	if _, err := vision.ClassFolders()(filepath.Join(dir, "train", "cat", "deep")); err == nil || !strings.Contains(err.Error(), "has no class folders with images") {
		t.Errorf("no class folder: %v", err)
	}

	// Through DataLoaders: an error, or with SkipBadItems a warning.
	block := vision.DataBlock{GetItems: vision.ClassFolders("train", "valid"), GetY: vision.FolderLabel, Splitter: vision.FolderSplitter("train", "valid")}
	if _, err := block.DataLoaders(dir); err == nil || !strings.Contains(err.Error(), "yak") {
		t.Errorf("strict: %v", err)
	}
	var log bytes.Buffer
	dls, err := block.DataLoaders(dir, vision.SkipBadItems(), vision.Logger(slog.New(slog.NewTextHandler(&log, nil))))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(dls.Vocab, []string{"cat", "dog"}) || dls.Train.Dataset().Len() != 3 || !strings.Contains(log.String(), "skipped 2 empty class folders") {
		t.Errorf("vocab %q, %d training items, log %q", dls.Vocab, dls.Train.Dataset().Len(), log.String())
	}
}

func TestLabellers(t *testing.T) {
	it := vision.Item{Path: filepath.Join("data", "train", "great_pyrenees", "great_pyrenees_173.jpg"), Folder: filepath.Join("data", "train")}
	if l, err := vision.ParentLabel(it); l != "great_pyrenees" || err != nil {
		t.Errorf("ParentLabel %q %v", l, err)
	}
	if _, err := vision.ParentLabel(vision.Item{}); err == nil {
		t.Error("ParentLabel of no path: no error")
	}
	re := vision.RegexLabeller(regexp.MustCompile(`^(.+)_\d+\.jpg$`))
	if l, err := re(it); l != "great_pyrenees" || err != nil {
		t.Errorf("RegexLabeller %q %v", l, err)
	}
	if _, err := re(vision.Item{Path: "x/nolabel.jpg"}); err == nil || !strings.Contains(err.Error(), "nolabel.jpg") {
		t.Errorf("no match: %v", err)
	}
	if err := fastgo.Maybe(func() { vision.RegexLabeller(regexp.MustCompile(`no group`)) }); err == nil {
		t.Error("a pattern without a group: no panic")
	}
	for _, bad := range []vision.Item{{Path: "a.png", Folder: "x"}, {Path: filepath.Join("x", "a.png"), Folder: "x"}, {Path: "a.png"}} {
		if l, err := vision.FolderLabel(bad); err == nil {
			t.Errorf("FolderLabel(%+v) = %q, no error", bad, l)
		}
	}
}

// rows returns items of a CSV table held in memory as if read from file.
func rows(header []string, recs ...[]string) []vision.Item {
	var out []vision.Item
	for i, r := range recs {
		out = append(out, vision.Item{Folder: "d", Row: &vision.Row{Fields: r, Header: header, File: "t.csv", Number: i + 2}})
	}
	return out
}

func TestColReaderAndColSplitter(t *testing.T) {
	items := rows([]string{"name", "label", "is_valid"}, []string{" a ", "cat", "True"}, []string{"b", " dog ", "0"}, []string{"c", "cat"})
	name, label := vision.ColReader("name").Suffix(".png"), vision.ColReader(1)
	for i, want := range [][2]string{{"a.png", "cat"}, {"b.png", "dog"}, {"c.png", "cat"}} {
		n, err1 := name(items[i])
		l, err2 := label(items[i])
		if n != want[0] || l != want[1] || err1 != nil || err2 != nil {
			t.Errorf("row %d: %q %q %v %v", i, n, l, err1, err2)
		}
	}
	var fe *vision.FormatError
	if _, err := vision.ColReader(2)(items[2]); !errors.As(err, &fe) || fe.File != "t.csv" || fe.Row != 4 {
		t.Errorf("short row: %v", err)
	}
	if _, err := vision.ColReader("size")(items[0]); !errors.As(err, &fe) || fe.Row != 1 || !strings.Contains(err.Error(), `no column "size"`) {
		t.Errorf("missing column: %v", err)
	}
	if _, err := vision.ColReader("name")(rows(nil, []string{"a"})[0]); !errors.As(err, &fe) || !strings.Contains(err.Error(), "no header") {
		t.Errorf("no header: %v", err)
	}
	if _, err := vision.ColReader(0)(vision.Item{Path: "a.png"}); !errors.As(err, &fe) {
		t.Errorf("not a row: %v", err)
	}
	if v, err := vision.ColReader(0).Suffix(".png")(rows(nil, []string{""})[0]); v != "" || err != nil {
		t.Errorf("an empty field got the suffix: %q %v", v, err)
	}
	if err := fastgo.Maybe(func() { vision.ColReader(-1) }); err == nil {
		t.Error("a negative column: no panic")
	}
	tr, va, err := vision.ColSplitter("is_valid")(items[:2])
	if err != nil || !slices.Equal(tr, []int{1}) || !slices.Equal(va, []int{0}) {
		t.Errorf("ColSplitter: %v %v %v", tr, va, err)
	}
	if _, _, err := vision.ColSplitter(2)(items); !errors.As(err, &fe) || fe.Row != 4 {
		t.Errorf("ColSplitter on a short row: %v", err)
	}
}

func TestSplitters(t *testing.T) {
	var items []vision.Item
	for _, p := range []string{"train/cat/a.png", "valid/cat/b.png", "test/cat/c.png", "train/dog/d.png", "x.png"} {
		items = append(items, vision.Item{Path: filepath.FromSlash("/data/" + p)})
	}
	tr, va, err := vision.GrandparentSplitter("train", "valid")(items)
	if err != nil || !slices.Equal(tr, []int{0, 3}) || !slices.Equal(va, []int{1}) {
		t.Errorf("GrandparentSplitter: %v %v %v", tr, va, err)
	}
	tr, va, _ = vision.FuncSplitter(func(it vision.Item) bool { return strings.Contains(it.Path, "dog") })(items)
	if !slices.Equal(tr, []int{0, 1, 2, 4}) || !slices.Equal(va, []int{3}) {
		t.Errorf("FuncSplitter: %v %v", tr, va)
	}
	many := make([]vision.Item, 50)
	tr, va, err = vision.RandomSplitter(0.3, 1)(many)
	if err != nil || len(va) != 15 || len(tr) != 35 {
		t.Fatalf("RandomSplitter: %d/%d %v", len(tr), len(va), err)
	}
	_, again, _ := vision.RandomSplitter(0.3, 1)(many)
	_, other, _ := vision.RandomSplitter(0.3, 2)(many)
	if !slices.Equal(va, again) || slices.Equal(va, other) {
		t.Errorf("seeds: %v, %v, %v", va, again, other)
	}
	for _, p := range []float64{-0.1, 1.5, nan()} {
		if _, _, err := vision.RandomSplitter(p, 1)(many); err == nil {
			t.Errorf("RandomSplitter(%g): no error", p)
		}
	}
}

func nan() float64 { z := 0.0; return z / z }

// TestDataBlockChecks: what a block lacks or holds wrongly, and options
// that belong to the block, are errors that say so.
func TestDataBlockChecks(t *testing.T) {
	dir := tree(t, "cat/1.png", "cat/2.png", "dog/3.png", "dog/4.png", "emu/5.png")
	good := vision.DataBlock{GetItems: vision.GetImageFiles(), Splitter: vision.RandomSplitter(0.2, 1), GetY: vision.ParentLabel}
	for _, c := range []struct {
		name  string
		block func(b *vision.DataBlock)
		opts  []vision.Option
		want  string
	}{
		{"nothing", func(b *vision.DataBlock) { *b = vision.DataBlock{} }, nil, "no GetItems, Splitter, GetY"},
		{"no GetY", func(b *vision.DataBlock) { b.GetY = nil }, nil, "no GetY"},
		{"channels", func(b *vision.DataBlock) { b.Image.Channels = 2 }, nil, "2 channels"},
		{"vocab", func(b *vision.DataBlock) { b.Category.Vocab = []string{"cat", "cat"} }, nil, "distinct"},
		{"item tfms as an option", nil, []vision.Option{vision.BatchSize(2), vision.Size(4, 4)}, "the option Size describes the data: set it in DataBlock.ItemTfms"},
		{"valid pct as an option", nil, []vision.Option{vision.ValidPct(0.3)}, "RandomSplitter"},
		{"channels as an option", nil, []vision.Option{vision.Channels(1)}, "DataBlock.Image.Channels"},
		{"splitter out of range", func(b *vision.DataBlock) {
			b.Splitter = func([]vision.Item) ([]int, []int, error) { return []int{0, 1}, []int{5}, nil }
		}, nil, "index 5 for 5 items"},
		{"splitter twice", func(b *vision.DataBlock) {
			b.Splitter = func([]vision.Item) ([]int, []int, error) { return []int{0, 1}, []int{1}, nil }
		}, nil, "item 1 twice"},
		{"no training item", func(b *vision.DataBlock) { b.Splitter = vision.RandomSplitter(1, 1) }, nil, "training set is empty"},
		{"CSVRows on a folder", func(b *vision.DataBlock) { b.GetItems = vision.CSVRows(vision.BatchSize(3)) }, nil, "CSVRows takes NoCSVHeader and Folder, not BatchSize"},
	} {
		b := good
		if c.block != nil {
			c.block(&b)
		}
		if _, err := b.DataLoaders(dir, c.opts...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	// The settings of the loaders are options.
	dls, err := good.DataLoaders(dir, vision.BatchSize(2), vision.Seed(3), vision.Workers(1), vision.Prefetch(1))
	if err != nil || dls.Train.BatchSize() != 2 || dls.C() != 3 {
		t.Fatalf("%v", err)
	}
	// A given vocabulary fixes the numbers; a label outside it is a bad item.
	b := good
	b.Category.Vocab = []string{"emu", "dog", "cat"}
	b.Splitter = vision.RandomSplitter(0, 1)
	dls, err = b.DataLoaders(dir)
	if err != nil || !slices.Equal(dls.Train.Dataset().(*vision.FileDataset).Labels, []int{2, 2, 1, 1, 0}) {
		t.Fatalf("vocab order: %v %v", err, dls)
	}
	b.Category.Vocab = []string{"cat", "dog"}
	if _, err := b.DataLoaders(dir); err == nil || !strings.Contains(err.Error(), `5.png: label "emu" is not in`) {
		t.Errorf("a label outside the vocabulary: %v", err)
	}
	var log bytes.Buffer
	dls, err = b.DataLoaders(dir, vision.SkipBadItems(), vision.Logger(slog.New(slog.NewTextHandler(&log, nil))))
	if err != nil || dls.Train.Dataset().Len() != 4 || !strings.Contains(log.String(), "skipped 1 files without a label") {
		t.Errorf("skipped: %v, log %q", err, log.String())
	}
}

// TestDataBlockCSV: the rows of a CSV need GetX; their files stay inside
// the folder unless AllowOutsidePaths; a bad row is named.
func TestDataBlockCSV(t *testing.T) {
	dir := tree(t, "img/a.png", "img/b.png", "img/c.png", "secret.png")
	csvPath := filepath.Join(dir, "img", "labels.csv")
	os.WriteFile(csvPath, []byte("file,label\na.png,x\nb.png,y\nc.png,x\n../secret.png,y\n"), 0o644)
	b := vision.DataBlock{GetItems: vision.CSVRows(), GetY: vision.ColReader("label"), Splitter: vision.RandomSplitter(0, 1)}
	if _, err := b.DataLoaders(csvPath); err == nil || !strings.Contains(err.Error(), "set the DataBlock's GetX") {
		t.Errorf("rows without GetX: %v", err)
	}
	b.GetX = vision.ColReader("file")
	if _, err := b.DataLoaders(csvPath); err == nil || !strings.Contains(err.Error(), csvPath+" row 5: file \"../secret.png\" is outside") {
		t.Errorf("a file outside: %v", err)
	}
	dls, err := b.DataLoaders(csvPath, vision.AllowOutsidePaths())
	if err != nil || dls.Train.Dataset().Len() != 4 {
		t.Fatalf("AllowOutsidePaths: %v", err)
	}
	if p := dls.Train.Dataset().(*vision.FileDataset).Paths[3]; p != filepath.Join(dir, "secret.png") {
		t.Errorf("path %s", p)
	}
	// Folder moves the base of the names; no header needs columns by number.
	os.WriteFile(filepath.Join(dir, "plain.csv"), []byte("x,a\ny,b\n"), 0o644)
	b = vision.DataBlock{GetItems: vision.CSVRows(vision.NoCSVHeader(), vision.Folder("img")),
		GetX: vision.ColReader(1).Suffix(".png"), GetY: vision.ColReader(0), Splitter: vision.RandomSplitter(0, 1)}
	dls, err = b.DataLoaders(filepath.Join(dir, "plain.csv"))
	if err != nil || !slices.Equal(dls.Train.Dataset().(*vision.FileDataset).Paths, []string{filepath.Join(dir, "img", "a.png"), filepath.Join(dir, "img", "b.png")}) {
		t.Errorf("no header: %v", err)
	}
}
