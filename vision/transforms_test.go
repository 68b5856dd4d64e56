package vision

import (
	"math"
	"slices"
	"testing"

	"github.com/fastgo-ml/fastgo/tensor"
)

// halves is a 1xHxW image, 0 on the left half and 1 on the right.
func halves(h, w int) *tensor.Tensor {
	x := tensor.Zeros(1, h, w)
	for y := 0; y < h; y++ {
		for i := w / 2; i < w; i++ {
			x.Set(1, 0, y, i)
		}
	}
	return x
}

func mean(d []float32) float64 {
	s := 0.0
	for _, v := range d {
		s += float64(v)
	}
	return s / float64(len(d))
}

func inUnit(t *testing.T, what string, d []float32) {
	t.Helper()
	for i, v := range d {
		if !(v >= 0 && v <= 1) {
			t.Fatalf("%s: element %d is %v", what, i, v)
		}
	}
}

func TestResize(t *testing.T) {
	x := halves(5, 10)
	rng := tensor.NewRNG(1)
	cases := []struct {
		mode      ResizeMode
		h, w      int
		wantMean  float64
		wantShape []int
	}{
		{Squish, 5, 5, 0.5, []int{1, 5, 5}},
		// fastai's integer box: tl = int(0.5*(10-5)) = 2, so columns 2-6,
		// of which two are bright.
		{Crop, 5, 5, 0.4, []int{1, 5, 5}},
		{Pad, 10, 10, 0.5, []int{1, 10, 10}}, // reflection repeats the halves
	}
	for _, tc := range cases {
		y := Resize(tc.h, tc.w, tc.mode).TransformItem(x, rng, false)
		if !slices.Equal(y.Shape(), tc.wantShape) {
			t.Errorf("%v: shape %v", tc.mode, y.Shape())
		}
		if m := mean(y.Data()); math.Abs(m-tc.wantMean) > 0.02 {
			t.Errorf("%v %dx%d: mean %v, want %v", tc.mode, tc.h, tc.w, m, tc.wantMean)
		}
		inUnit(t, tc.mode.String(), y.Data())
	}
	// Halving uses a widened triangle filter, as PIL: the halves stay
	// apart and symmetric.
	y := Resize(5, 5, Squish).TransformItem(x, nil, false)
	l, r := y.At(0, 2, 0), y.At(0, 2, 4)
	if l > 0.05 || r < 0.95 || math.Abs(float64(l+r-1)) > 1e-6 || math.Abs(float64(y.At(0, 2, 2))-0.5) > 1e-6 {
		t.Errorf("squished row %v", y.Data()[10:15])
	}
	// The same size is the identity; training crops move with the RNG.
	if Resize(5, 10, Crop).TransformItem(x, rng, true) != x {
		t.Error("same size: not the identity")
	}
	a := Resize(5, 5, Crop).TransformItem(x, tensor.NewRNG(1), true)
	c := Resize(5, 5, Crop).TransformItem(x, tensor.NewRNG(1), true)
	if !slices.Equal(a.Data(), c.Data()) {
		t.Error("same RNG, different crops")
	}
	// A wide image cropped on the left or right during training.
	seen := map[bool]bool{}
	for s := uint64(0); s < 20; s++ {
		seen[mean(Resize(5, 5, Crop).TransformItem(x, tensor.NewRNG(s), true).Data()) > 0.5] = true
	}
	if len(seen) != 2 {
		t.Error("random crops never move")
	}
}

func TestRandomResizedCrop(t *testing.T) {
	x := tensor.Uniform[float32](tensor.NewRNG(2), 0, 1, 3, 20, 30)
	tf := RandomResizedCrop(8, 8, 0.08)
	shapes := map[string]bool{}
	for s := uint64(0); s < 30; s++ {
		y := tf.TransformItem(x, tensor.NewRNG(s), true)
		if !slices.Equal(y.Shape(), []int{3, 8, 8}) {
			t.Fatalf("shape %v", y.Shape())
		}
		inUnit(t, "RandomResizedCrop", y.Data())
		shapes[string(rune(int(y.Data()[0]*1000)))] = true
	}
	if len(shapes) < 10 {
		t.Errorf("only %d distinct crops in 30", len(shapes))
	}
	v1 := tf.TransformItem(x, tensor.NewRNG(1), false)
	v2 := tf.TransformItem(x, tensor.NewRNG(2), false)
	if !slices.Equal(v1.Data(), v2.Data()) {
		t.Error("validation crop depends on the RNG")
	}
}

func TestCenterCrop(t *testing.T) {
	x := tensor.FromSlice([]float32{
		1, 2, 3, 4,
		5, 6, 7, 8,
		9, 10, 11, 12}, 1, 3, 4)
	y := CenterCrop(1, 2).TransformItem(x, nil, true)
	if !slices.Equal(y.Data(), []float32{6, 7}) {
		t.Errorf("crop %v", y.Data())
	}
	y = CenterCrop(5, 4).TransformItem(x, nil, false)
	if y.At(0, 0, 0) != 0 || y.At(0, 1, 0) != 1 || y.At(0, 4, 3) != 0 {
		t.Errorf("pad %v", y.Data())
	}
}

