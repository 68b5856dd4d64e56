package vision

import (
	"bufio"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"strconv"

	"github.com/fastgo-ml/fastgo/data"
	"github.com/fastgo-ml/fastgo/internal/atomicfile"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/fastgo-ml/fastgo/tensor"
)

// GridImage lays out the first maxN images of b (all when maxN <= 0) in a
// square grid, each enlarged to at least 64 pixels and captioned with its
// label's name from vocab (its number when vocab does not cover it).
func GridImage(b data.Batch, vocab []string, maxN int) (image.Image, error) {
	s := b.X.Shape()
	if len(s) != 4 {
		return nil, fmt.Errorf("vision: GridImage: x of shape %v: want [N,C,H,W]", s)
	}
	n := s[0]
	if maxN > 0 {
		n = min(n, maxN)
	}
	if n == 0 {
		return nil, fmt.Errorf("vision: GridImage: empty batch")
	}
	h, w := s[2], s[3]
	face := basicfont.Face7x13
	const labelH, pad = 16, 4
	k := max(1, int(math.Ceil(64/float64(max(h, w)))))
	cellW := max(w*k, 84) + pad
	cellH := h*k + labelH + pad
	cols := int(math.Ceil(math.Sqrt(float64(n))))
	rows := (n + cols - 1) / cols
	grid := image.NewRGBA(image.Rect(0, 0, cols*cellW+pad, rows*cellH+pad))
	draw.Draw(grid, grid.Bounds(), image.White, image.Point{}, draw.Src)
	per := s[1] * h * w
	for i := 0; i < n; i++ {
		img, err := ToImage(tensor.FromSlice(b.X.Data()[i*per:(i+1)*per], s[1:]...))
		if err != nil {
			return nil, err
		}
		x0 := pad + (i%cols)*cellW + (cellW-pad-w*k)/2
		y0 := pad + (i/cols)*cellH
		for y := 0; y < h*k; y++ {
			for x := 0; x < w*k; x++ {
				grid.Set(x0+x, y0+y, img.At(x/k, y/k))
			}
		}
		label := ""
		if i < len(b.Y) {
			label = strconv.Itoa(b.Y[i])
			if b.Y[i] >= 0 && b.Y[i] < len(vocab) {
				label = vocab[b.Y[i]]
			}
		}
		if r := []rune(label); len(r) > (cellW-pad)/7 {
			label = string(r[:(cellW-pad)/7]) // what fits the cell
		}
		d := font.Drawer{Dst: grid, Src: image.NewUniform(color.Black), Face: face}
		tw := d.MeasureString(label).Ceil()
		d.Dot = fixed.P(pad+(i%cols)*cellW+(cellW-pad-tw)/2, y0+h*k+13)
		d.DrawString(label)
	}
	return grid, nil
}

// WriteGrid writes GridImage's grid to out as a PNG.
func WriteGrid(out io.Writer, b data.Batch, vocab []string, maxN int) error {
	img, err := GridImage(b, vocab, maxN)
	if err != nil {
		return err
	}
	return png.Encode(out, img)
}

// ShowBatch writes the first maxN images of b with their labels to a PNG file
// (fastai's show_batch). The file is written under a temporary name and
// renamed into place, so an existing file is never left half written.
func ShowBatch(path string, b data.Batch, vocab []string, maxN int) (err error) {
	img, err := GridImage(b, vocab, maxN)
	if err != nil {
		return err
	}
	err = atomicfile.Write(path, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		if err := png.Encode(bw, img); err != nil {
			return err
		}
		return bw.Flush()
	})
	if err != nil {
		return fmt.Errorf("vision: ShowBatch %s: %w", path, err)
	}
	return nil
}

// ShowBatch writes a PNG grid of maxN images of a training batch with their
// class names (fastai's dls.show_batch(max_n=...)).
func (d *DataLoaders) ShowBatch(path string, maxN int) error {
	b, err := d.OneBatch()
	if err != nil {
		return err
	}
	return ShowBatch(path, b, d.Vocab, maxN)
}
