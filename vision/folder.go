package vision

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
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

// imageFiles returns the image files under dir, recursively, in lexical order.
func imageFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && isImage(d.Name()) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("vision: %w", err)
	}
	return files, nil
}

// ImageFolder is fastai's ImageDataLoaders.from_folder: the label of an image
// is the name of its class folder. When path holds a training folder (named
// "train" unless TrainValid says otherwise) the classes are its sub-folders
// and the validation folder ("valid") holds the validation images; otherwise
// path's own sub-folders are the classes and ValidPct of the images, chosen
// with the seed, are held out. Images may sit deeper inside a class folder.
// A class folder without images is an error (a warning with SkipBadItems).
func ImageFolder(path string, opts ...Option) (*DataLoaders, error) {
	c := newConfig(opts)
	trainDir := filepath.Join(path, c.trainName)
	if st, err := os.Stat(trainDir); err != nil || !st.IsDir() {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("vision: %w", err)
		}
		files, labels, err := classFolders(path, &c)
		if err != nil {
			return nil, err
		}
		return fromLabelled(files, labels, nil, c)
	}
	files, labels, err := classFolders(trainDir, &c)
	if err != nil {
		return nil, err
	}
	validDir := filepath.Join(path, c.validName)
	if st, err := os.Stat(validDir); err != nil || !st.IsDir() {
		return fromLabelled(files, labels, nil, c) // no validation folder: split
	}
	vfiles, vlabels, err := classFolders(validDir, &c)
	if err != nil {
		return nil, err
	}
	isValid := make([]bool, len(files), len(files)+len(vfiles))
	for range vfiles {
		isValid = append(isValid, true)
	}
	return fromLabelled(append(files, vfiles...), append(labels, vlabels...), isValid, c)
}

// classFolders lists the images of each class sub-folder of dir.
func classFolders(dir string, c *config) (files, labels []string, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("vision: %w", err)
	}
	empty := 0
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		sub := filepath.Join(dir, e.Name())
		fs, err := imageFiles(sub)
		if err != nil {
			return nil, nil, err
		}
		if len(fs) == 0 {
			if !c.skipBad {
				return nil, nil, fmt.Errorf("vision: class folder %s has no images", sub)
			}
			empty++
			continue
		}
		for _, f := range fs {
			files = append(files, f)
			labels = append(labels, e.Name())
		}
	}
	if empty > 0 {
		c.logger.Warn(fmt.Sprintf("vision: skipped %d empty class folders in %s", empty, dir))
	}
	if len(files) == 0 {
		return nil, nil, fmt.Errorf("vision: %s has no class folders with images", dir)
	}
	return files, labels, nil
}

// FromNameFunc is fastai's from_name_func: the images under dir (searched
// recursively) are labelled by label(name), where name is the file's base
// name; ValidPct of them, chosen with the seed, are held out. An empty label
// is an error naming the file (skipped with a warning with SkipBadItems).
func FromNameFunc(dir string, label func(name string) string, opts ...Option) (*DataLoaders, error) {
	c := newConfig(opts)
	files, err := imageFiles(dir)
	if err != nil {
		return nil, err
	}
	var keep, labels []string
	bad := 0
	for _, f := range files {
		l := label(filepath.Base(f))
		if l == "" {
			if !c.skipBad {
				return nil, fmt.Errorf("vision: %s: no label", f)
			}
			bad++
			continue
		}
		keep = append(keep, f)
		labels = append(labels, l)
	}
	if bad > 0 {
		c.logger.Warn(fmt.Sprintf("vision: skipped %d files without a label in %s", bad, dir))
	}
	if len(keep) == 0 {
		return nil, fmt.Errorf("vision: %s has no labelled images", dir)
	}
	return fromLabelled(keep, labels, nil, c)
}

// FromNameRe is fastai's from_name_re: the label of each image under dir is
// the first sub-match of pattern in the file's base name, for example
// `^(.+)_\d+\.jpg$` for "great_pyrenees_173.jpg". A name the pattern does not
// match is an error (skipped with a warning with SkipBadItems).
func FromNameRe(dir, pattern string, opts ...Option) (*DataLoaders, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("vision: FromNameRe: %w", err)
	}
	if re.NumSubexp() < 1 {
		return nil, fmt.Errorf("vision: FromNameRe: pattern %q has no group to take the label from", pattern)
	}
	return FromNameFunc(dir, func(name string) string {
		m := re.FindStringSubmatch(name)
		if m == nil {
			return ""
		}
		return m[1]
	}, opts...)
}

// FromLists is fastai's from_lists (and, with a table held as two columns,
// from_df): paths[i] has the label labels[i]; ValidPct of them, chosen with
// the seed, are held out. Files are checked when they are decoded.
func FromLists(paths, labels []string, opts ...Option) (*DataLoaders, error) {
	if len(paths) != len(labels) {
		return nil, fmt.Errorf("vision: FromLists: %d paths and %d labels", len(paths), len(labels))
	}
	return fromLabelled(paths, labels, nil, newConfig(opts))
}

