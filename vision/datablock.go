package vision

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// DataBlock describes how to turn a source (a folder, a CSV file) into
// DataLoaders, as fastai's DataBlock: which items the source holds
// (GetItems), how they divide into a training and a validation set
// (Splitter), the image file (GetX) and the class name (GetY) of each
// item, and the transforms. For example, fastai's
//
//	DataBlock(blocks=(ImageBlock, CategoryBlock), get_items=get_image_files,
//	          splitter=GrandparentSplitter(), get_y=parent_label,
//	          item_tfms=Resize(224)).dataloaders(path, bs=64)
//
// is
//
//	dls, err := vision.DataBlock{
//		GetItems: vision.GetImageFiles(),
//		Splitter: vision.GrandparentSplitter("train", "valid"),
//		GetY:     vision.ParentLabel,
//		ItemTfms: []vision.ItemTransform{vision.Resize(224, 224, vision.Crop)},
//	}.DataLoaders(path, vision.BatchSize(64))
//
// GetItems, Splitter and GetY are required. The block holds everything that
// describes the data; DataLoaders' options are the loaders' settings only.
// ImageFolder, FromCSV, FromNameRe, FromNameFunc and FromLists are
// shorthands that build a DataBlock from their options.
type DataBlock struct {
	// Image is the input block (fastai's ImageBlock): every x is an image
	// file, decoded when a batch needs it.
	Image ImageBlock
	// Category is the target block (fastai's CategoryBlock): every y is a
	// class name.
	Category CategoryBlock
	// GetItems lists the items of the source (fastai's get_items), for
	// example GetImageFiles(), ClassFolders() or CSVRows(). Required.
	GetItems ItemsFunc
	// Splitter divides the items into a training and a validation set
	// (fastai's splitter), for example RandomSplitter(0.2, 42) or
	// GrandparentSplitter("train", "valid"). Required.
	Splitter SplitFunc
	// GetX returns an item's image file (fastai's get_x); nil means the
	// item's Path. The items of a table need one: ColReader names the
	// column that holds the file.
	GetX ItemFunc
	// GetY returns an item's class name (fastai's get_y), for example
	// ParentLabel, RegexLabeller(re) or ColReader("label"). Required.
	GetY ItemFunc
	// ItemTfms run on each decoded image before batching (fastai's
	// item_tfms), for example Resize(224, 224, Crop).
	ItemTfms []ItemTransform
	// BatchTfms run on each collated batch (fastai's batch_tfms), for
	// example AugTransforms().
	BatchTfms []BatchTransform
}

// ImageBlock is a DataBlock's input: image files decoded to Channels
// channels (fastai's ImageBlock, with cls=PILImageBW for grey).
type ImageBlock struct {
	// Channels is 3 (RGB, also meant by 0) or 1 (grey: PIL's "L" of the
	// RGB values).
	Channels int
}

// CategoryBlock is a DataBlock's target: a class name per item, numbered
// by its place in the vocabulary (fastai's CategoryBlock).
type CategoryBlock struct {
	// Vocab lists the class names in the order of their numbers. Nil means
	// the distinct labels of the training and validation items, sorted (as
	// fastai's, which takes them from the training items alone). Given, an
	// item whose label is not in it is a bad item.
	Vocab []string
}

// Item is one item of a DataBlock as its GetItems lists it: an image file,
// or a row of a table that names one.
type Item struct {
	// Path is the image file of an item listed from a folder; "" for a row.
	Path string
	// Folder is the folder the item was listed in: the source or the named
	// sub-folder of GetImageFiles and ClassFolders; for a row of a CSV file,
	// the folder its file names are relative to.
	Folder string
	// Row is the row of a table the item comes from (CSVRows), or nil.
	Row *Row
}

// Row is one row of a table.
type Row struct {
	// Fields are the row's fields, as the file has them.
	Fields []string
	// Header is the table's header row (its names trimmed of spaces), or
	// nil when the table has none. Every row of a table shares it.
	Header []string
	// File is the CSV file the row was read from, or "" for a table held
	// in memory.
	File string
	// Number is the row's 1-based place in its file (a header is row 1),
	// which errors name.
	Number int
}

