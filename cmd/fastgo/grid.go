package main

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/vision"
)

// gridCell is one picture of an image grid: a [C,H,W] tensor in [0,1] and
// up to two caption lines under it.
type gridCell struct {
	X       *tensor.Tensor
	Caption []string
}

// perturbationImage renders adv - x as a picture: grey 0.5 is no change,
// lighter pixels were brightened, darker ones darkened, scaled so that the
// largest change reaches black or white. It returns the picture and the
// scale factor (the largest |change| is 0.5/scale).
func perturbationImage(x, adv *tensor.Tensor) (*tensor.Tensor, float64) {
	d := tensor.Sub(adv, x)
	m := 0.0
	for _, v := range d.Data() {
		m = math.Max(m, math.Abs(float64(v)))
	}
	scale := 1.0
	if m > 0 {
		scale = 0.5 / m
	}
	out := tensor.New[float32](d.Shape()...)
	for i, v := range d.Data() {
		out.Data()[i] = float32(min(1, max(0, 0.5+float64(v)*scale)))
	}
	return out, scale
}

// gridImage lays out rows of cells, each image enlarged to at least 84
// pixels on its longer side (by an integer factor, nearest neighbour, so
// that single pixels of a perturbation stay visible) and captioned.
func gridImage(rows [][]gridCell, title string) (image.Image, error) {
	if len(rows) == 0 || len(rows[0]) == 0 {
		return nil, fmt.Errorf("an empty image grid")
	}
	h, w := 0, 0
	cols := 0
	for _, r := range rows {
		cols = max(cols, len(r))
		for _, c := range r {
			s := c.X.Shape()
			if len(s) != 3 {
				return nil, fmt.Errorf("grid: image of shape %v, want [C,H,W]", s)
			}
			h, w = max(h, s[1]), max(w, s[2])
		}
	}
	face := basicfont.Face7x13
	const lineH, pad = 14, 6
	k := max(1, int(math.Ceil(84/float64(max(h, w)))))
	cellW := max(w*k, 150) + pad
	cellH := h*k + 2*lineH + pad
	top := pad
	if title != "" {
		top += lineH + pad
	}
	grid := image.NewRGBA(image.Rect(0, 0, cols*cellW+pad, top+len(rows)*cellH))
	draw.Draw(grid, grid.Bounds(), image.White, image.Point{}, draw.Src)
	text := func(s string, x, y int) {
		d := font.Drawer{Dst: grid, Src: image.NewUniform(color.Black), Face: face}
		d.Dot = fixed.P(x, y)
		d.DrawString(s)
	}
	if title != "" {
		text(title, pad, pad+11)
	}
	for ri, r := range rows {
		for ci, c := range r {
			img, err := vision.ToImage(c.X)
			if err != nil {
				return nil, err
			}
			s := c.X.Shape()
			x0 := pad + ci*cellW + (cellW-pad-s[2]*k)/2
			y0 := top + ri*cellH
			for y := 0; y < s[1]*k; y++ {
				for x := 0; x < s[2]*k; x++ {
					grid.Set(x0+x, y0+y, img.At(x/k, y/k))
				}
			}
			for li, line := range c.Caption {
				if li >= 2 {
					break
				}
				maxChars := (cellW - pad) / 7
				if len(line) > maxChars {
					line = line[:maxChars-1] + "~"
				}
				tx := pad + ci*cellW + (cellW-pad-7*len(line))/2
				text(line, tx, y0+s[1]*k+11+li*lineH)
			}
		}
	}
	return grid, nil
}

// writeGridPNG writes gridImage's picture to path atomically.
func writeGridPNG(path string, rows [][]gridCell, title string) error {
	img, err := gridImage(rows, title)
	if err != nil {
		return err
	}
	return writeAtomic(path, func(w io.Writer) error { return png.Encode(w, img) })
}

// writeImagePNG writes one [C,H,W] tensor as a PNG at its own size.
func writeImagePNG(path string, x *tensor.Tensor) error {
	img, err := vision.ToImage(x)
	if err != nil {
		return err
	}
	return writeAtomic(path, func(w io.Writer) error { return png.Encode(w, img) })
}