// FromCSV is fastai's from_csv (and from_df): each row of the CSV file
// names an image and its label, in the columns CSVColumns says (0 and 1 by
// default, after a header row unless CSVHeader(false)). File names are
// relative to Folder (by default the CSV's own directory) and get CSVSuffix
// appended. With ValidCol, rows marked "1" or "true" in that column form the
// validation set; otherwise ValidPct of the rows, chosen with the seed, do.
// Every named file must exist: a row naming a missing file, or too short
// for the columns, is an error naming the CSV and the row (with
// SkipBadItems, missing files are left out with a warning that counts
// them).
func FromCSV(csvPath string, opts ...Option) (*DataLoaders, error) {
	c := newConfig(opts)
	if c.validCol != "" && !c.header {
		return nil, fmt.Errorf("vision: FromCSV %s: ValidCol(%q) needs a header row", csvPath, c.validCol)
	}
	f, err := os.Open(csvPath)
	if err != nil {
		return nil, fmt.Errorf("vision: %w", err)
	}
	defer f.Close()
	folder := filepath.Dir(csvPath)
	if c.folder != "" {
		folder = c.folder
		if !filepath.IsAbs(folder) {
			folder = filepath.Join(filepath.Dir(csvPath), folder)
		}
	}
	r := csv.NewReader(io.LimitReader(f, 1<<30))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	validCol := -1
	row := 0
	var files, labels []string
	var isValid []bool
	bad := 0
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		row++
		if err != nil {
			return nil, &FormatError{File: csvPath, Row: row, Msg: err.Error()}
		}
		if row == 1 && c.header {
			for i, h := range rec {
				if c.validCol != "" && strings.TrimSpace(h) == c.validCol {
					validCol = i
				}
			}
			if c.validCol != "" && validCol < 0 {
				return nil, &FormatError{File: csvPath, Row: row, Msg: fmt.Sprintf("no column %q in the header %q", c.validCol, strings.Join(rec, ","))}
			}
			continue
		}
		if c.fnCol >= len(rec) || c.labelCol >= len(rec) || (validCol >= 0 && validCol >= len(rec)) {
			return nil, &FormatError{File: csvPath, Row: row, Msg: fmt.Sprintf("%d columns: want file column %d and label column %d", len(rec), c.fnCol, c.labelCol)}
		}
		name, label := strings.TrimSpace(rec[c.fnCol]), strings.TrimSpace(rec[c.labelCol])
		if name != "" {
			name += c.suffix
		}
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(folder, name)
		}
		var problem string
		switch st, err := os.Stat(p); {
		case name == "":
			problem = "empty file name"
		case !c.outside && !inside(folder, name):
			problem = fmt.Sprintf("file %q is outside the data folder %s (AllowOutsidePaths lets a CSV name any file)", name, folder)
		case err != nil:
			problem = err.Error()
			if errors.Is(err, fs.ErrNotExist) {
				problem = fmt.Sprintf("file %s does not exist", p)
			}
		case st.IsDir():
			problem = fmt.Sprintf("file %s is a directory", p)
		case !st.Mode().IsRegular():
			problem = fmt.Sprintf("file %s is not a regular file (%v)", p, st.Mode().Type())
		case label == "":
			problem = "empty label"
		}
		if problem != "" {
			if !c.skipBad {
				return nil, &FormatError{File: csvPath, Row: row, Msg: problem}
			}
			bad++
			continue
		}
		files = append(files, p)
		labels = append(labels, label)
		if validCol >= 0 {
			v := strings.ToLower(strings.TrimSpace(rec[validCol]))
			isValid = append(isValid, v == "1" || v == "true")
		}
	}
	if bad > 0 {
		c.logger.Warn(fmt.Sprintf("vision: skipped %d bad rows of %s", bad, csvPath))
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("vision: %s names no image", csvPath)
	}
	return fromLabelled(files, labels, isValid, c)
}

// fromLabelled makes the loaders of labelled files: isValid marks the
// validation items, or nil to split by ValidPct with the seed.
func fromLabelled(files, labels []string, isValid []bool, c config) (*DataLoaders, error) {
	if len(files) == 0 {
		return nil, errors.New("vision: no labelled images")
	}
	vocab := slices.Clone(labels)
	slices.Sort(vocab)
	vocab = slices.Compact(vocab)
	ids := make([]int, len(labels))
	for i, l := range labels {
		ids[i], _ = slices.BinarySearch(vocab, l)
	}
	var tr, va []int
	if isValid == nil {
		tr, va = splitIndices(len(files), c.validPct, c.seed)
	} else {
		for i, v := range isValid {
			if v {
				va = append(va, i)
			} else {
				tr = append(tr, i)
			}
		}
	}
	pick := func(idx []int) *FileDataset {
		d := &FileDataset{Paths: make([]string, len(idx)), Labels: make([]int, len(idx)), Channels: c.channels}
		for k, i := range idx {
			d.Paths[k], d.Labels[k] = files[i], ids[i]
		}
		return d
	}
	return newDataLoadersConfig(pick(tr), pick(va), vocab, c)
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
