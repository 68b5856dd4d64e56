package vision

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif"  // GIF decoder
	_ "image/jpeg" // JPEG decoder
	_ "image/png"  // PNG decoder
	"io"
	"os"
	"strings"
	"sync"

	_ "golang.org/x/image/bmp"  // BMP decoder
	_ "golang.org/x/image/tiff" // TIFF decoder
	_ "golang.org/x/image/webp" // WebP decoder

	"github.com/fastgo-ml/fastgo/tensor"
)

// MaxImagePixels is the largest width*height that DecodeImage accepts. The
// dimensions are read from the file's header before any pixel buffer is
// allocated, so a hostile header cannot make the decoder allocate more.
var MaxImagePixels = 1 << 26

// MaxImageBytes is the largest image file LoadImage reads.
var MaxImageBytes int64 = 1 << 28

// MaxPixelsInFlight bounds the pixels of all the images being decoded at
// once, across a loader's workers and loaders: a decode waits until its
// image fits (an image of up to MaxImagePixels always gets its turn). With
// the defaults the decoders hold at most about 2 GiB (128 Mi pixels as an
// RGBA image and a float32 tensor), whatever the number of workers.
var MaxPixelsInFlight = 1 << 27

// inFlight is the budget MaxPixelsInFlight sets.
var inFlight = struct {
	sync.Mutex
	cond *sync.Cond
	used int
}{}

func init() { inFlight.cond = sync.NewCond(&inFlight.Mutex) }

// acquirePixels waits until n more pixels fit in the budget and takes them;
// it returns what to give back.
func acquirePixels(n int) int {
	n = min(n, MaxPixelsInFlight)
	inFlight.Lock()
	for inFlight.used > 0 && inFlight.used+n > MaxPixelsInFlight {
		inFlight.cond.Wait()
	}
	inFlight.used += n
	inFlight.Unlock()
	return n
}

func releasePixels(n int) {
	inFlight.Lock()
	inFlight.used -= n
	inFlight.Unlock()
	inFlight.cond.Broadcast()
}

// DecodeImage decodes a PNG, JPEG, GIF, BMP, TIFF or WebP image from data and
// returns it as a [channels,H,W] tensor in [0,1]. channels is 1 (grey, ITU-R
// 601 luma as PIL's "L") or 3 (RGB; alpha is dropped as PIL's convert("RGB")
// does). It never panics: a malformed image is an error.
func DecodeImage(data []byte, channels int) (*tensor.Tensor, error) {
	return decodeImage(data, channels, nil)
}

