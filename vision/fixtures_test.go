package vision

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// formats are the image formats the fixtures are written in; webp is copied
// from testdata (x/image has no WebP encoder): the class colours have files
// of their own (testdata/gen_images.py).
var formats = []string{"png", "jpg", "gif", "bmp", "tif", "webp"}

// solid returns a w x h image of one colour.
func solid(w, h int, c color.NRGBA) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

// grayImage is a w x h grey ramp.
func grayImage(w, h int) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 255 / len(img.Pix))
	}
	return img
}

// encode writes img in a format.
func encode(t testing.TB, img image.Image, format string) []byte {
	t.Helper()
	var b bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&b, img)
	case "jpg":
		err = jpeg.Encode(&b, img, &jpeg.Options{Quality: 95})
	case "gif":
		err = gif.Encode(&b, img, nil)
	case "bmp":
		err = bmp.Encode(&b, img)
	case "tif":
		err = tiff.Encode(&b, img, nil)
	case "webp":
		// A class's own colour has a committed file; anything else gets
		// tiny.webp.
		name := "tiny.webp"
		if nrgba, ok := img.(*image.NRGBA); ok {
			c := nrgba.NRGBAAt(0, 0)
			for cl, cc := range classColours {
				if c == cc {
					name = cl + ".webp"
				}
			}
		}
		data, rerr := os.ReadFile(filepath.Join("testdata", name))
		if rerr != nil {
			t.Fatal(rerr)
		}
		return data
	default:
		t.Fatalf("unknown format %s", format)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// classColours gives each fixture class a colour its images are painted in.
var classColours = map[string]color.NRGBA{
	"cat": {200, 30, 30, 255},
	"dog": {30, 200, 30, 255},
	"emu": {30, 30, 200, 255},
}

// makeClassTree writes perFormat images per format per class under dir/class.
// It returns the number of files written per class.
func makeClassTree(t testing.TB, dir string, classes []string, perFormat int) int {
	t.Helper()
	n := 0
	for _, cl := range classes {
		n = 0
		for _, f := range formats {
			for k := 0; k < perFormat; k++ {
				img := solid(12+k, 10, classColours[cl])
				writeFile(t, filepath.Join(dir, cl, cl+"_"+f+string(rune('a'+k))+"."+f), encode(t, img, f))
				n++
			}
		}
	}
	return n
}

// idxBytes builds an IDX file of unsigned bytes.
func idxBytes(dims []int, vals []byte) []byte {
	b := []byte{0, 0, 8, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, uint32(d))
	}
	return append(b, vals...)
}

func gzipBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// fakeMNIST writes the four IDX files of an n-train, m-test set to dir;
// image i of each split is filled with the byte i and labelled i%10.
func fakeMNIST(t testing.TB, dir string, n, m int, gz bool) {
	t.Helper()
	for _, s := range []struct {
		prefix string
		n      int
	}{{"train", n}, {"t10k", m}} {
		px := make([]byte, s.n*28*28)
		lb := make([]byte, s.n)
		for i := 0; i < s.n; i++ {
			for j := 0; j < 784; j++ {
				px[i*784+j] = byte(i)
			}
			lb[i] = byte(i % 10)
		}
		ib := idxBytes([]int{s.n, 28, 28}, px)
		lbb := idxBytes([]int{s.n}, lb)
		in, ln := s.prefix+"-images-idx3-ubyte", s.prefix+"-labels-idx1-ubyte"
		if gz {
			ib, lbb = gzipBytes(t, ib), gzipBytes(t, lbb)
			in, ln = in+".gz", ln+".gz"
		}
		writeFile(t, filepath.Join(dir, in), ib)
		writeFile(t, filepath.Join(dir, ln), lbb)
	}
}
