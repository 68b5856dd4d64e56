package vision

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// dataFile is one file of a known data set. size and sha256 describe the
// uncompressed contents, which a download must match; they do not depend on
// the gzip header, which mirrors and packagers rewrite (Debian's copies of
// Fashion-MNIST differ from the official ones in the header's file name and
// time only).
type dataFile struct {
	name   string // as served, e.g. "t10k-images-idx3-ubyte.gz"
	size   int64  // uncompressed bytes
	sha256 string // of the uncompressed bytes
}

// dataSource says where a named data set may be found.
type dataSource struct {
	name      string
	files     []dataFile
	baseURL   string // "" when there is no download
	debianDir string
	// present reports whether dir holds the data set; nil means "every
	// file of files, compressed or not".
	present func(dir string) bool
	hint    string
}

var fashionMNISTFiles = []dataFile{
	{"train-images-idx3-ubyte.gz", 47040016, "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"},
	{"train-labels-idx1-ubyte.gz", 60008, "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"},
	{"t10k-images-idx3-ubyte.gz", 7840016, "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"},
	{"t10k-labels-idx1-ubyte.gz", 10008, "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"},
}

// FashionMNISTURL is the official address of the Fashion-MNIST files.
const FashionMNISTURL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"

var dataSources = map[string]*dataSource{
	"fashion-mnist": {
		name:      "fashion-mnist",
		files:     fashionMNISTFiles,
		baseURL:   FashionMNISTURL,
		debianDir: "/usr/share/datasets/fashion-mnist",
		hint:      "or install Debian's dataset-fashion-mnist package",
	},
	"mnist": {
		name: "mnist",
		files: []dataFile{
			{name: "train-images-idx3-ubyte.gz"}, {name: "train-labels-idx1-ubyte.gz"},
			{name: "t10k-images-idx3-ubyte.gz"}, {name: "t10k-labels-idx1-ubyte.gz"},
		},
	},
	"cifar-10": {
		name:    "cifar-10",
		present: markerPresent("test_batch.bin", "cifar-10-batches-bin"),
		hint:    "(the binary version, cifar-10-binary.tar.gz, unpacked)",
	},
	"cifar-100": {
		name:    "cifar-100",
		present: markerPresent("test.bin", "cifar-100-binary"),
		hint:    "(the binary version, cifar-100-binary.tar.gz, unpacked)",
	},
}

func markerPresent(marker, sub string) func(string) bool {
	return func(dir string) bool {
		return fileExists(filepath.Join(dir, marker)) || fileExists(filepath.Join(dir, sub, marker))
	}
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Size() > 0
}

func (s *dataSource) isPresent(dir string) bool {
	if s.present != nil {
		return s.present(dir)
	}
	for _, f := range s.files {
		if !fileExists(filepath.Join(dir, f.name)) && !fileExists(filepath.Join(dir, strings.TrimSuffix(f.name, ".gz"))) {
			return false
		}
	}
	return true
}

// downloadClient fetches data sets; its timeout bounds a whole download.
var downloadClient = &http.Client{Timeout: 10 * time.Minute}

// FindData returns the directory that holds the named data set
// ("fashion-mnist", "mnist", "cifar-10" or "cifar-100"), looking in order in:
//
//  1. dir, when it is not empty;
//  2. $FASTGO_DATA/<name>, when FASTGO_DATA is set;
//  3. <user cache directory>/fastgo/<name> (os.UserCacheDir);
//  4. for Fashion-MNIST, /usr/share/datasets/fashion-mnist (Debian's
//     dataset-fashion-mnist package);
//  5. for Fashion-MNIST, a download from FashionMNISTURL into the first of
//     the directories 1-3, unless FASTGO_OFFLINE is set. Each file is
//     written to a temporary name, and renamed only after its uncompressed
//     size and SHA-256 match the official ones, so a partial or corrupt
//     download never counts as data.
//
// When all fail, the error says which files to put where.
func FindData(name, dir string) (string, error) {
	return FindDataContext(context.Background(), name, dir)
}

// FindDataContext is FindData with a context that bounds the download.
func FindDataContext(ctx context.Context, name, dir string) (string, error) {
	return findData(ctx, name, dir, dataSources[name], downloadClient)
}

func findData(ctx context.Context, name, dir string, src *dataSource, client *http.Client) (string, error) {
	if src == nil {
		return "", fmt.Errorf("vision: FindData: unknown data set %q", name)
	}
	var cands []string
	if dir != "" {
		cands = append(cands, dir)
	}
	if env := os.Getenv("FASTGO_DATA"); env != "" {
		cands = append(cands, filepath.Join(env, name))
	}
	if cache, err := os.UserCacheDir(); err == nil {
		cands = append(cands, filepath.Join(cache, "fastgo", name))
	}
	dest := ""
	if len(cands) > 0 {
		dest = cands[0]
	}
	if src.debianDir != "" {
		cands = append(cands, src.debianDir)
	}
	for _, c := range cands {
		if src.isPresent(c) {
			return c, nil
		}
	}
	var why error
	switch {
	case src.baseURL == "":
		why = errors.New("it has no download address")
	case os.Getenv("FASTGO_OFFLINE") != "":
		why = errors.New("FASTGO_OFFLINE is set")
	case dest == "":
		why = errors.New("there is no directory to download into (set FASTGO_DATA)")
	default:
		why = download(ctx, client, src, dest)
		if why == nil {
			return dest, nil
		}
	}
	var names []string
	for _, f := range src.files {
		names = append(names, f.name)
	}
	what := strings.Join(names, ", ")
	if what == "" {
		what = "its files"
	}
	return "", fmt.Errorf("vision: data set %s not found and not downloaded (%v): put %s in one of %s %s",
		name, why, what, strings.Join(cands, ", "), src.hint)
}

// download fetches every file of src that dest lacks.
func download(ctx context.Context, client *http.Client, src *dataSource, dest string) error {
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	for _, f := range src.files {
		if fileExists(filepath.Join(dest, f.name)) {
			continue
		}
		if err := downloadFile(ctx, client, src.baseURL+f.name, filepath.Join(dest, f.name), f); err != nil {
			return err
		}
	}
	return nil
}

// downloadFile fetches url to path through a temporary file, checking the
// uncompressed size and SHA-256 before the rename that makes it count.
func downloadFile(ctx context.Context, client *http.Client, url, path string, f dataFile) (err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	// A gzip file is never much larger than its contents.
	limit := f.size + f.size/100 + 1<<16
	if resp.ContentLength > limit {
		return fmt.Errorf("GET %s: %d bytes is more than the %d expected", url, resp.ContentLength, limit)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".part-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	n, err := io.Copy(tmp, io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return fmt.Errorf("GET %s: %w after %d bytes", url, err, n)
	}
	if n > limit {
		return fmt.Errorf("GET %s: more than the %d bytes expected", url, limit)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return fmt.Errorf("GET %s: %d of %d bytes", url, n, resp.ContentLength)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := checkContents(tmp, f); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// checkContents checks the uncompressed size and SHA-256 of a gzip file.
func checkContents(r io.Reader, f dataFile) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("not a gzip file: %w", err)
	}
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(zr, f.size+1))
	if err != nil {
		return fmt.Errorf("corrupt gzip data after %d bytes: %w", n, err)
	}
	if n != f.size {
		return fmt.Errorf("%d bytes uncompressed, want %d", n, f.size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.sha256 {
		return fmt.Errorf("SHA-256 of the contents is %s, want %s", got, f.sha256)
	}
	return nil
}
