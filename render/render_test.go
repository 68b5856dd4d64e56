package render

import (
	"errors"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"

	"github.com/fastgo-ml/fastgo/internal/atomicfile"
	"github.com/fastgo-ml/fastgo/tensor"
)

func TestImage(t *testing.T) {
	x := tensor.FromSlice([]float32{0, 0.5, 1, 2, -1, float32(nan())}, 1, 2, 3)
	img, err := Image(x)
	if err != nil {
		t.Fatal(err)
	}
	g := img.(*image.Gray)
	if want := []uint8{0, 128, 255, 255, 0, 0}; string(g.Pix) != string(want) {
		t.Errorf("grey pixels %v, want %v", g.Pix, want)
	}
	rgb, err := Image(tensor.FromSlice([]float32{1, 0, 0, 1, 0, 0}, 3, 1, 2))
	if err != nil {
		t.Fatal(err)
	}
	if r, gg, b, _ := rgb.At(0, 0).RGBA(); r>>8 != 255 || gg>>8 != 0 || b>>8 != 0 {
		t.Errorf("RGB pixel %v", rgb.At(0, 0))
	}
	for _, s := range [][]int{{2, 3, 3}, {4}, {1, 1, 1, 1}} {
		if _, err := Image(tensor.Zeros(s...)); err == nil {
			t.Errorf("shape %v: no error", s)
		}
	}
}

func nan() float64 { z := 0.0; return z / z }

func TestPerturbation(t *testing.T) {
	x := tensor.FromSlice([]float32{0.5, 0.5, 0.5}, 1, 1, 3)
	adv := tensor.FromSlice([]float32{0.6, 0.5, 0.3}, 1, 1, 3)
	pic, amp, m := Perturbation(x, adv)
	if d := m - 0.2; d > 1e-6 || d < -1e-6 {
		t.Errorf("largest change %g, want 0.2", m)
	}
	if d := amp - 2.5; d > 1e-5 || d < -1e-5 {
		t.Errorf("amplification %g, want 2.5", amp)
	}
	want := []float32{0.75, 0.5, 0}
	for i, v := range pic.Data() {
		if d := v - want[i]; d > 1e-5 || d < -1e-5 {
			t.Errorf("pixel %d: %g, want %g", i, v, want[i])
		}
	}
	if _, amp, m := Perturbation(x, x); amp != 1 || m != 0 {
		t.Errorf("no change: amplification %g, largest %g", amp, m)
	}
}

// TestGridPlacesEachImage checks the layout: each image enlarged by the
// same integer factor, centred in its column, its caption under it.
func TestGridPlacesEachImage(t *testing.T) {
	rng := tensor.NewRNG(1)
	var cells []Cell
	for i := 0; i < 5; i++ {
		cells = append(cells, Cell{Image: tensor.Uniform[float32](rng, 0, 1, 1, 7, 7), Caption: []string{"cell", strings.Repeat("w", i)}})
	}
	rows := Square(cells)
	if len(rows) != 2 || len(rows[0]) != 3 || len(rows[1]) != 2 {
		t.Fatalf("Square of 5: rows of %d and %d", len(rows[0]), len(rows[1]))
	}
	img, err := Grid(rows, Title("five"), MinSide(28))
	if err != nil {
		t.Fatal(err)
	}
	const k = 4 // 7 pixels enlarged to at least 28
	cellW := max(7*k, 84) + pad
	cellH := 7*k + 2*lineH + pad
	top := pad + lineH
	if b := img.Bounds(); b.Dx() != 3*cellW+pad || b.Dy() != top+2*cellH {
		t.Fatalf("grid of %v, want %dx%d", b, 3*cellW+pad, top+2*cellH)
	}
	for i, c := range cells {
		x0 := pad + (i%3)*cellW + (cellW-pad-7*k)/2
		y0 := top + (i/3)*cellH
		for _, p := range [][2]int{{0, 0}, {13, 22}, {27, 27}} {
			want := to8(c.Image.At(0, p[1]/k, p[0]/k))
			if r, _, _, _ := img.At(x0+p[0], y0+p[1]).RGBA(); uint8(r>>8) != want {
				t.Errorf("cell %d pixel %v: %d, want %d", i, p, r>>8, want)
			}
		}
		if dark(img, x0, y0+7*k, 7*k, lineH) < 5 {
			t.Errorf("cell %d has no caption", i)
		}
	}
	if dark(img, pad, pad, 40, lineH) < 5 {
		t.Error("no title")
	}
}

// dark counts the dark pixels of a w x h rectangle.
func dark(img image.Image, x0, y0, w, h int) int {
	n := 0
	for y := y0; y < y0+h; y++ {
		for x := x0; x < x0+w; x++ {
			if r, _, _, _ := img.At(x, y).RGBA(); r < 0x8000 {
				n++
			}
		}
	}
	return n
}

