package render

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/fastgo-ml/fastgo/tensor"
)

// Cell is one picture of a grid: an image [C,H,W] in [0,1] (nil leaves the
// cell blank) and the caption lines drawn under it.
type Cell struct {
	// Image is [C,H,W] with 1 or 3 channels, in [0,1]; nil leaves the cell
	// blank.
	Image *tensor.Tensor
	// Caption holds the lines drawn under the image.
	Caption []string
	// CaptionColors colours the caption's lines, one colour a line; a line
	// without one (or with nil) is black.
	CaptionColors []color.Color
}

// GridOption configures Grid.
type GridOption func(*gridConfig)

type gridConfig struct {
	title     string
	colTitles []string
	minSide   int
	minWidth  int
	maxChars  int
	frames    bool
}

// Title draws a heading above the grid.
func Title(s string) GridOption { return func(c *gridConfig) { c.title = s } }

// ColumnTitles draws a title above each column.
func ColumnTitles(titles ...string) GridOption {
	return func(c *gridConfig) { c.colTitles = append([]string(nil), titles...) }
}

// MinSide enlarges images by an integer factor until their longer side is
// at least px pixels (default 84).
func MinSide(px int) GridOption { return func(c *gridConfig) { c.minSide = px } }

// MinCellWidth makes every column at least px pixels wide (default 84).
func MinCellWidth(px int) GridOption { return func(c *gridConfig) { c.minWidth = px } }

// MaxCaption cuts caption lines to n characters, marking a cut line with
// "~" (default 24); the columns widen to the longest line up to that.
func MaxCaption(n int) GridOption { return func(c *gridConfig) { c.maxChars = n } }

// Frames draws a grey frame around each image, so that a black or white
// image stands out from the page.
func Frames() GridOption { return func(c *gridConfig) { c.frames = true } }

// Square lays cells out in rows of ceil(sqrt(n)) columns.
func Square(cells []Cell) [][]Cell {
	return Rows(cells, int(math.Ceil(math.Sqrt(float64(len(cells))))))
}

// Rows lays cells out in rows of cols columns (the last may be shorter).
func Rows(cells []Cell, cols int) [][]Cell {
	cols = max(cols, 1)
	var out [][]Cell
	for i := 0; i < len(cells); i += cols {
		out = append(out, cells[i:min(i+cols, len(cells))])
	}
	return out
}

const (
	charW = 7  // basicfont.Face7x13's advance
	lineH = 14 // a caption line
	pad   = 6
)

// Grid draws rows of cells on a white page: each image enlarged to the
// grid's common size and centred in its column, its caption lines centred
// under it (black, or in the cell's CaptionColors). Images may differ in
// size; each must have 1 or 3 channels.
func Grid(rows [][]Cell, opts ...GridOption) (*image.RGBA, error) {
	c := gridConfig{minSide: 84, minWidth: 84, maxChars: 24}
	for _, o := range opts {
		o(&c)
	}
	cols, lines, h, w := 0, 0, 0, 0
	longest := 0
	for i, r := range rows {
		cols = max(cols, len(r))
		for j, cell := range r {
			lines = max(lines, len(cell.Caption))
			for _, l := range cell.Caption {
				longest = max(longest, len([]rune(l)))
			}
			if cell.Image == nil {
				continue
			}
			s := cell.Image.Shape()
			if len(s) != 3 || (s[0] != 1 && s[0] != 3) {
				return nil, fmt.Errorf("render: Grid: cell %d of row %d: image of shape %v, want [C,H,W] with 1 or 3 channels", j, i, s)
			}
			h, w = max(h, s[1]), max(w, s[2])
		}
	}
	if cols == 0 {
		return nil, fmt.Errorf("render: Grid: no cell to draw")
	}
	k := 1
	if h > 0 {
		k = max(1, int(math.Ceil(float64(c.minSide)/float64(max(h, w)))))
	}
	cellW := max(w*k, c.minWidth, charW*min(longest, c.maxChars)) + pad
	cellH := h*k + lines*lineH + pad
	top := pad
	if c.title != "" {
		top += lineH
	}
	if len(c.colTitles) > 0 {
		top += lineH
	}
	page := image.NewRGBA(image.Rect(0, 0, cols*cellW+pad, top+len(rows)*cellH))
	draw.Draw(page, page.Bounds(), image.White, image.Point{}, draw.Src)
	text := func(s string, x0, width, baseline int, col color.Color) {
		if r := []rune(s); len(r) > c.maxChars || len(r)*charW > width {
			n := max(1, min(c.maxChars, width/charW))
			if len(r) > n {
				s = string(r[:n-1]) + "~"
			}
		}
		d := font.Drawer{Dst: page, Src: image.NewUniform(col), Face: basicfont.Face7x13}
		d.Dot = fixed.P(x0+(width-d.MeasureString(s).Ceil())/2, baseline)
		d.DrawString(s)
	}
	y := pad
	if c.title != "" {
		d := font.Drawer{Dst: page, Src: image.NewUniform(color.Black), Face: basicfont.Face7x13, Dot: fixed.P(pad, y+11)}
		d.DrawString(c.title)
		y += lineH
	}
	for j, t := range c.colTitles {
		if j < cols {
			text(t, pad+j*cellW, cellW-pad, y+11, color.Black)
		}
	}
	for i, r := range rows {
		y0 := top + i*cellH
		for j, cell := range r {
			x0 := pad + j*cellW
			ih := h * k
			if cell.Image != nil {
				s := cell.Image.Shape()
				ih = s[1] * k
				img, err := Image(cell.Image)
				if err != nil {
					return nil, err
				}
				ix := x0 + (cellW-pad-s[2]*k)/2
				if c.frames {
					frame := image.Rect(ix-1, y0-1, ix+s[2]*k+1, y0+ih+1)
					draw.Draw(page, frame, image.NewUniform(color.Gray{Y: 160}), image.Point{}, draw.Src)
				}
				enlarge(page, img, ix, y0, k)
			}
			for li, l := range cell.Caption {
				var col color.Color = color.Black
				if li < len(cell.CaptionColors) && cell.CaptionColors[li] != nil {
					col = cell.CaptionColors[li]
				}
				text(l, x0, cellW-pad, y0+ih+11+li*lineH, col)
			}
		}
	}
	return page, nil
}

// enlarge draws img on page at (x0, y0), each pixel a k x k square.
func enlarge(page *image.RGBA, img image.Image, x0, y0, k int) {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r := image.Rect(x0+(x-b.Min.X)*k, y0+(y-b.Min.Y)*k, x0+(x-b.Min.X+1)*k, y0+(y-b.Min.Y+1)*k)
			draw.Draw(page, r, image.NewUniform(img.At(x, y)), image.Point{}, draw.Src)
		}
	}
}