// ItemsFunc lists the items of a source (a DataBlock's GetItems). It may
// return, beside the items it could list, a *PartialError saying what it
// left out: DataBlock.DataLoaders then fails with it, or with SkipBadItems
// logs its warning and goes on with the items.
type ItemsFunc func(source string) ([]Item, error)

// ItemFunc returns an item's image file or class name (a DataBlock's GetX
// or GetY). An error makes the item a bad item: DataBlock.DataLoaders fails
// naming the item, or with SkipBadItems leaves it out and counts it. A
// *FormatError is a fault of the whole table (a row too short for the
// column asked for, a column name the header lacks) and is returned even
// with SkipBadItems.
type ItemFunc func(item Item) (string, error)

// Suffix returns f with s appended to every non-empty result (fastai's
// suff=, for tables that name images without their extension).
func (f ItemFunc) Suffix(s string) ItemFunc {
	return func(it Item) (string, error) {
		x, err := f(it)
		if err != nil || x == "" {
			return x, err
		}
		return x + s, nil
	}
}

// SplitFunc divides items into training and validation items (a
// DataBlock's Splitter), returning the indices of each, every index at most
// once; an item in neither set is left out.
type SplitFunc func(items []Item) (train, valid []int, err error)

// PartialError is what an ItemsFunc returns beside the items it could list
// when it had to leave some out (ClassFolders: a class folder without
// images).
type PartialError struct {
	// Err is the first thing left out, named.
	Err error
	// Warning says what was left out and how much, for the log.
	Warning string
}

// Error returns Err's message.
func (e *PartialError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *PartialError) Unwrap() error { return e.Err }

// dataOptions says where each option that describes the data belongs in a
// DataBlock: DataBlock.DataLoaders refuses them.
var dataOptions = map[string]string{
	"ValidPct":     "the Splitter (RandomSplitter(validPct, seed))",
	"ItemTfms":     "DataBlock.ItemTfms",
	"Size":         "DataBlock.ItemTfms (Resize(h, w, Crop))",
	"BatchTfms":    "DataBlock.BatchTfms",
	"Channels":     "DataBlock.Image.Channels",
	"TrainValid":   "the GetItems and Splitter (ClassFolders(train, valid), FolderSplitter(train, valid))",
	"CSVColumns":   "GetX and GetY (ColReader)",
	"NoCSVHeader":  "CSVRows",
	"Folder":       "CSVRows",
	"CSVSuffix":    "GetX (ColReader(col).Suffix(s))",
	"ValidCol":     "the Splitter (ColSplitter(col))",
	"DataDir":      "FashionMNIST and MNIST",
	"CoarseLabels": "CIFAR100",
}

// DataLoaders lists the items of source with GetItems, labels and splits
// them, and returns their loaders (fastai's DataBlock.dataloaders). The
// options are the loaders' settings: BatchSize, Seed (the shuffles and the
// random transforms; a RandomSplitter has its own seed), Workers,
// Prefetch, ReuseBatches, SkipBadItems, Logger and AllowOutsidePaths. An
// option that describes the data (ItemTfms, Size, BatchTfms, Channels,
// ValidPct, the CSV options...) is an error naming the DataBlock field or
// component it belongs to, so that each setting has one place.
//
// An item whose GetX or GetY fails, whose label is empty or, for a row of a
// CSV file, whose file is missing, not a regular file or outside the
// item's Folder (unless AllowOutsidePaths) is a bad item: an error naming
// the item (the file, or the CSV and the row), or with SkipBadItems left
// out with a warning that counts them. The split is made over the items
// that remain.
func (b DataBlock) DataLoaders(source string, opts ...Option) (*DataLoaders, error) {
	c := newConfig(opts)
	for _, name := range c.given {
		if where, ok := dataOptions[name]; ok {
			return nil, fmt.Errorf("vision: DataBlock.DataLoaders: the option %s describes the data: set it in %s", name, where)
		}
	}
	return b.build(source, c)
}

