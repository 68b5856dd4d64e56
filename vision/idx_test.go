package vision

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDecodeIDX(t *testing.T) {
	vals := []byte{0, 1, 2, 3, 4, 5, 250, 255}
	raw := idxBytes([]int{2, 2, 2}, vals)
	for _, tc := range []struct {
		name string
		data []byte
	}{{"raw", raw}, {"gzip", gzipBytes(t, raw)}} {
		t.Run(tc.name, func(t *testing.T) {
			dims, got, err := DecodeIDX(tc.data)
			if err != nil {
				t.Fatal(err)
			}
			if len(dims) != 3 || dims[0] != 2 || dims[1] != 2 || dims[2] != 2 {
				t.Errorf("dims %v", dims)
			}
			if !bytes.Equal(got, vals) {
				t.Errorf("values %v, want %v", got, vals)
			}
		})
	}
}

func TestDecodeIDXBad(t *testing.T) {
	good := idxBytes([]int{3, 2}, []byte{1, 2, 3, 4, 5, 6})
	huge := idxBytes([]int{1 << 30, 1 << 30, 4}, []byte{1, 2, 3})
	cases := []struct {
		name, want string
		data       []byte
	}{
		{"empty", "shorter than its 4-byte magic", nil},
		{"magic", "magic", []byte{1, 2, 8, 1, 0, 0, 0, 0}},
		{"type", "data type 0x0d", []byte{0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0}},
		{"ndims", "0 dimensions", []byte{0, 0, 8, 0}},
		{"header cut", "cut short", []byte{0, 0, 8, 3, 0, 0}},
		{"too few", "but 5 bytes follow", good[:len(good)-1]},
		{"too many", "but 7 bytes follow", append(append([]byte(nil), good...), 9)},
		{"huge claim", "claim more than", huge},
		{"gzip too few", "but 5 bytes follow", gzipBytes(t, good[:len(good)-1])},
		{"gzip too many", "more data follows", gzipBytes(t, append(append([]byte(nil), good...), 9))},
		{"gzip huge claim", "claim more than", gzipBytes(t, huge)},
		{"gzip big claim", "but 3 bytes follow", gzipBytes(t, idxBytes([]int{1 << 20, 1 << 10}, []byte{1, 2, 3}))},
		{"gzip truncated", "gzip", gzipBytes(t, good)[:20]},
		{"gzip corrupt", "", func() []byte { b := gzipBytes(t, good); b[len(b)-6] ^= 0xff; return b }()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := DecodeIDX(tc.data)
			if err == nil {
				t.Fatal("no error")
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Errorf("error %T %v is not a *FormatError", err, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestLoadIDXNamesFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bad-images-idx3-ubyte")
	writeFile(t, p, idxBytes([]int{10, 28, 28}, make([]byte, 100)))
	_, _, err := LoadIDX(p)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "7840 bytes") {
		t.Fatalf("error %v does not name the file and the claim", err)
	}
}

func TestIDXImagesCountsDisagree(t *testing.T) {
	img := idxBytes([]int{3, 2, 2}, make([]byte, 12))
	lab := idxBytes([]int{2}, []byte{1, 2})
	_, err := IDXImages(img, lab, "i.idx", "l.idx")
	if err == nil || !strings.Contains(err.Error(), "l.idx") || !strings.Contains(err.Error(), "2 labels for 3 images") {
		t.Fatalf("error %v", err)
	}
	_, err = IDXImages(lab, lab, "i.idx", "l.idx")
	if err == nil || !strings.Contains(err.Error(), "i.idx") {
		t.Fatalf("error %v", err)
	}
}

func TestReadMNIST(t *testing.T) {
	for _, gz := range []bool{false, true} {
		dir := t.TempDir()
		fakeMNIST(t, dir, 30, 12, gz)
		train, test, err := ReadMNIST(dir)
		if err != nil {
			t.Fatal(err)
		}
		if train.Len() != 30 || test.Len() != 12 {
			t.Fatalf("lengths %d %d", train.Len(), test.Len())
		}
		if s := train.X.Shape(); s[0] != 30 || s[1] != 1 || s[2] != 28 || s[3] != 28 {
			t.Errorf("shape %v", s)
		}
		if got := train.X.Data()[7*784+5]; got != 7.0/255 {
			t.Errorf("pixel %v, want %v", got, 7.0/255)
		}
		if test.Y[11] != 1 {
			t.Errorf("label %d", test.Y[11])
		}
	}
	// A missing file is named.
	dir := t.TempDir()
	fakeMNIST(t, dir, 3, 3, true)
	os.Remove(filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"))
	if _, _, err := ReadMNIST(dir); err == nil || !strings.Contains(err.Error(), "t10k-labels-idx1-ubyte") {
		t.Fatalf("error %v", err)
	}
}
