package vision

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/fastgo-ml/fastgo/tensor"
)

// The fixtures are written by testdata/gen_parity.py from fastai's formulas
// run on PIL (resize) and PyTorch (augment).

type parityImage struct {
	Shape  []int `json:"shape"`
	Levels []int `json:"levels"`
}

func (p parityImage) tensor() *tensor.Tensor {
	d := make([]float32, len(p.Levels))
	for i, v := range p.Levels {
		d[i] = float32(v) / 255
	}
	return tensor.FromSlice(d, p.Shape...)
}

func loadParity(t *testing.T, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func closeTo(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	worst, at := 0.0, 0
	for i, w := range want {
		if d := math.Abs(float64(got[i]) - w); d > worst {
			worst, at = d, i
		}
	}
	if worst > tol {
		t.Errorf("%s: element %d is %v, want %v (error %.3g > %.3g)", what, at, got[at], want[at], worst, tol)
	}
}

// TestResizeParity checks Resize, RandomResizedCrop and CenterCrop against
// fastai's crop_pad + PIL bilinear resize.
func TestResizeParity(t *testing.T) {
	type rcase struct {
		Op     string    `json:"op"`
		H      int       `json:"h"`
		W      int       `json:"w"`
		Px     float64   `json:"px"`
		Py     float64   `json:"py"`
		X0     int       `json:"x0"`
		Y0     int       `json:"y0"`
		CW     int       `json:"cw"`
		CH     int       `json:"ch"`
		Image  int       `json:"image"`
		Output []float64 `json:"output"`
	}
	var f struct {
		Images []parityImage `json:"images"`
		Cases  []rcase       `json:"cases"`
	}
	loadParity(t, "resize_parity.json", &f)
	if len(f.Cases) < 100 {
		t.Fatalf("only %d cases", len(f.Cases))
	}
	modes := map[string]ResizeMode{"Crop": Crop, "Pad": Pad, "Squish": Squish}
	for i, c := range f.Cases {
		x := f.Images[c.Image].tensor()
		_, H, W := chw(x)
		var got *tensor.Tensor
		name := fmt.Sprintf("%d:%s %dx%d->%dx%d", i, c.Op, H, W, c.H, c.W)
		switch c.Op {
		case "Crop", "Pad", "Squish":
			r := Resize(c.H, c.W, modes[c.Op]).(*resize)
			name += fmt.Sprintf(" at (%g,%g)", c.Px, c.Py)
			sx, sy := r.spans(W, H, c.Px, c.Py)
			got = resample(x, sx, sy, c.H, c.W, 0, 0, c.H, c.W, reflectPad)
			if c.Px == 0.5 && c.Py == 0.5 {
				// The validation form is the centred box.
				v := r.TransformItem(x, tensor.NewRNG(1), ValidSplit)
				closeTo(t, name+" (validation)", v.Data(), c.Output, 1e-5)
			}
		case "RRCValid":
			got = RandomResizedCrop(c.H, c.W, 0.08).TransformItem(x, nil, ValidSplit)
		case "RRCBox":
			name += fmt.Sprintf(" box (%d,%d)+%dx%d", c.X0, c.Y0, c.CW, c.CH)
			got = resample(x, span{c.X0, c.X0 + c.CW}, span{c.Y0, c.Y0 + c.CH}, c.H, c.W, 0, 0, c.H, c.W, zeroPad)
		case "CropPad":
			got = CenterCrop(c.H, c.W).TransformItem(x, nil, ValidSplit)
		default:
			t.Fatalf("unknown op %q", c.Op)
		}
		closeTo(t, name, got.Data(), c.Output, 1e-5)
	}
}

// TestAugmentParity checks the composed flip, rotation, zoom, warp and
// lighting against fastai's pipeline in PyTorch for the same draws.
func TestAugmentParity(t *testing.T) {
	var f struct {
		Images []parityImage `json:"images"`
		Cases  []struct {
			Params struct {
				Dihedral   int     `json:"dihedral"`
				WarpX      float64 `json:"warpX"`
				WarpY      float64 `json:"warpY"`
				Rotate     float64 `json:"rotate"`
				Zoom       float64 `json:"zoom"`
				Col        float64 `json:"col"`
				Row        float64 `json:"row"`
				Brightness float64 `json:"brightness"`
				Contrast   float64 `json:"contrast"`
			} `json:"params"`
			Image  int       `json:"image"`
			Output []float64 `json:"output"`
		} `json:"cases"`
	}
	loadParity(t, "augment_parity.json", &f)
	if len(f.Cases) < 50 {
		t.Fatalf("only %d cases", len(f.Cases))
	}
	for i, c := range f.Cases {
		x := f.Images[c.Image].tensor()
		C, H, W := chw(x)
		q := c.Params
		p := augParams{q.Dihedral, q.WarpX, q.WarpY, q.Rotate, q.Zoom, q.Col, q.Row, q.Brightness, q.Contrast}
		d := p.compose(H, W)
		img := append([]float32(nil), x.Data()...)
		if d.resample {
			out := make([]float32, len(img))
			warpImage(out, img, C, H, W, &d)
			img = out
		}
		tol := 1e-5
		if d.light {
			lighting(img, d.logitB, d.contrast)
			tol = 2e-4 // the tabulated curve
		}
		closeTo(t, fmt.Sprintf("case %d %+v on %dx%dx%d", i, c.Params, C, H, W), img, c.Output, tol)
	}
}
