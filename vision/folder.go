package vision

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// ImageExtensions are the file extensions (lower case) that the folder
// constructors treat as images.
var ImageExtensions = []string{".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp"}

func isImage(name string) bool {
	return slices.Contains(ImageExtensions, strings.ToLower(filepath.Ext(name)))
}

// block returns the DataBlock part that the shorthands' options describe:
// the channels and the transforms.
func (c *config) block() DataBlock {
	return DataBlock{Image: ImageBlock{Channels: c.channels}, ItemTfms: c.itemTfms, BatchTfms: c.batchTfms}
}

// ImageFolder is fastai's ImageDataLoaders.from_folder: the label of an image
// is the name of its class folder. When path holds a training folder (named
// "train" unless TrainValid says otherwise) the classes are its sub-folders
// and the validation folder ("valid") holds the validation images; otherwise
// path's own sub-folders are the classes and ValidPct of the images, chosen
// with the seed, are held out. Images may sit deeper inside a class folder.
// A class folder without images is an error (a warning with SkipBadItems).
//
// It is the DataBlock with GetItems ClassFolders("train", "valid") (or
// ClassFolders("train"), or ClassFolders()), GetY FolderLabel and Splitter
// FolderSplitter("train", "valid") (or RandomSplitter(validPct, seed)).
func ImageFolder(path string, opts ...Option) (*DataLoaders, error) {
	c := newConfig(opts)
	b := c.block()
	b.GetY = FolderLabel
	b.Splitter = randomSplit(c.validPct, c.seed)
	switch {
	case !isDir(filepath.Join(path, c.trainName)):
		b.GetItems = ClassFolders()
	case isDir(filepath.Join(path, c.validName)):
		b.GetItems = ClassFolders(c.trainName, c.validName)
		b.Splitter = FolderSplitter(c.trainName, c.validName)
	default: // no validation folder: split
		b.GetItems = ClassFolders(c.trainName)
	}
	return b.build(path, c)
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

// FromNameFunc is fastai's from_name_func: the images under dir (searched
// recursively) are labelled by label(name), where name is the file's base
// name; ValidPct of them, chosen with the seed, are held out. An empty label
// is an error naming the file (skipped with a warning with SkipBadItems).
//
// It is the DataBlock with GetItems GetImageFiles(), GetY label of the base
// name and Splitter RandomSplitter(validPct, seed).
func FromNameFunc(dir string, label func(name string) string, opts ...Option) (*DataLoaders, error) {
	return fromNames(dir, func(it Item) (string, error) { return label(filepath.Base(it.Path)), nil }, opts)
}

// FromNameRe is fastai's from_name_re: the label of each image under dir is
// the first sub-match of pattern in the file's base name, for example
// `^(.+)_\d+\.jpg$` for "great_pyrenees_173.jpg". A name the pattern does not
// match is an error (skipped with a warning with SkipBadItems).
//
// It is the DataBlock with GetItems GetImageFiles(), GetY RegexLabeller(re)
// and Splitter RandomSplitter(validPct, seed).
func FromNameRe(dir, pattern string, opts ...Option) (*DataLoaders, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("vision: FromNameRe: %w", err)
	}
	if re.NumSubexp() < 1 {
		return nil, fmt.Errorf("vision: FromNameRe: pattern %q has no group to take the label from", pattern)
	}
	return fromNames(dir, RegexLabeller(re), opts)
}

// fromNames labels the images under dir with getY.
func fromNames(dir string, getY ItemFunc, opts []Option) (*DataLoaders, error) {
	c := newConfig(opts)
	b := c.block()
	b.GetItems, b.GetY, b.Splitter = GetImageFiles(), getY, randomSplit(c.validPct, c.seed)
	return b.build(dir, c)
}

// FromLists is fastai's from_lists (and, with a table held as two columns,
// from_df): paths[i] has the label labels[i]; ValidPct of them, chosen with
// the seed, are held out. An empty path or label is an error naming the
// item; files are checked when they are decoded.
//
// It is the DataBlock whose items are the pairs, with Splitter
// RandomSplitter(validPct, seed).
func FromLists(paths, labels []string, opts ...Option) (*DataLoaders, error) {
	if len(paths) != len(labels) {
		return nil, fmt.Errorf("vision: FromLists: %d paths and %d labels", len(paths), len(labels))
	}
	c := newConfig(opts)
	b := c.block()
	b.GetItems = func(string) ([]Item, error) {
		items := make([]Item, len(paths))
		for i, p := range paths {
			items[i] = Item{Path: p, Row: &Row{Fields: []string{labels[i]}, Number: i + 1}}
		}
		return items, nil
	}
	b.GetX = func(it Item) (string, error) { return it.Path, nil }
	b.GetY = func(it Item) (string, error) { return it.Row.Fields[0], nil }
	b.Splitter = randomSplit(c.validPct, c.seed)
	return b.build("", c)
}

// FromCSV is fastai's from_csv (and from_df): each row of the CSV file
// names an image and its label, in the columns CSVColumns says (0 and 1 by
// default, after a header row unless NoCSVHeader()). File names are
// relative to Folder (by default the CSV's own directory) and get CSVSuffix
// appended. With ValidCol, rows marked "1" or "true" in that column form the
// validation set; otherwise ValidPct of the rows, chosen with the seed, do.
// Every named file must exist: a row naming a missing file, or too short
// for the columns, is an error naming the CSV and the row (with
// SkipBadItems, missing files are left out with a warning that counts
// them).
//
// It is the DataBlock with GetItems CSVRows(Folder(dir)) (with NoCSVHeader when the file has no header),
// GetX ColReader(file).Suffix(suffix), GetY ColReader(label) and Splitter
// ColSplitter(validCol) (or RandomSplitter(validPct, seed)).
func FromCSV(csvPath string, opts ...Option) (*DataLoaders, error) {
	c := newConfig(opts)
	if c.validCol != "" && !c.header {
		return nil, fmt.Errorf("vision: FromCSV %s: ValidCol(%q) needs a header row", csvPath, c.validCol)
	}
	b := c.block()
	b.GetItems = func(source string) ([]Item, error) { return readCSVRows(source, c.header, c.folder) }
	b.GetX = ColReader(c.fnCol).Suffix(c.suffix)
	b.GetY = ColReader(c.labelCol)
	b.Splitter = randomSplit(c.validPct, c.seed)
	if c.validCol != "" {
		b.Splitter = ColSplitter(c.validCol)
	}
	return b.build(csvPath, c)
}

// inside reports whether name, a path from a CSV, stays inside folder: a
// relative path that does not climb out with "..".
func inside(folder, name string) bool {
	if filepath.IsAbs(name) {
		return false
	}
	rel, err := filepath.Rel(folder, filepath.Join(folder, name))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
