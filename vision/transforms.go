package vision

import (
	"fmt"
	"math"
	"sync"

	"github.com/fastgo-ml/fastgo/tensor"
)

// ResizeMode says how Resize fits an image of another aspect ratio.
type ResizeMode int

const (
	// Crop keeps the largest region of the target's aspect ratio (centred
	// for validation, at a random place for training) and scales it.
	Crop ResizeMode = iota
	// Pad scales the whole image to fit inside the target and fills the
	// border by reflection.
	Pad
	// Squish scales the whole image to the target, changing its aspect
	// ratio.
	Squish
)

// String returns the mode's name.
func (m ResizeMode) String() string {
	switch m {
	case Crop:
		return "Crop"
	case Pad:
		return "Pad"
	case Squish:
		return "Squish"
	}
	return fmt.Sprintf("ResizeMode(%d)", int(m))
}

// Resize returns fastai's Resize(size, method) item transform: every image
// becomes h x w. Scaling uses a triangle (bilinear) filter widened when
// shrinking, as PIL's bilinear resize does, so downscaled images are not
// aliased.
func Resize(h, w int, mode ResizeMode) ItemTransform {
	if h < 1 || w < 1 {
		panic(fmt.Sprintf("vision.Resize: size %dx%d", h, w))
	}
	return &resize{h: h, w: w, mode: mode}
}

type resize struct {
	h, w int
	mode ResizeMode
}

// String describes the transform.
func (r *resize) String() string { return fmt.Sprintf("Resize(%d, %d, %v)", r.h, r.w, r.mode) }

func (r *resize) TransformItem(x *tensor.Tensor, rng *tensor.RNG, train bool) *tensor.Tensor {
	_, H, W := chw(x)
	if H == r.h && W == r.w {
		return x
	}
	if r.mode == Squish {
		return resample(x, 0, 0, float64(W), float64(H), r.h, r.w, reflectPad)
	}
	sx, sy := float64(W)/float64(r.w), float64(H)/float64(r.h)
	m := math.Min(sx, sy)
	if r.mode == Pad {
		m = math.Max(sx, sy)
	}
	cw, ch := m*float64(r.w), m*float64(r.h)
	px, py := 0.5, 0.5
	if train && rng != nil {
		px, py = rng.Float64(), rng.Float64()
	}
	return resample(x, px*(float64(W)-cw), py*(float64(H)-ch), cw, ch, r.h, r.w, reflectPad)
}

// RandomResizedCrop returns fastai's RandomResizedCrop(size, min_scale,
// ratio=(3/4, 4/3)) item transform. For training it crops a random region of
// between minScale and all of the image's area, with an aspect ratio drawn
// log-uniformly from [3/4, 4/3], and scales it to h x w; for validation it
// scales the image to (h+extra) x (w+extra) and takes the centre h x w, with
// fastai's val_xtra=0.14.
func RandomResizedCrop(h, w int, minScale float64) ItemTransform {
	if h < 1 || w < 1 {
		panic(fmt.Sprintf("vision.RandomResizedCrop: size %dx%d", h, w))
	}
	return &randomResizedCrop{h: h, w: w, minScale: minScale, ratio: [2]float64{3.0 / 4, 4.0 / 3}}
}

type randomResizedCrop struct {
	h, w     int
	minScale float64
	ratio    [2]float64
}

func (r *randomResizedCrop) TransformItem(x *tensor.Tensor, rng *tensor.RNG, train bool) *tensor.Tensor {
	_, H, W := chw(x)
	fw, fh := float64(W), float64(H)
	if !train || rng == nil {
		xtra := math.Ceil(float64(max(r.h, r.w))*0.14/8) * 8
		cw := fw * float64(r.w) / (float64(r.w) + xtra)
		ch := fh * float64(r.h) / (float64(r.h) + xtra)
		return resample(x, (fw-cw)/2, (fh-ch)/2, cw, ch, r.h, r.w, reflectPad)
	}
	area := fw * fh
	lr0, lr1 := math.Log(r.ratio[0]), math.Log(r.ratio[1])
	for range 10 {
		a := area * (r.minScale + (1-r.minScale)*rng.Float64())
		ratio := math.Exp(lr0 + (lr1-lr0)*rng.Float64())
		nw := math.Round(math.Sqrt(a * ratio))
		nh := math.Round(math.Sqrt(a / ratio))
		if nw <= fw && nh <= fh && nw >= 1 && nh >= 1 {
			x0 := float64(rng.IntN(int(fw-nw) + 1))
			y0 := float64(rng.IntN(int(fh-nh) + 1))
			return resample(x, x0, y0, nw, nh, r.h, r.w, reflectPad)
		}
	}
	// Fall back to the largest centred crop with a ratio in range.
	cw, ch := fw, fh
	switch {
	case fw/fh < r.ratio[0]:
		ch = fw / r.ratio[0]
	case fw/fh > r.ratio[1]:
		cw = fh * r.ratio[1]
	}
	return resample(x, (fw-cw)/2, (fh-ch)/2, cw, ch, r.h, r.w, reflectPad)
}

// CenterCrop returns an item transform that keeps the centre h x w of every
// image without scaling, padding with zeros where the image is smaller
// (fastai's CropPad).
func CenterCrop(h, w int) ItemTransform {
	if h < 1 || w < 1 {
		panic(fmt.Sprintf("vision.CenterCrop: size %dx%d", h, w))
	}
	return &centerCrop{h: h, w: w}
}