func TestAugmentKeepsRangeAndIdentity(t *testing.T) {
	ds := toyDataset(16)
	rngs := func() []*tensor.RNG {
		r := make([]*tensor.RNG, 16)
		for i := range r {
			r[i] = tensor.NewRNG(uint64(i))
		}
		return r
	}
	orig := ds.X.Clone()
	// Zero value, validation: nothing changes.
	x := ds.X.Clone()
	(&Augment{}).TransformBatch(x, rngs(), true)
	AugTransforms().TransformBatch(x, rngs(), false)
	RandomErasing{}.TransformBatch(x, rngs(), false)
	if !slices.Equal(x.Data(), orig.Data()) {
		t.Error("zero Augment or validation changed the batch")
	}
	// Training: in [0,1], changed.
	x = ds.X.Clone()
	AugTransforms().TransformBatch(x, rngs(), true)
	inUnit(t, "AugTransforms", x.Data())
	if slices.Equal(x.Data(), orig.Data()) {
		t.Error("AugTransforms changed nothing")
	}
	x = ds.X.Clone()
	RandomErasing{P: 1, MaxCount: 3}.TransformBatch(x, rngs(), true)
	inUnit(t, "RandomErasing", x.Data())
	if slices.Equal(x.Data(), orig.Data()) {
		t.Error("RandomErasing changed nothing")
	}
}

func TestAugmentFlipIsExact(t *testing.T) {
	x := tensor.Uniform[float32](tensor.NewRNG(5), 0, 1, 1, 2, 4, 5)
	y := x.Clone()
	(&Augment{FlipP: 1}).TransformBatch(y, []*tensor.RNG{tensor.NewRNG(0)}, true)
	for c := 0; c < 2; c++ {
		for r := 0; r < 4; r++ {
			for i := 0; i < 5; i++ {
				if d := y.At(0, c, r, i) - x.At(0, c, r, 4-i); math.Abs(float64(d)) > 1e-6 {
					t.Fatalf("(%d,%d,%d): %v, want %v", c, r, i, y.At(0, c, r, i), x.At(0, c, r, 4-i))
				}
			}
		}
	}
}

// TestAugmentConstant: reflection padding keeps a constant image constant
// under any rotation, zoom and warp (zero padding would not).
func TestAugmentConstant(t *testing.T) {
	x := tensor.Full[float32](0.3, 8, 3, 9, 7)
	rngs := make([]*tensor.RNG, 8)
	for i := range rngs {
		rngs[i] = tensor.NewRNG(uint64(i))
	}
	a := AugTransforms()
	a.MaxLighting = 0
	a.MaxRotate, a.MaxWarp, a.PAffine = 45, 0.4, 1
	a.MinZoom, a.MaxZoom = 0.7, 1.5
	a.TransformBatch(x, rngs, true)
	for i, v := range x.Data() {
		if math.Abs(float64(v)-0.3) > 1e-5 {
			t.Fatalf("element %d: %v", i, v)
		}
	}
}

func TestLightingIsMonotone(t *testing.T) {
	x := tensor.Zeros(1, 1, 1, 11)
	for i := range x.Data() {
		x.Data()[i] = float32(i) / 10
	}
	a := &Augment{MaxLighting: 0.2, PLighting: 1}
	a.TransformBatch(x, []*tensor.RNG{tensor.NewRNG(9)}, true)
	d := x.Data()
	for i := 1; i < len(d); i++ {
		if !(d[i] > d[i-1]) {
			t.Fatalf("not increasing: %v", d)
		}
	}
	inUnit(t, "lighting", d)
}

func TestPerspectiveCoeffs(t *testing.T) {
	from := [4][2]float64{{-1.1, -0.9}, {-0.8, 1.1}, {1.2, -1}, {0.9, 0.95}}
	to := [4][2]float64{{-1, -1}, {-1, 1}, {1, -1}, {1, 1}}
	c := perspectiveCoeffs(from, to)
	for i, p := range from {
		den := c[6]*p[0] + c[7]*p[1] + 1
		u := (c[0]*p[0] + c[1]*p[1] + c[2]) / den
		v := (c[3]*p[0] + c[4]*p[1] + c[5]) / den
		if math.Abs(u-to[i][0]) > 1e-9 || math.Abs(v-to[i][1]) > 1e-9 {
			t.Errorf("point %d maps to (%v,%v), want %v", i, u, v, to[i])
		}
	}
}

// TestTransformsKeepLabels runs the whole pipeline on a labelled data set and
// checks that each item's label is its own.
func TestTransformsKeepLabels(t *testing.T) {
	ds := toyDataset(32)
	dl := NewDataLoader(ds, true, BatchSize(8),
		ItemTfms(RandomResizedCrop(6, 6, 0.5)), BatchTfms(AugTransforms(), RandomErasing{}))
	for _, b := range allBatches(t, dl, 0) {
		inUnit(t, "batch", b.X.Data())
		if !slices.Equal(b.X.Shape(), []int{8, 3, 6, 6}) {
			t.Fatalf("shape %v", b.X.Shape())
		}
		for k, i := range b.Index {
			if b.Y[k] != ds.Y[i] {
				t.Fatalf("item %d labelled %d, want %d", i, b.Y[k], ds.Y[i])
			}
		}
	}
}

// TestLightingTable checks the tabulated curve against the exact formula.
func TestLightingTable(t *testing.T) {
	for _, bc := range [][2]float64{{0, 1}, {0.4, 0.8}, {-0.4, 1.25}, {0.2, 1 / 0.8}} {
		x := make([]float32, 10001)
		for i := range x {
			x[i] = float32(i) / 10000
		}
		y := slices.Clone(x)
		lighting(y, bc[0], bc[1])
		worst := 0.0
		for i, v := range x {
			p := min(max(float64(v), 1e-7), 1-1e-7)
			want := 1 / (1 + math.Exp(-(math.Log(p/(1-p))+bc[0])*bc[1]))
			worst = max(worst, math.Abs(float64(y[i])-want))
		}
		if worst > 1e-4 {
			t.Errorf("b=%v c=%v: error %v", bc[0], bc[1], worst)
		}
	}
}