// build makes the loaders with the settings c (whose data options, given
// to the shorthands, are already in b).
func (b DataBlock) build(source string, c config) (*DataLoaders, error) {
	if err := b.check(); err != nil {
		return nil, err
	}
	items, err := b.GetItems(source)
	if pe := (*PartialError)(nil); errors.As(err, &pe) && c.skipBad {
		c.logger.Warn(pe.Warning, "first", pe.Err)
	} else if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("vision: no item in %s", where(source))
	}
	kept, files, labels, err := b.label(source, items, &c)
	if err != nil {
		return nil, err
	}
	train, valid, err := b.Splitter(kept)
	if err != nil {
		return nil, err
	}
	if err := checkSplit(len(kept), train, valid); err != nil {
		return nil, err
	}
	vocab := b.Category.Vocab
	if vocab == nil {
		for _, i := range slices.Concat(train, valid) {
			vocab = append(vocab, labels[i])
		}
		slices.Sort(vocab)
		vocab = slices.Compact(vocab)
	}
	ids := make(map[string]int, len(vocab))
	for i, v := range vocab {
		ids[v] = i
	}
	c.channels = b.Image.channels()
	c.itemTfms, c.batchTfms = b.ItemTfms, b.BatchTfms
	pick := func(idx []int) *FileDataset {
		d := &FileDataset{Paths: make([]string, len(idx)), Labels: make([]int, len(idx)), Channels: c.channels}
		for k, i := range idx {
			d.Paths[k], d.Labels[k] = files[i], ids[labels[i]]
		}
		return d
	}
	return newDataLoadersConfig(pick(train), pick(valid), slices.Clone(vocab), c)
}

// where names a source in messages.
func where(source string) string {
	if source == "" {
		return "the list"
	}
	return source
}

// check reports what the block lacks or holds wrongly.
func (b DataBlock) check() error {
	var missing []string
	if b.GetItems == nil {
		missing = append(missing, "GetItems")
	}
	if b.Splitter == nil {
		missing = append(missing, "Splitter")
	}
	if b.GetY == nil {
		missing = append(missing, "GetY")
	}
	if len(missing) > 0 {
		return fmt.Errorf("vision: DataBlock: no %s (each is required)", strings.Join(missing, ", "))
	}
	if ch := b.Image.Channels; ch != 0 && ch != 1 && ch != 3 {
		return fmt.Errorf("vision: %d channels: want 1 (grey) or 3 (RGB)", ch)
	}
	if v := b.Category.Vocab; v != nil {
		if len(v) == 0 {
			return errors.New("vision: DataBlock: Category.Vocab is empty (nil takes the labels of the items)")
		}
		seen := make(map[string]bool, len(v))
		for _, name := range v {
			if name == "" || seen[name] {
				return fmt.Errorf("vision: DataBlock: Category.Vocab %q: want distinct, non-empty names", v)
			}
			seen[name] = true
		}
	}
	return nil
}

func (ib ImageBlock) channels() int {
	if ib.Channels == 0 {
		return 3
	}
	return ib.Channels
}