func decodeImage(data []byte, channels int, s *scratch) (t *tensor.Tensor, err error) {
	if channels != 1 && channels != 3 {
		return nil, fmt.Errorf("vision: %d channels: want 1 or 3", channels)
	}
	if len(data) == 0 {
		return nil, errors.New("vision: empty file")
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, decodeError(format, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("vision: %s image is empty (%dx%d)", format, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > int64(MaxImagePixels) {
		return nil, fmt.Errorf("vision: %s image is %dx%d, more than MaxImagePixels (%d)", format, cfg.Width, cfg.Height, MaxImagePixels)
	}
	defer releasePixels(acquirePixels(cfg.Width * cfg.Height))
	defer func() {
		// The decoders are not supposed to panic on bad input; this keeps
		// a bug in one of them from taking a training run down.
		if r := recover(); r != nil {
			t, err = nil, fmt.Errorf("vision: %s decoder panicked: %v", format, r)
		}
	}()
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, decodeError(format, err)
	}
	b := img.Bounds()
	if b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return nil, fmt.Errorf("vision: %s image header says %dx%d but %dx%d was decoded", format, cfg.Width, cfg.Height, b.Dx(), b.Dy())
	}
	var dst []float32
	if s != nil {
		dst = grow(&s.pix, channels*b.Dx()*b.Dy())
	} else {
		dst = make([]float32, channels*b.Dx()*b.Dy())
	}
	fromImageInto(dst, img, channels)
	return tensor.FromSlice(dst, channels, b.Dy(), b.Dx()), nil
}

// decodeError says what went wrong in a decoder's words, with the format.
func decodeError(format string, err error) error {
	switch {
	case errors.Is(err, image.ErrFormat):
		return errors.New("vision: not a PNG, JPEG, GIF, BMP, TIFF or WebP image")
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return fmt.Errorf("vision: %s image is truncated (%w)", format, err)
	case strings.HasPrefix(err.Error(), format+":"):
		return fmt.Errorf("vision: %w", err)
	}
	return fmt.Errorf("vision: %s: %w", format, err)
}

// LoadImage reads and decodes the image file at path (see DecodeImage). The
// error names the file.
func LoadImage(path string, channels int) (*tensor.Tensor, error) {
	return loadImage(path, channels, nil)
}

// loadImage is LoadImage in a worker's memory when s is not nil.
func loadImage(path string, channels int, s *scratch) (*tensor.Tensor, error) {
	var buf []byte
	if s != nil {
		buf = s.file
	}
	data, err := readFileInto(path, MaxImageBytes, buf)
	if s != nil && cap(data) > cap(s.file) {
		s.file = data[:0]
	}
	if err != nil {
		return nil, err
	}
	t, err := decodeImage(data, channels, s)
	if err != nil {
		return nil, fmt.Errorf("vision: %s: %w", path, unwrapVision(err))
	}
	return t, nil
}

// unwrapVision keeps "vision: a: vision: b" from stuttering.
func unwrapVision(err error) error {
	var fe *FormatError
	if errors.As(err, &fe) {
		return err
	}
	msg := err.Error()
	if len(msg) > 8 && msg[:8] == "vision: " {
		return errors.New(msg[8:])
	}
	return err
}

// readFileLimit reads a whole file, refusing one larger than limit bytes.
func readFileLimit(path string, limit int64) ([]byte, error) {
	return readFileInto(path, limit, nil)
}

// readFileInto is readFileLimit reading into buf's memory when it is large
// enough.
func readFileInto(path string, limit int64, buf []byte) ([]byte, error) {
	// Only regular files are read: opening a FIFO would wait for a writer,
	// reading a device would not end.
	if st, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("vision: %w", err)
	} else if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("vision: %s is not a regular file (%v)", path, st.Mode().Type())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("vision: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("vision: %w", err)
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("vision: %s: %d bytes is more than the limit (%d)", path, st.Size(), limit)
	}
	data := buf[:0]
	if int64(cap(data)) < st.Size()+1 {
		data = make([]byte, 0, st.Size()+1)
	}
	if st.Mode().IsRegular() && st.Size() > 0 {
		// The common case in one read: the size fstat gave (a file that
		// grows meanwhile is read as it was when opened).
		n, err := io.ReadFull(f, data[:st.Size()])
		if err != nil {
			return nil, fmt.Errorf("vision: %s: %w", path, err)
		}
		return data[:n], nil
	}
	for {
		n, err := f.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if err == io.EOF {
			return data, nil
		}
		if err != nil {
			return nil, fmt.Errorf("vision: %s: %w", path, err)
		}
		if len(data) == cap(data) {
			if int64(len(data)) > limit {
				return nil, fmt.Errorf("vision: %s: more than %d bytes", path, limit)
			}
			data = append(data, 0)[:len(data)]
		}
	}
}

// FromImage converts img to a [channels,H,W] tensor in [0,1]; channels is 1
// or 3. Grey images expand to three equal channels, colour images reduce to
// luma for one channel. Alpha is dropped (colour values are un-premultiplied).
func FromImage(img image.Image, channels int) (*tensor.Tensor, error) {
	if channels != 1 && channels != 3 {
		return nil, fmt.Errorf("vision: FromImage: %d channels: want 1 or 3", channels)
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("vision: FromImage: empty image %v", b)
	}
	d := make([]float32, channels*h*w)
	fromImageInto(d, img, channels)
	return tensor.FromSlice(d, channels, h, w), nil
}

// luma is PIL's L = R*299/1000 + G*587/1000 + B*114/1000, scaled to [0,1].
func luma(r, g, b uint8) float32 {
	return (0.299*float32(r) + 0.587*float32(g) + 0.114*float32(b)) * (1.0 / 255)
}

