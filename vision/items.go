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

	"github.com/fastgo-ml/fastgo"
)

// GetImageFiles returns a GetItems that lists the image files (by
// ImageExtensions) under the source folder, recursively, in lexical order
// (fastai's get_image_files). With folders, it lists only the images inside
// those sub-folders of the source, in the order given (fastai's folders=); a
// named folder that does not exist is passed over, as fastai does. Each
// item's Folder is the folder it was listed in.
func GetImageFiles(folders ...string) ItemsFunc {
	return func(source string) ([]Item, error) {
		if _, err := os.Stat(source); err != nil {
			return nil, fmt.Errorf("vision: %w", err)
		}
		roots := []string{source}
		if len(folders) > 0 {
			roots = roots[:0]
			for _, f := range folders {
				dir := filepath.Join(source, f)
				if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
					continue
				}
				roots = append(roots, dir)
			}
		}
		var items []Item
		for _, root := range roots {
			files, err := imageFiles(root)
			if err != nil {
				return nil, err
			}
			for _, f := range files {
				items = append(items, Item{Path: f, Folder: root})
			}
		}
		return items, nil
	}
}

// ClassFolders returns a GetItems for a folder of class folders (the layout
// of ImageFolder and fastai's from_folder): the images inside each
// sub-folder of the source, or with folders, of each named sub-folder
// (ClassFolders("train", "valid")), at any depth inside it. Files beside
// the class folders and folders whose names start with "." are passed over.
// A class folder without images is left out with a *PartialError (an error
// naming it, or a warning with SkipBadItems); a listed folder without any
// class folder holding images is an error. FolderLabel labels the items by
// their class folder, FolderSplitter splits them by the named folder they
// are in.
func ClassFolders(folders ...string) ItemsFunc {
	return func(source string) ([]Item, error) {
		roots := []string{source}
		if len(folders) > 0 {
			roots = roots[:0]
			for _, f := range folders {
				roots = append(roots, filepath.Join(source, f))
			}
		}
		var items []Item
		var empty, places []string
		for _, root := range roots {
			its, e, err := classFolderItems(root)
			if err != nil {
				return nil, err
			}
			items = append(items, its...)
			if len(e) > 0 {
				empty = append(empty, e...)
				places = append(places, fmt.Sprintf("%s (%d)", root, len(e)))
			}
		}
		if len(empty) > 0 {
			in := strings.Join(places, ", ")
			if len(places) == 1 {
				in = filepath.Dir(empty[0])
			}
			return items, &PartialError{
				Err:     fmt.Errorf("vision: class folder %s has no images", empty[0]),
				Warning: fmt.Sprintf("vision: skipped %d empty class folders in %s", len(empty), in),
			}
		}
		return items, nil
	}
}

// classFolderItems lists the images of each class sub-folder of root, and
// the class folders without images.
func classFolderItems(root string) (items []Item, empty []string, err error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, nil, fmt.Errorf("vision: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		sub := filepath.Join(root, e.Name())
		files, err := imageFiles(sub)
		if err != nil {
			return nil, nil, err
		}
		if len(files) == 0 {
			empty = append(empty, sub)
		}
		for _, f := range files {
			items = append(items, Item{Path: f, Folder: root})
		}
	}
	if len(items) == 0 {
		msg := fmt.Sprintf("vision: %s has no class folders with images", root)
		if len(empty) > 0 {
			msg += fmt.Sprintf(" (class folder %s has none)", empty[0])
		}
		return nil, nil, errors.New(msg)
	}
	return items, empty, nil
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

// CSVRows returns a GetItems that reads the rows of the CSV file given as
// the source (fastai's from_csv reads a table the same way): one item per
// row after the header (NoCSVHeader() when the file has none), its Row
// holding the fields, its Folder the folder the file names are relative
// to: the CSV's own by default, or Folder(dir), itself taken inside the
// CSV's folder when relative. Only those two options apply; any other is
// an error. A row that csv cannot parse is an error naming the CSV and the
// row. GetX must name the file's column: ColReader(0), say.
func CSVRows(opts ...Option) ItemsFunc {
	c := newConfig(opts)
	var bad []string
	for _, name := range c.given {
		if name != "NoCSVHeader" && name != "Folder" {
			bad = append(bad, name)
		}
	}
	return func(source string) ([]Item, error) {
		if len(bad) > 0 {
			return nil, fmt.Errorf("vision: CSVRows takes NoCSVHeader and Folder, not %s", strings.Join(bad, ", "))
		}
		return readCSVRows(source, c.header, c.folder)
	}
}

// readCSVRows reads the rows of csvPath: the first is the header when
// header is true; file names are relative to folder, taken inside the
// CSV's own folder ("" for the CSV's folder).
func readCSVRows(csvPath string, header bool, folder string) ([]Item, error) {
	f, err := os.Open(csvPath)
	if err != nil {
		return nil, fmt.Errorf("vision: %w", err)
	}
	defer f.Close()
	switch {
	case folder == "":
		folder = filepath.Dir(csvPath)
	case !filepath.IsAbs(folder):
		folder = filepath.Join(filepath.Dir(csvPath), folder)
	}
	r := csv.NewReader(io.LimitReader(f, 1<<30))
	r.FieldsPerRecord = -1
	var names []string
	var items []Item
	for n := 1; ; n++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return items, nil
		}
		if err != nil {
			return nil, &FormatError{File: csvPath, Row: n, Msg: err.Error()}
		}
		if n == 1 && header {
			names = make([]string, len(rec))
			for i, h := range rec {
				names[i] = strings.TrimSpace(h)
			}
			continue
		}
		items = append(items, Item{Folder: folder, Row: &Row{Fields: rec, Header: names, File: csvPath, Number: n}})
	}
}

