package vision

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// fixtureSource is a data set of two small gzip IDX files served by srv.
type fixture struct {
	src   *dataSource
	files map[string][]byte // name -> gzip bytes
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{files: map[string][]byte{}}
	src := &dataSource{name: "toy"}
	for _, n := range []string{"a-images-idx3-ubyte", "a-labels-idx1-ubyte"} {
		raw := idxBytes([]int{2, 2, 2}, []byte(n[:8]))
		if strings.Contains(n, "labels") {
			raw = idxBytes([]int{2}, []byte{3, 4})
		}
		sum := sha256.Sum256(raw)
		src.files = append(src.files, dataFile{n + ".gz", int64(len(raw)), hex.EncodeToString(sum[:])})
		f.files[n+".gz"] = gzipBytes(t, raw)
	}
	f.src = src
	return f
}

// isolate points every lookup location at empty temporary directories.
func isolate(t *testing.T) (env, cache string) {
	env, cache = t.TempDir(), t.TempDir()
	t.Setenv("FASTGO_DATA", env)
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv("HOME", t.TempDir())
	t.Setenv("FASTGO_OFFLINE", "")
	return env, cache
}

func TestDownload(t *testing.T) {
	fx := newFixture(t)
	var mode atomic.Value
	mode.Store("good")
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		data, ok := fx.files[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		switch mode.Load() {
		case "bad checksum":
			raw := idxBytes([]int{2, 2, 2}, []byte("XXXXXXXX"))
			if strings.Contains(r.URL.Path, "labels") {
				raw = idxBytes([]int{2}, []byte{9, 9})
			}
			data = gzipBytes(t, raw)
		case "truncated":
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			w.Write(data[:len(data)/2])
			return
		case "truncated, no length":
			w.Write(data[:len(data)/2])
			w.(http.Flusher).Flush() // chunked: the client cannot tell
			return
		case "too long":
			w.Write(append(data, make([]byte, 1<<17)...))
			return
		case "not gzip":
			data = []byte("<html>gateway error</html>")
		case "404":
			http.NotFound(w, r)
			return
		}
		w.Write(data)
	}))
	defer srv.Close()
	fx.src.baseURL = srv.URL + "/"

	for _, bad := range []struct{ mode, want string }{
		{"bad checksum", "SHA-256"},
		{"truncated", "GET"},
		{"truncated, no length", "corrupt gzip data"},
		{"too long", "more than the"},
		{"not gzip", "not a gzip file"},
		{"404", "404"},
	} {
		t.Run(bad.mode, func(t *testing.T) {
			env, _ := isolate(t)
			mode.Store(bad.mode)
			_, err := findData(context.Background(), "toy", "", fx.src, srv.Client())
			if err == nil || !strings.Contains(err.Error(), bad.want) {
				t.Fatalf("error %v does not contain %q", err, bad.want)
			}
			// The error says where to put the files.
			if !strings.Contains(err.Error(), "a-images-idx3-ubyte.gz") || !strings.Contains(err.Error(), filepath.Join(env, "toy")) {
				t.Errorf("error %v does not say where to put what", err)
			}
			// Nothing partial is left to count as data.
			left, _ := os.ReadDir(filepath.Join(env, "toy"))
			for _, e := range left {
				t.Errorf("left behind: %s", e.Name())
			}
		})
	}

	t.Run("good", func(t *testing.T) {
		env, _ := isolate(t)
		mode.Store("good")
		// What a killed download leaves behind does not count.
		writeFile(t, filepath.Join(env, "toy", "a-images-idx3-ubyte.gz.part-123"), fx.files["a-images-idx3-ubyte.gz"][:10])
		dir, err := findData(context.Background(), "toy", "", fx.src, srv.Client())
		if err != nil {
			t.Fatal(err)
		}
		if dir != filepath.Join(env, "toy") {
			t.Errorf("downloaded into %s", dir)
		}
		ds, err := IDXImages(mustRead(t, filepath.Join(dir, "a-images-idx3-ubyte.gz")), mustRead(t, filepath.Join(dir, "a-labels-idx1-ubyte.gz")), "i", "l")
		if err != nil || ds.Len() != 2 || ds.Y[1] != 4 {
			t.Fatalf("downloaded data: %v", err)
		}
		// A second lookup finds the files without a request.
		n := hits.Load()
		if _, err := findData(context.Background(), "toy", "", fx.src, srv.Client()); err != nil || hits.Load() != n {
			t.Errorf("second lookup: %v, %d new requests", err, hits.Load()-n)
		}
	})

	t.Run("offline", func(t *testing.T) {
		isolate(t)
		t.Setenv("FASTGO_OFFLINE", "1")
		n := hits.Load()
		_, err := findData(context.Background(), "toy", "", fx.src, srv.Client())
		if err == nil || !strings.Contains(err.Error(), "FASTGO_OFFLINE") || hits.Load() != n {
			t.Errorf("offline: %v", err)
		}
	})
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFindDataOrder(t *testing.T) {
	fx := newFixture(t)
	put := func(dir string) {
		for n, b := range fx.files {
			writeFile(t, filepath.Join(dir, n), b)
		}
	}
	env, cache := isolate(t)
	deb := t.TempDir()
	fx.src.debianDir = deb
	find := func(dir string) string {
		t.Helper()
		got, err := findData(context.Background(), "toy", dir, fx.src, http.DefaultClient)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	put(deb)
	if got := find(""); got != deb {
		t.Errorf("found %s, want the Debian dir", got)
	}
	put(filepath.Join(cache, "fastgo", "toy"))
	if got := find(""); got != filepath.Join(cache, "fastgo", "toy") {
		t.Errorf("found %s, want the cache", got)
	}
	put(filepath.Join(env, "toy"))
	if got := find(""); got != filepath.Join(env, "toy") {
		t.Errorf("found %s, want FASTGO_DATA", got)
	}
	explicit := t.TempDir()
	put(explicit)
	if got := find(explicit); got != explicit {
		t.Errorf("found %s, want the explicit dir", got)
	}
	// Uncompressed files count too.
	raw := t.TempDir()
	writeFile(t, filepath.Join(raw, "a-images-idx3-ubyte"), []byte{1})
	writeFile(t, filepath.Join(raw, "a-labels-idx1-ubyte"), []byte{1})
	if got := find(raw); got != raw {
		t.Errorf("found %s, want the dir of raw files", got)
	}
	if _, err := FindData("no-such-set", ""); err == nil {
		t.Error("unknown name: no error")
	}
}

// TestFashionMNISTChecksums checks the recorded sizes and SHA-256s of the
// official files against the embedded test split and, when installed,
// Debian's full set.
func TestFashionMNISTChecksums(t *testing.T) {
	for _, tc := range []struct {
		file string
		data func() []byte
	}{
		{"t10k-images-idx3-ubyte.gz", embeddedImages},
		{"t10k-labels-idx1-ubyte.gz", embeddedLabels},
		{"train-images-idx3-ubyte.gz", nil},
		{"train-labels-idx1-ubyte.gz", nil},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var data []byte
			if tc.data != nil {
				data = tc.data()
			} else {
				if testing.Short() {
					t.Skip("-short")
				}
				var err error
				if data, err = os.ReadFile(filepath.Join(debianFMNIST, tc.file)); err != nil {
					t.Skip("full Fashion-MNIST not installed")
				}
			}
			var f dataFile
			for _, g := range fashionMNISTFiles {
				if g.name == tc.file {
					f = g
				}
			}
			if err := checkContents(bytes.NewReader(data), f); err != nil {
				t.Fatal(err)
			}
			// One changed byte of the contents fails the check.
			raw, err := gunzip(data)
			if err != nil {
				t.Fatal(err)
			}
			raw[len(raw)/2] ^= 1
			var z bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&z, gzip.BestSpeed)
			zw.Write(raw)
			zw.Close()
			if err := checkContents(&z, f); err == nil || !strings.Contains(err.Error(), "SHA-256") {
				t.Errorf("a changed byte: %v", err)
			}
		})
	}
}

func gunzip(data []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

// TestFindDataContext: a cancelled context stops the download, and the
// error still says where to put the files.
func TestFindDataContext(t *testing.T) {
	fx := newFixture(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	fx.src.baseURL = srv.URL + "/"
	isolate(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := findData(ctx, "toy", "", fx.src, srv.Client())
	if err == nil || !strings.Contains(err.Error(), "context canceled") || !strings.Contains(err.Error(), "put a-images-idx3-ubyte.gz") {
		t.Errorf("error %v", err)
	}
}