// fromImageInto writes img's pixels into d, [channels,H,W]. The common
// decoder outputs have loops of their own that read the pixel arrays
// directly; other images go through the color.Model interface.
func fromImageInto(d []float32, img image.Image, channels int) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	plane := w * h
	r, g, bl := d[:plane], d[:plane], d[:plane]
	if channels == 3 {
		g, bl = d[plane:2*plane], d[2*plane:3*plane]
	}
	put := func(i int, cr, cg, cb uint8) {
		if channels == 1 {
			r[i] = luma(cr, cg, cb)
			return
		}
		r[i], g[i], bl[i] = byteToFloat[cr], byteToFloat[cg], byteToFloat[cb]
	}
	switch m := img.(type) {
	case *image.Gray:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			out := r[y*w : (y+1)*w]
			for x, v := range row {
				out[x] = byteToFloat[v]
			}
		}
		if channels == 3 {
			copy(g, r)
			copy(bl, r)
		}
	case *image.YCbCr:
		ycbcrInto(r, g, bl, m, channels)
	case *image.RGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			for x := 0; x < w; x++ {
				p := row[4*x : 4*x+4 : 4*x+4]
				cr, cg, cb := p[0], p[1], p[2]
				if a := p[3]; a != 255 && a != 0 {
					cr, cg, cb = unpremul(cr, a), unpremul(cg, a), unpremul(cb, a)
				}
				put(y*w+x, cr, cg, cb)
			}
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			for x := 0; x < w; x++ {
				put(y*w+x, row[4*x], row[4*x+1], row[4*x+2])
			}
		}
	case *image.Paletted:
		pal := make([]color.NRGBA, 256)
		for i, c := range m.Palette {
			if i < len(pal) {
				pal[i] = color.NRGBAModel.Convert(c).(color.NRGBA)
			}
		}
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			for x, v := range row {
				c := pal[v] // indices past the palette are black, as image/gif's
				put(y*w+x, c.R, c.G, c.B)
			}
		}
	default:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				switch c := img.At(b.Min.X+x, b.Min.Y+y).(type) {
				case color.NRGBA: // straight colour: no round trip through premultiplied values
					put(y*w+x, c.R, c.G, c.B)
				default:
					c64 := color.NRGBA64Model.Convert(c).(color.NRGBA64)
					put(y*w+x, uint8(c64.R>>8), uint8(c64.G>>8), uint8(c64.B>>8))
				}
			}
		}
	}
}

// ycbcrInto converts a YCbCr image (JPEG's, lossy WebP's) row by row with
// the standard library's integer JFIF formulas (color.YCbCrToRGB), reading
// the chroma planes at the subsampled positions.
func ycbcrInto(r, g, bl []float32, m *image.YCbCr, channels int) {
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	// The chroma column of x is x>>hs - Rect.Min.X>>hs (COffset's division,
	// which a shift equals for the non-negative coordinates decoders give).
	hs, vs := -1, 0
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio444:
		hs = 0
	case image.YCbCrSubsampleRatio440:
		hs, vs = 0, 1
	case image.YCbCrSubsampleRatio422:
		hs = 1
	case image.YCbCrSubsampleRatio420:
		hs, vs = 1, 1
	case image.YCbCrSubsampleRatio411:
		hs = 2
	case image.YCbCrSubsampleRatio410:
		hs, vs = 2, 1
	}
	if b.Min.X < 0 || b.Min.Y < 0 || m.Rect.Min.X < 0 || m.Rect.Min.Y < 0 {
		hs = -1
	}
	for y := 0; y < h; y++ {
		Y := b.Min.Y + y
		yi := m.YOffset(b.Min.X, Y)
		yrow := m.Y[yi : yi+w]
		rr, gg, bb := r[y*w:(y+1)*w], g[y*w:(y+1)*w], bl[y*w:(y+1)*w]
		var crow0 int
		if hs >= 0 {
			crow0 = (Y>>vs - m.Rect.Min.Y>>vs) * m.CStride
		}
		for x, yv := range yrow {
			X := b.Min.X + x
			var ci int
			if hs >= 0 {
				ci = crow0 + X>>hs - m.Rect.Min.X>>hs
			} else {
				ci = m.COffset(X, Y)
			}
			yy1 := int32(yv) * 0x10101
			cb1 := int32(m.Cb[ci]) - 128
			cr1 := int32(m.Cr[ci]) - 128
			cr := clip16(yy1 + 91881*cr1)
			cg := clip16(yy1 - 22554*cb1 - 46802*cr1)
			cb := clip16(yy1 + 116130*cb1)
			if channels == 1 {
				// As PIL: RGB first, then its luma.
				rr[x] = luma(cr, cg, cb)
				continue
			}
			rr[x], gg[x], bb[x] = byteToFloat[cr], byteToFloat[cg], byteToFloat[cb]
		}
	}
}

// clip16 is color.YCbCrToRGB's rounding of a 16.16 fixed-point value to a
// byte.
func clip16(v int32) uint8 {
	if uint32(v)&0xff000000 == 0 {
		return uint8(v >> 16)
	}
	return uint8(^(v >> 31))
}

// unpremul un-premultiplies a colour value as color.NRGBA64Model does.
func unpremul(v, a uint8) uint8 {
	return uint8((uint32(v) * 0x101 * 0xffff / (uint32(a) * 0x101)) >> 8)
}
