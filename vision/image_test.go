package vision

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fastgo-ml/fastgo/render"
	"github.com/fastgo-ml/fastgo/tensor"
)

func TestDecodeEveryFormat(t *testing.T) {
	c := color.NRGBA{200, 100, 50, 255}
	for _, f := range formats {
		t.Run(f, func(t *testing.T) {
			data := encode(t, solid(6, 4, c), f)
			x, err := DecodeImage(data, 3)
			if err != nil {
				t.Fatal(err)
			}
			if s := x.Shape(); s[0] != 3 || s[1] != 4 || s[2] != 6 {
				t.Fatalf("shape %v", s)
			}
			want := [3]float32{200.0 / 255, 100.0 / 255, 50.0 / 255}
			tol := float32(0.02)
			if f == "gif" {
				tol = 0.25 // the Plan 9 palette
			}
			if f == "webp" {
				// testdata/tiny.webp: pixel (x, y) is (40x, 60y, 200).
				want = [3]float32{40 * 3 / 255.0, 60 * 2 / 255.0, 200 / 255.0}
				tol = 1e-6
			}
			for ch := 0; ch < 3; ch++ {
				if got := x.At(ch, 2, 3); math.Abs(float64(got-want[ch])) > float64(tol) {
					t.Errorf("channel %d: %v, want %v", ch, got, want[ch])
				}
			}
			g, err := DecodeImage(data, 1)
			if err != nil {
				t.Fatal(err)
			}
			if g.Dim(0) != 1 {
				t.Errorf("grey shape %v", g.Shape())
			}
		})
	}
}

func TestImageRoundTrip(t *testing.T) {
	g := tensor.NewRNG(1)
	for _, c := range []int{1, 3} {
		x := tensor.Uniform[float32](g, 0, 1, c, 5, 7)
		img, err := render.Image(x)
		if err != nil {
			t.Fatal(err)
		}
		y, err := FromImage(img, c)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range x.Data() {
			if d := math.Abs(float64(v - y.Data()[i])); d > 0.5/255+1e-6 {
				t.Fatalf("channels %d: element %d: %v -> %v", c, i, v, y.Data()[i])
			}
		}
	}
	if _, err := render.Image(tensor.Zeros(2, 3, 3)); err == nil {
		t.Error("2 channels: no error")
	}
	// Grey input to three channels and alpha handling.
	gray := image.NewGray(image.Rect(0, 0, 2, 2))
	gray.Pix[3] = 255
	x, _ := FromImage(gray, 3)
	if x.At(2, 1, 1) != 1 || x.At(0, 0, 0) != 0 {
		t.Errorf("grey to RGB: %v", x.Data())
	}
	rgba := image.NewRGBA(image.Rect(0, 0, 1, 1))
	rgba.Pix = []uint8{50, 0, 0, 128} // premultiplied: 100% red at half alpha is ~100
	x, _ = FromImage(rgba, 3)
	if v := x.At(0, 0, 0); math.Abs(float64(v)-100.0/255) > 0.01 {
		t.Errorf("un-premultiplied red %v", v)
	}
}

func TestDecodeImageBad(t *testing.T) {
	good := encode(t, solid(8, 8, color.NRGBA{1, 2, 3, 255}), "png")
	jpg := encode(t, solid(64, 64, color.NRGBA{1, 2, 3, 255}), "jpg")
	for name, data := range map[string][]byte{
		"empty":          nil,
		"garbage":        []byte("not an image at all"),
		"truncated png":  good[:len(good)/2],
		"truncated jpeg": jpg[:len(jpg)/2],
	} {
		if _, err := DecodeImage(data, 3); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// A header that claims a huge image is refused before decoding.
	var b bytes.Buffer
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 1, 1)))
	huge := b.Bytes()
	huge[16], huge[17], huge[18], huge[19] = 0, 1, 0, 0 // width 65536
	huge[20], huge[21], huge[22], huge[23] = 0, 1, 0, 0 // height 65536
	binary.BigEndian.PutUint32(huge[29:], crc32.ChecksumIEEE(huge[12:29]))
	_, err := DecodeImage(huge, 3)
	if err == nil || !strings.Contains(err.Error(), "MaxImagePixels") {
		t.Errorf("huge header: %v", err)
	}
	// LoadImage names the file.
	p := filepath.Join(t.TempDir(), "cut.png")
	os.WriteFile(p, good[:40], 0o644)
	if _, err := LoadImage(p, 3); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("error %v does not name %s", err, p)
	}
}