type centerCrop struct{ h, w int }

func (r *centerCrop) TransformItem(x *tensor.Tensor, _ *tensor.RNG, _ bool) *tensor.Tensor {
	C, H, W := chw(x)
	if H == r.h && W == r.w {
		return x
	}
	out := tensor.Zeros(C, r.h, r.w)
	x0, y0 := (W-r.w)/2, (H-r.h)/2
	src, dst := x.Data(), out.Data()
	for c := 0; c < C; c++ {
		for oy := 0; oy < r.h; oy++ {
			sy := y0 + oy
			if sy < 0 || sy >= H {
				continue
			}
			for ox := 0; ox < r.w; ox++ {
				if sx := x0 + ox; sx >= 0 && sx < W {
					dst[(c*r.h+oy)*r.w+ox] = src[(c*H+sy)*W+sx]
				}
			}
		}
	}
	return out
}

// chw returns the dimensions of an image tensor, panicking on another rank.
func chw(x *tensor.Tensor) (c, h, w int) {
	s := x.Shape()
	if len(s) != 3 {
		panic(fmt.Sprintf("vision: image tensor of shape %v: want [C,H,W]", s))
	}
	return s[0], s[1], s[2]
}

type padMode int

const (
	reflectPad padMode = iota
	zeroPad
)

// taps holds, for each output index along one axis, the source indices and
// weights of a separable filter.
type taps struct {
	start []int32 // offset of output i's taps in idx and w
	idx   []int32
	w     []float32
}

// axisTaps computes triangle-filter taps that map the source interval
// [start, start+length) of an axis of n pixels onto out pixels. When
// shrinking, the filter widens to the scale factor (antialiasing).
func axisTaps(n int, start, length float64, out int, pad padMode) taps {
	scale := length / float64(out)
	support := math.Max(scale, 1)
	t := taps{start: make([]int32, out+1)}
	for o := 0; o < out; o++ {
		t.start[o] = int32(len(t.idx))
		center := start + (float64(o)+0.5)*scale - 0.5
		lo := int(math.Ceil(center - support))
		hi := int(math.Floor(center + support))
		sum := 0.0
		first := len(t.w)
		for i := lo; i <= hi; i++ {
			wt := 1 - math.Abs(float64(i)-center)/support
			if wt <= 0 {
				continue
			}
			sum += wt
			j := i
			if j < 0 || j >= n {
				if pad == zeroPad {
					continue
				}
				j = reflectIndex(j, n)
			}
			t.idx = append(t.idx, int32(j))
			t.w = append(t.w, float32(wt))
		}
		if sum > 0 {
			for k := first; k < len(t.w); k++ {
				t.w[k] = float32(float64(t.w[k]) / sum)
			}
		}
	}
	t.start[out] = int32(len(t.idx))
	return t
}

// reflectIndex reflects i into [0,n) about the edges, repeating the edge
// pixel (-1 -> 0, n -> n-1), as PyTorch's reflection padding with
// align_corners=False.
func reflectIndex(i, n int) int {
	p := 2 * n
	m := i % p
	if m < 0 {
		m += p
	}
	if m >= n {
		m = p - 1 - m
	}
	return m
}

// resample scales the region [x0,x0+sw) x [y0,y0+sh) of x (in pixel edges) to
// oh x ow with a separable triangle filter. Parts of the region outside the
// image are filled as pad says.
func resample(x *tensor.Tensor, x0, y0, sw, sh float64, oh, ow int, pad padMode) *tensor.Tensor {
	C, H, W := chw(x)
	tx := axisTaps(W, x0, sw, ow, pad)
	ty := axisTaps(H, y0, sh, oh, pad)
	src := x.Data()
	tp := scratchPool.Get().(*[]float32)
	defer scratchPool.Put(tp)
	if cap(*tp) < C*H*ow {
		*tp = make([]float32, C*H*ow)
	}
	tmp := (*tp)[:C*H*ow]
	for c := 0; c < C; c++ {
		for y := 0; y < H; y++ {
			row := src[(c*H+y)*W : (c*H+y+1)*W]
			trow := tmp[(c*H+y)*ow : (c*H+y+1)*ow]
			for o := range trow {
				var s float32
				for k := tx.start[o]; k < tx.start[o+1]; k++ {
					s += tx.w[k] * row[tx.idx[k]]
				}
				trow[o] = s
			}
		}
	}
	out := tensor.Zeros(C, oh, ow)
	dst := out.Data()
	for c := 0; c < C; c++ {
		plane := tmp[c*H*ow : (c+1)*H*ow]
		for o := 0; o < oh; o++ {
			orow := dst[(c*oh+o)*ow : (c*oh+o+1)*ow]
			for k := ty.start[o]; k < ty.start[o+1]; k++ {
				wt := ty.w[k]
				srow := plane[int(ty.idx[k])*ow : (int(ty.idx[k])+1)*ow]
				for i, v := range srow {
					orow[i] += wt * v
				}
			}
		}
	}
	clamp01(dst)
	return out
}

// scratchPool holds resample's intermediate buffers.
var scratchPool = sync.Pool{New: func() any { return new([]float32) }}

// clamp01 keeps rounding from leaving [0,1].
func clamp01(d []float32) {
	for i, v := range d {
		if v < 0 {
			d[i] = 0
		} else if v > 1 {
			d[i] = 1
		}
	}
}
