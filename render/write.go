package render

import (
	"bufio"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/fastgo-ml/fastgo/internal/atomicfile"
)

// WritePNG writes img to path as a PNG, atomically: to a temporary file in
// the same directory, synced, then renamed into place.
func WritePNG(path string, img image.Image) error {
	err := atomicfile.Write(path, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		if err := png.Encode(bw, img); err != nil {
			return err
		}
		return bw.Flush()
	})
	if err != nil {
		return fmt.Errorf("render: writing %s: %w", path, err)
	}
	return nil
}

// margin is the white border SavePlot and SavePlots leave around a plot, so
// that the title, the last tick label and a legend at an edge are not cut
// by the picture's edge.
const margin = 4 * vg.Millimeter

// SavePlot writes p as a w x h PNG to path, atomically, with a small white
// margin around it.
func SavePlot(path string, p *plot.Plot, w, h vg.Length) error {
	img := vgimg.New(w, h)
	dc := draw.New(img)
	p.Draw(draw.Crop(dc, margin, -margin, margin, -margin))
	err := atomicfile.Write(path, func(out io.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(out)
		return err
	})
	if err != nil {
		return fmt.Errorf("render: writing %s: %w", path, err)
	}
	return nil
}

// TicksAt returns tick marks at values (the eps a report evaluated, say),
// each labelled with its shortest form, leaving out the labels that would
// crowd the previous one (closer than a twentieth of the range).
func TicksAt(values ...float64) plot.ConstantTicks {
	v := slices.Clone(values)
	slices.Sort(v)
	v = slices.Compact(v)
	var out plot.ConstantTicks
	if len(v) == 0 {
		return out
	}
	gap := (v[len(v)-1] - v[0]) / 20
	last := math.Inf(-1)
	for _, x := range v {
		t := plot.Tick{Value: x}
		if x-last >= gap {
			t.Label = strconv.FormatFloat(x, 'g', 3, 64)
			last = x
		}
		out = append(out, t)
	}
	return out
}

// SavePlots writes plots side by side, in one row, as a w x h PNG to path,
// atomically.
func SavePlots(path string, plots []*plot.Plot, w, h vg.Length) error {
	if len(plots) == 0 {
		return fmt.Errorf("render: writing %s: no plot", path)
	}
	img := vgimg.New(w, h)
	dc := draw.New(img)
	t := draw.Tiles{Rows: 1, Cols: len(plots), PadX: vg.Millimeter * 4, PadTop: margin,
		PadBottom: margin, PadLeft: margin, PadRight: margin}
	canvases := plot.Align([][]*plot.Plot{plots}, t, dc)
	for i, p := range plots {
		p.Draw(canvases[0][i])
	}
	err := atomicfile.Write(path, func(out io.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(out)
		return err
	})
	if err != nil {
		return fmt.Errorf("render: writing %s: %w", path, err)
	}
	return nil
}

// palette is matplotlib's default colour cycle, which fastai's plots use.
var palette = []color.RGBA{{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255},
	{148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255}, {188, 189, 34, 255}, {23, 190, 207, 255}}

// Color returns the i-th colour of matplotlib's default cycle (i modulo 10).
func Color(i int) color.Color { return palette[(i%len(palette)+len(palette))%len(palette)] }