// opaque hides an image's concrete type, forcing FromImage's generic path.
type opaque struct{ image.Image }

// TestFromImageFastPaths checks that each specialised conversion gives what
// the generic color.Model path gives, on sub-images with an offset origin
// and every Y'CbCr subsampling.
func TestFromImageFastPaths(t *testing.T) {
	g := tensor.NewRNG(9)
	fill := func(p []uint8) {
		for i := range p {
			p[i] = uint8(g.IntN(256))
		}
	}
	r := image.Rect(-3, 2, 14, 11)
	sub := image.Rect(-1, 3, 12, 10)
	var imgs []image.Image
	gray := image.NewGray(r)
	fill(gray.Pix)
	imgs = append(imgs, gray, gray.SubImage(sub))
	rgba := image.NewRGBA(r)
	fill(rgba.Pix)
	for i := 0; i < len(rgba.Pix); i += 4 { // valid premultiplied values
		a := rgba.Pix[i+3]
		for k := 0; k < 3; k++ {
			rgba.Pix[i+k] = uint8(int(rgba.Pix[i+k]) * int(a) / 255)
		}
	}
	imgs = append(imgs, rgba, rgba.SubImage(sub))
	nrgba := image.NewNRGBA(r)
	fill(nrgba.Pix)
	imgs = append(imgs, nrgba, nrgba.SubImage(sub))
	pal := image.NewPaletted(r, color.Palette{color.RGBA{1, 2, 3, 255}, color.RGBA{200, 100, 0, 255}, color.NRGBA{9, 99, 199, 128}})
	for i := range pal.Pix {
		pal.Pix[i] = uint8(g.IntN(3))
	}
	imgs = append(imgs, pal, pal.SubImage(sub))
	// An index past the palette (which image.Paletted.At panics on) is black.
	short := image.NewPaletted(image.Rect(0, 0, 2, 1), color.Palette{color.White})
	short.Pix[1] = 7
	if x, err := FromImage(short, 3); err != nil || x.At(0, 0, 0) != 1 || x.At(0, 0, 1) != 0 {
		t.Errorf("index past the palette: %v %v", x, err)
	}
	for _, ratio := range []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	} {
		y := image.NewYCbCr(r, ratio)
		fill(y.Y)
		fill(y.Cb)
		fill(y.Cr)
		imgs = append(imgs, y, y.SubImage(sub))
	}
	for i, img := range imgs {
		for _, c := range []int{1, 3} {
			fast, err := FromImage(img, c)
			if err != nil {
				t.Fatal(err)
			}
			slow, _ := FromImage(opaque{img}, c)
			for k, v := range fast.Data() {
				if d := math.Abs(float64(v - slow.Data()[k])); d > 1e-6 {
					t.Fatalf("image %d (%T %v), %d channels: element %d is %v, generic path %v", i, img, img.Bounds(), c, k, v, slow.Data()[k])
				}
			}
		}
	}
}

// TestPixelBudget: decodes whose images do not fit the budget together wait
// for each other; one image larger than the budget still gets its turn.
func TestPixelBudget(t *testing.T) {
	old := MaxPixelsInFlight
	defer func() { MaxPixelsInFlight = old }()
	MaxPixelsInFlight = 150
	a := acquirePixels(100)
	got := make(chan int, 1)
	go func() { got <- acquirePixels(100) }()
	select {
	case <-got:
		t.Fatal("a second image of 100 pixels started with 100 of 150 in flight")
	case <-time.After(50 * time.Millisecond):
	}
	releasePixels(a)
	b := <-got
	big := make(chan int, 1)
	go func() { big <- acquirePixels(1000) }() // waits for b, then runs alone
	releasePixels(b)
	releasePixels(<-big)
	inFlight.Lock()
	defer inFlight.Unlock()
	if inFlight.used != 0 {
		t.Fatalf("%d pixels still counted after every release", inFlight.used)
	}
}