// ParentLabel labels an item by the name of the folder that holds its file
// (fastai's parent_label).
func ParentLabel(it Item) (string, error) {
	if it.Path == "" {
		return "", errors.New("ParentLabel: the item has no file path")
	}
	return filepath.Base(filepath.Dir(it.Path)), nil
}

// FolderLabel labels an item by the folder directly inside the item's
// Folder that holds it, however deep its file sits below: the class folder
// of ClassFolders' layout. For an image directly inside its class folder it
// is ParentLabel.
func FolderLabel(it Item) (string, error) {
	rel, err := filepath.Rel(it.Folder, it.Path)
	if err != nil || it.Path == "" || it.Folder == "" {
		return "", fmt.Errorf("FolderLabel: the file %q is not inside the item's folder %q", it.Path, it.Folder)
	}
	first, _, found := strings.Cut(filepath.ToSlash(rel), "/")
	if !found || first == ".." {
		return "", fmt.Errorf("FolderLabel: the file %q is not inside a sub-folder of %q", it.Path, it.Folder)
	}
	return first, nil
}

// ColReader returns the field of an item's row in column col (fastai's
// ColReader): col is the 0-based column or its name in the header. Spaces
// around the field are removed. A row too short for the column, a name the
// header lacks, a table without a header for a name, or an item that is not
// a row is a *FormatError (a fault of the table, never skipped). A negative
// col panics.
func ColReader[C int | string](col C) ItemFunc {
	if i, ok := any(col).(int); ok && i < 0 {
		panic(fastgo.Errorf("vision.ColReader(%d): a negative column", i))
	}
	return func(it Item) (string, error) {
		f, err := field(it, col)
		return strings.TrimSpace(f), err
	}
}

// field returns the field of it's row in column col (an index or a name).
func field[C int | string](it Item, col C) (string, error) {
	r := it.Row
	if r == nil {
		return "", &FormatError{File: it.Path, Msg: fmt.Sprintf("not a row of a table: no column %v", col)}
	}
	i := -1
	switch c := any(col).(type) {
	case int:
		i = c
	case string:
		if r.Header == nil {
			return "", &FormatError{File: r.File, Row: r.Number, Msg: fmt.Sprintf("no header row to find the column %q in", c)}
		}
		if i = slices.Index(r.Header, c); i < 0 {
			return "", &FormatError{File: r.File, Row: 1, Msg: fmt.Sprintf("no column %q in the header %q", c, strings.Join(r.Header, ","))}
		}
	}
	if i >= len(r.Fields) {
		return "", &FormatError{File: r.File, Row: r.Number, Msg: fmt.Sprintf("%d columns: no column %d", len(r.Fields), i)}
	}
	return r.Fields[i], nil
}

// RegexLabeller labels an item by the first group of re found in its
// file's base name (fastai's RegexLabeller as from_name_re applies it, to
// the name; fastai's own searches the whole path). A name re does not match
// is a bad item. A re without a group panics.
func RegexLabeller(re *regexp.Regexp) ItemFunc {
	if re == nil {
		panic(fastgo.Errorf("vision.RegexLabeller(nil)"))
	}
	if re.NumSubexp() < 1 {
		panic(fastgo.Errorf("vision.RegexLabeller(%q): the pattern has no group to take the label from", re))
	}
	return func(it Item) (string, error) {
		name := filepath.Base(it.Path)
		m := re.FindStringSubmatch(name)
		if m == nil {
			return "", fmt.Errorf("the pattern %q does not match %q", re, name)
		}
		return m[1], nil
	}
}