// label returns the items that have an image file and a label, with their
// files and labels; bad items fail or, with SkipBadItems, are counted and
// left out.
func (b DataBlock) label(source string, items []Item, c *config) (kept []Item, files, labels []string, err error) {
	getX := b.GetX
	if getX == nil {
		getX = itemPath
	}
	var inVocab map[string]bool
	if b.Category.Vocab != nil {
		inVocab = make(map[string]bool, len(b.Category.Vocab))
		for _, v := range b.Category.Vocab {
			inVocab[v] = true
		}
	}
	var badX, badY int
	var first error
	var rowFile string
	for i, it := range items {
		x, err := getX(it)
		if err == nil {
			x, err = resolveX(it, x, c)
		}
		y := ""
		stage := &badX
		if err == nil {
			stage = &badY
			if y, err = b.GetY(it); err == nil && y == "" {
				err = errors.New("no label")
			} else if err == nil && inVocab != nil && !inVocab[y] {
				err = fmt.Errorf("label %q is not in the block's vocabulary", y)
			}
		}
		if err != nil {
			if fe := (*FormatError)(nil); errors.As(err, &fe) {
				return nil, nil, nil, err // a fault of the table
			}
			err = itemError(i, it, err)
			if !c.skipBad {
				return nil, nil, nil, err
			}
			*stage++
			if first == nil {
				first = err
				if it.Row != nil {
					rowFile = it.Row.File
				}
			}
			continue
		}
		kept = append(kept, it)
		files = append(files, x)
		labels = append(labels, y)
	}
	switch {
	case badX+badY == 0:
	case rowFile != "":
		c.logger.Warn(fmt.Sprintf("vision: skipped %d bad rows of %s", badX+badY, rowFile), "first", first)
	default:
		if badY > 0 {
			c.logger.Warn(fmt.Sprintf("vision: skipped %d files without a label in %s", badY, where(source)), "first", first)
		}
		if badX > 0 {
			c.logger.Warn(fmt.Sprintf("vision: skipped %d items without an image file in %s", badX, where(source)), "first", first)
		}
	}
	if len(kept) == 0 {
		return nil, nil, nil, fmt.Errorf("vision: no usable item in %s: %d left out (%v)", where(source), badX+badY, first)
	}
	return kept, files, labels, nil
}

// itemPath is the default GetX: the item's Path.
func itemPath(it Item) (string, error) {
	if it.Path == "" && it.Row != nil {
		return "", &FormatError{File: it.Row.File, Row: it.Row.Number, Msg: "the items are rows of a table: set the DataBlock's GetX (ColReader names the file's column)"}
	}
	return it.Path, nil
}

// resolveX checks x, an item's image file. A file named in a CSV is
// relative to the item's Folder, must stay inside it (unless
// AllowOutsidePaths) and must be a regular file; other items' files are
// checked when they are decoded.
func resolveX(it Item, x string, c *config) (string, error) {
	if x == "" {
		return "", errors.New("empty file name")
	}
	if it.Row == nil || it.Row.File == "" {
		return x, nil
	}
	p := x
	if !filepath.IsAbs(p) {
		p = filepath.Join(it.Folder, x)
	}
	if !c.outside && !inside(it.Folder, x) {
		return "", fmt.Errorf("file %q is outside the data folder %s (AllowOutsidePaths lets a CSV name any file)", x, it.Folder)
	}
	switch st, err := os.Stat(p); {
	case errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("file %s does not exist", p)
	case err != nil:
		return "", err
	case st.IsDir():
		return "", fmt.Errorf("file %s is a directory", p)
	case !st.Mode().IsRegular():
		return "", fmt.Errorf("file %s is not a regular file (%v)", p, st.Mode().Type())
	}
	return p, nil
}

// itemError names item i in err: the CSV and its row, or the file.
func itemError(i int, it Item, err error) error {
	switch {
	case it.Row != nil && it.Row.File != "":
		return &FormatError{File: it.Row.File, Row: it.Row.Number, Msg: err.Error()}
	case it.Path != "":
		return fmt.Errorf("vision: %s: %w", it.Path, err)
	}
	return fmt.Errorf("vision: item %d: %w", i, err)
}

// checkSplit checks a splitter's indices: each in range, at most once.
func checkSplit(n int, train, valid []int) error {
	seen := make([]bool, n)
	for _, idx := range [][]int{train, valid} {
		for _, i := range idx {
			if i < 0 || i >= n {
				return fmt.Errorf("vision: DataBlock: the Splitter gave index %d for %d items", i, n)
			}
			if seen[i] {
				return fmt.Errorf("vision: DataBlock: the Splitter gave item %d twice", i)
			}
			seen[i] = true
		}
	}
	return nil
}