// TestGridCaptionColors: each caption line is drawn in its colour, black
// without one.
func TestGridCaptionColors(t *testing.T) {
	green, red := color.RGBA{0, 128, 0, 255}, color.RGBA{200, 0, 0, 255}
	cells := [][]Cell{{
		{Image: tensor.Ones(1, 4, 4), Caption: []string{"one", "two", "three"}, CaptionColors: []color.Color{green, nil}},
		{Image: tensor.Ones(1, 4, 4), Caption: []string{"four"}, CaptionColors: []color.Color{red}},
	}}
	img, err := Grid(cells, MinSide(8))
	if err != nil {
		t.Fatal(err)
	}
	cellW := 84 + pad
	y0 := pad + 8 // the images are 4x4 enlarged twice
	for _, c := range []struct {
		col, line int
		want      color.RGBA
	}{{0, 0, green}, {0, 1, color.RGBA{0, 0, 0, 255}}, {0, 2, color.RGBA{0, 0, 0, 255}}, {1, 0, red}} {
		if n := count(img, pad+c.col*cellW, y0+c.line*lineH, cellW-pad, lineH, c.want); n < 5 {
			t.Errorf("cell %d line %d has %d pixels of %v", c.col, c.line, n, c.want)
		}
		for _, other := range []color.RGBA{green, red, {0, 0, 0, 255}} {
			if other != c.want && count(img, pad+c.col*cellW, y0+c.line*lineH, cellW-pad, lineH, other) > 0 {
				t.Errorf("cell %d line %d has pixels of %v", c.col, c.line, other)
			}
		}
	}
}

// count counts the pixels of colour c in a w x h rectangle.
func count(img *image.RGBA, x0, y0, w, h int, c color.RGBA) int {
	n := 0
	for y := y0; y < y0+h; y++ {
		for x := x0; x < x0+w; x++ {
			if img.RGBAAt(x, y) == c {
				n++
			}
		}
	}
	return n
}

func TestGridErrors(t *testing.T) {
	if _, err := Grid(nil); err == nil {
		t.Error("an empty grid was drawn")
	}
	bad := [][]Cell{{{Image: tensor.Zeros(2, 4, 4)}}}
	if _, err := Grid(bad); err == nil || !strings.Contains(err.Error(), "[2 4 4]") {
		t.Errorf("2 channels: %v", err)
	}
	// A caption too long for its cell is cut, not drawn over the next one.
	long := [][]Cell{{{Image: tensor.Zeros(1, 4, 4), Caption: []string{strings.Repeat("m", 200)}}, {Image: tensor.Ones(1, 4, 4)}}}
	img, err := Grid(long, MaxCaption(10))
	if err != nil {
		t.Fatal(err)
	}
	if w := img.Bounds().Dx(); w != 2*(84+pad)+pad {
		t.Errorf("width %d: the long caption widened the grid", w)
	}
}

func TestWritePNG(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.png")
	img, _ := Image(tensor.Ones(3, 5, 4))
	if err := WritePNG(path, img); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(f)
	f.Close()
	if err != nil || cfg.Width != 4 || cfg.Height != 5 {
		t.Fatalf("read back %v, %v", cfg, err)
	}
	good, _ := os.ReadFile(path)
	restore := atomicfile.SetWriteHook(func(int64) error { return errors.New("disk full") })
	other, _ := Image(tensor.Zeros(1, 50, 50))
	err = WritePNG(path, other)
	restore()
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("a failed write: %v", err)
	}
	if now, _ := os.ReadFile(path); string(now) != string(good) {
		t.Error("a failed write changed the file")
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}
}

func TestSavePlot(t *testing.T) {
	dir := t.TempDir()
	p := plot.New()
	p.Title.Text = "empty"
	if err := SavePlot(filepath.Join(dir, "one.png"), p, 3*vg.Inch, 2*vg.Inch); err != nil {
		t.Fatal(err)
	}
	if err := SavePlots(filepath.Join(dir, "two.png"), []*plot.Plot{p, p}, 6*vg.Inch, 2*vg.Inch); err != nil {
		t.Fatal(err)
	}
	if err := SavePlots(filepath.Join(dir, "none.png"), nil, vg.Inch, vg.Inch); err == nil {
		t.Error("no plot: no error")
	}
	for _, name := range []string{"one.png", "two.png"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(f)
		f.Close()
		if err != nil || cfg.Width < 100 {
			t.Errorf("%s: %v %v", name, cfg, err)
		}
	}
}

func TestColor(t *testing.T) {
	if Color(0) != Color(10) || Color(-1) != Color(9) || Color(0) == Color(1) {
		t.Error("the palette does not cycle over 10 colours")
	}
}
