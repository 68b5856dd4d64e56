package vision

import (
	"fmt"
	"path/filepath"
	"strings"
)

// RandomSplitter returns a Splitter that holds out int(validPct*n) of the n
// items (rounded down, as fastai's RandomSplitter), chosen with the seed
// alone: the same seed and number of items give the same split. validPct
// must be in [0, 1].
func RandomSplitter(validPct float64, seed uint64) SplitFunc {
	split := randomSplit(validPct, seed)
	return func(items []Item) (train, valid []int, err error) {
		if !(validPct >= 0 && validPct <= 1) {
			return nil, nil, fmt.Errorf("vision: RandomSplitter(%g, %d): want a fraction of the items in [0, 1]", validPct, seed)
		}
		return split(items)
	}
}

// randomSplit is RandomSplitter without the check of validPct, which the
// shorthands' ValidPct clamps to [0, 1].
func randomSplit(validPct float64, seed uint64) SplitFunc {
	return func(items []Item) (train, valid []int, err error) {
		train, valid = splitIndices(len(items), validPct, seed)
		return train, valid, nil
	}
}

// GrandparentSplitter returns a Splitter by the name of the folder two
// levels above each item's file (fastai's GrandparentSplitter): train/x/a.png
// goes to training, valid/x/b.png to validation; an item under neither is
// left out.
func GrandparentSplitter(train, valid string) SplitFunc {
	return byName(func(it Item) string {
		if it.Path == "" {
			return ""
		}
		return filepath.Base(filepath.Dir(filepath.Dir(it.Path)))
	}, train, valid)
}

// FolderSplitter returns a Splitter by the sub-folder of the source that
// each item was listed in (its Folder, as GetImageFiles(train, valid) and
// ClassFolders(train, valid) set it), however deep its file sits below;
// an item in neither is left out.
func FolderSplitter(train, valid string) SplitFunc {
	tr, va := filepath.Clean(train), filepath.Clean(valid)
	return byName(func(it Item) string {
		f := filepath.Clean(it.Folder)
		for _, name := range []string{tr, va} {
			if f == name || strings.HasSuffix(f, string(filepath.Separator)+name) {
				return name
			}
		}
		return ""
	}, tr, va)
}

// byName splits items by a name each has: train, valid or another.
func byName(name func(Item) string, train, valid string) SplitFunc {
	return func(items []Item) (tr, va []int, err error) {
		for i, it := range items {
			switch n := name(it); {
			case n == "":
			case n == train:
				tr = append(tr, i)
			case n == valid:
				va = append(va, i)
			}
		}
		return tr, va, nil
	}
}

// ColSplitter returns a Splitter by a column of the items' rows (fastai's
// ColSplitter, and from_csv's valid_col): col is the 0-based column or its
// name in the header; a row whose field is "1" or "true" (in any case,
// spaces around it ignored) is a validation item, any other a training
// one. A missing column is a *FormatError naming the CSV and the row.
func ColSplitter[C int | string](col C) SplitFunc {
	read := ColReader(col)
	return func(items []Item) (train, valid []int, err error) {
		for i, it := range items {
			v, err := read(it)
			if err != nil {
				return nil, nil, err
			}
			if v = strings.ToLower(v); v == "1" || v == "true" {
				valid = append(valid, i)
			} else {
				train = append(train, i)
			}
		}
		return train, valid, nil
	}
}

// FuncSplitter returns a Splitter that puts the items for which valid
// returns true in the validation set and the others in the training set
// (fastai's FuncSplitter).
func FuncSplitter(valid func(Item) bool) SplitFunc {
	return func(items []Item) (tr, va []int, err error) {
		for i, it := range items {
			if valid(it) {
				va = append(va, i)
			} else {
				tr = append(tr, i)
			}
		}
		return tr, va, nil
	}
}
