package vision

import (
	"fmt"
	"math"
	"sync"

	"github.com/fastgo-ml/fastgo/tensor"
)

// ResizeMode says how Resize fits an image of another aspect ratio
// (fastai's ResizeMethod).
type ResizeMode int

const (
	// Crop keeps the largest region of the target's aspect ratio (centred
	// for validation, at a random place for training) and scales it.
	Crop ResizeMode = iota
	// Pad scales the whole image to fit inside the target and fills the
	// border by reflection (fastai's PadMode.Reflection: the edge pixel is
	// not repeated, as numpy's "reflect").
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
// becomes h x w, for training and validation alike. Crop and Pad first take
// fastai's integer crop box (the largest box of the target's aspect ratio
// inside the image for Crop, the smallest around it for Pad, at a random
// place for training and in the centre for validation), then scale it as
// PIL's bilinear resize does: a triangle filter widened by the scale factor
// when shrinking, so downscaled images are not aliased, with the taps kept
// inside the box. The result matches fastai's Resize on a PIL float image to
// float32 rounding.
func Resize(h, w int, mode ResizeMode) ItemTransform {
	if h < 1 || w < 1 {
		panic(fmt.Sprintf("vision.Resize: size %dx%d", h, w))
	}
	if mode < Crop || mode > Squish {
		panic(fmt.Sprintf("vision.Resize: unknown mode %v", mode))
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
	px, py := 0.5, 0.5
	if train && rng != nil && r.mode != Squish {
		px, py = rng.Float64(), rng.Float64()
	}
	sx, sy := r.spans(W, H, px, py)
	return resample(x, sx, sy, r.h, r.w, 0, 0, r.h, r.w, reflectPad)
}

// spans returns the source box of fastai's Resize for an image of W x H
// pixels, placed at the fractions px, py of the free room.
func (r *resize) spans(W, H int, px, py float64) (sx, sy span) {
	if r.mode == Squish {
		return span{0, W}, span{0, H}
	}
	rw, rh := float64(W)/float64(r.w), float64(H)/float64(r.h)
	m := rh
	if (r.mode == Crop && rw < rh) || (r.mode == Pad && rw > rh) {
		m = rw
	}
	cw, ch := int(m*float64(r.w)), int(m*float64(r.h))
	// Go's int() truncates toward zero, as Python's does.
	return cropPadSpans(W, H, int(px*float64(W-cw)), int(py*float64(H-ch)), cw, ch)
}

// RandomResizedCrop returns fastai's RandomResizedCrop(size, min_scale,
// ratio=(3/4, 4/3), val_xtra=0.14) item transform. For training it takes a
// random box of between minScale and all of the image's area, with an aspect
// ratio drawn log-uniformly from [3/4, 4/3] (ten tries, then the largest
// centred box with a ratio in range), and scales it to h x w; for
// validation it scales the whole image to (h+extra) x (w+extra), where extra
// is max(h,w)*0.14 rounded up to a multiple of 8, and keeps the centre
// h x w. fastai's default minScale is 0.08; values outside (0, 1] are
// clamped into it.
func RandomResizedCrop(h, w int, minScale float64) ItemTransform {
	if h < 1 || w < 1 {
		panic(fmt.Sprintf("vision.RandomResizedCrop: size %dx%d", h, w))
	}
	if !(minScale > 0) {
		minScale = 1e-3
	}
	return &randomResizedCrop{h: h, w: w, minScale: min(minScale, 1), maxScale: 1, ratio: [2]float64{3.0 / 4, 4.0 / 3}, valXtra: 0.14}
}

type randomResizedCrop struct {
	h, w               int
	minScale, maxScale float64
	ratio              [2]float64
	valXtra            float64
}

// String describes the transform.
func (r *randomResizedCrop) String() string {
	return fmt.Sprintf("RandomResizedCrop(%d, %d, %g)", r.h, r.w, r.minScale)
}

func (r *randomResizedCrop) TransformItem(x *tensor.Tensor, rng *tensor.RNG, train bool) *tensor.Tensor {
	_, H, W := chw(x)
	if !train || rng == nil {
		xtra := int(math.Ceil(float64(max(r.h, r.w))*r.valXtra/8)) * 8
		fh, fw := r.h+xtra, r.w+xtra
		return resample(x, span{0, W}, span{0, H}, fh, fw, (fh-r.h)/2, (fw-r.w)/2, r.h, r.w, zeroPad)
	}
	x0, y0, cw, ch := r.box(W, H, rng)
	return resample(x, span{x0, x0 + cw}, span{y0, y0 + ch}, r.h, r.w, 0, 0, r.h, r.w, zeroPad)
}

// box draws a training crop box of a W x H image as fastai does.
func (r *randomResizedCrop) box(W, H int, rng *tensor.RNG) (x0, y0, cw, ch int) {
	fw, fh := float64(W), float64(H)
	area := fw * fh
	lr0, lr1 := math.Log(r.ratio[0]), math.Log(r.ratio[1])
	for range 10 {
		a := area * (r.minScale + (r.maxScale-r.minScale)*rng.Float64())
		ratio := math.Exp(lr0 + (lr1-lr0)*rng.Float64())
		// Python's round() rounds half to even.
		nw := int(math.RoundToEven(math.Sqrt(a * ratio)))
		nh := int(math.RoundToEven(math.Sqrt(a / ratio)))
		if nw <= W && nh <= H && nw >= 1 && nh >= 1 {
			return rng.IntN(W - nw + 1), rng.IntN(H - nh + 1), nw, nh
		}
	}
	cw, ch = W, H
	switch {
	case fw/fh < r.ratio[0]:
		ch = int(fw / r.ratio[0])
	case fw/fh > r.ratio[1]:
		cw = int(fh * r.ratio[1])
	}
	return (W - cw) / 2, (H - ch) / 2, cw, ch
}

// CenterCrop returns fastai's CropPad(size) item transform: the centre h x w
// of every image without scaling, padded with zeros where the image is
// smaller.
func CenterCrop(h, w int) ItemTransform {
	if h < 1 || w < 1 {
		panic(fmt.Sprintf("vision.CenterCrop: size %dx%d", h, w))
	}
	return &centerCrop{h: h, w: w}
}

type centerCrop struct{ h, w int }

// String describes the transform.
func (r *centerCrop) String() string { return fmt.Sprintf("CenterCrop(%d, %d)", r.h, r.w) }

func (r *centerCrop) TransformItem(x *tensor.Tensor, _ *tensor.RNG, _ bool) *tensor.Tensor {
	C, H, W := chw(x)
	if H == r.h && W == r.w {
		return x
	}
	// fastai's tl = (orig - size) // 2 floors, also for negative values.
	sx, sy := cropPadSpans(W, H, floorDiv(W-r.w, 2), floorDiv(H-r.h, 2), r.w, r.h)
	out := tensor.Zeros(C, r.h, r.w)
	src, dst := x.Data(), out.Data()
	for c := 0; c < C; c++ {
		for oy := 0; oy < r.h; oy++ {
			y := sy.lo + oy
			if y < 0 || y >= H || y >= sy.hi {
				continue
			}
			for ox := 0; ox < r.w; ox++ {
				if xx := sx.lo + ox; xx >= 0 && xx < W && xx < sx.hi {
					dst[(c*r.h+oy)*r.w+ox] = src[(c*H+y)*W+xx]
				}
			}
		}
	}
	return out
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// chw returns the dimensions of an image tensor, panicking on another rank.
func chw(x *tensor.Tensor) (c, h, w int) {
	s := x.Shape()
	if len(s) != 3 {
		panic(fmt.Sprintf("vision: image tensor of shape %v: want [C,H,W]", s))
	}
	return s[0], s[1], s[2]
}

// span is an interval [lo, hi) of source pixel indices along one axis. It
// may reach outside the image [0, n): those pixels are padding.
type span struct{ lo, hi int }

// cropPadSpans returns the source box of fastai's crop_pad(size, tl) on a
// W x H image: the part of the box inside the image is cropped and, when a
// corner lies outside, the rest is padding. It follows fastai's
// _do_crop_pad, quirks included: a dimension is padded only when some
// coordinate of tl is negative.
func cropPadSpans(W, H, tlx, tly, cw, ch int) (sx, sy span) {
	crop := tlx >= 0 || tly >= 0
	pad := tlx < 0 || tly < 0
	f := func(n, tl, sz int) span {
		a, b := 0, n
		if crop {
			a = max(tl, 0)
			b = min(a+sz, n)
		}
		if pad {
			p := max(-tl, 0)
			a -= p
			b += max(sz-n-p, 0)
		}
		return span{a, b}
	}
	return f(W, tlx, cw), f(H, tly, ch)
}

type padMode int

const (
	reflectPad padMode = iota // numpy's "reflect": ... 2 1 | 0 1 2 ... n-1 | n-2 ...
	zeroPad
)

// taps holds, for each output index along one axis, the source indices and
// weights of a separable filter.
type taps struct {
	start []int32 // offset of output i's taps in idx and w
	idx   []int32
	w     []float32
}

// axisTaps returns PIL's bilinear taps (ImagingResample's precompute_coeffs)
// that scale the source span s of an axis of n pixels to full output
// pixels, for the outputs [o0, o0+out). The taps stay inside s, whose pixels
// outside [0, n) are padding as pad says (zero pixels still count in the
// normalisation, as PIL resizing a zero-padded image).
func axisTaps(n int, s span, full, o0, out int, pad padMode) taps {
	length := s.hi - s.lo
	scale := float64(length) / float64(full)
	fscale := math.Max(scale, 1)
	support := fscale // the triangle filter's support is 1
	t := taps{start: make([]int32, out+1)}
	for o := 0; o < out; o++ {
		t.start[o] = int32(len(t.idx))
		center := (float64(o0+o) + 0.5) * scale
		xmin := max(int(center-support+0.5), 0)
		xmax := min(int(center+support+0.5), length)
		sum := 0.0
		first := len(t.w)
		for x := xmin; x < xmax; x++ {
			wt := 1 - math.Abs((float64(x)-center+0.5)/fscale)
			if wt <= 0 {
				continue
			}
			sum += wt
			j := s.lo + x
			if j < 0 || j >= n {
				if pad == zeroPad {
					continue
				}
				j = reflect101(j, n)
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

// reflect101 reflects i into [0,n) about the edge pixels without repeating
// them (numpy's and torchvision's "reflect": -1 -> 1, n -> n-2).
func reflect101(i, n int) int {
	if n == 1 {
		return 0
	}
	p := 2 * (n - 1)
	m := i % p
	if m < 0 {
		m += p
	}
	if m >= n {
		m = p - m
	}
	return m
}

// resample scales the source box sx x sy of x to a full image of fh x fw
// pixels and returns its window of oh x ow pixels at (oy0, ox0): the
// horizontal pass first, over the rows the vertical pass needs, then the
// vertical one, as PIL does.
func resample(x *tensor.Tensor, sx, sy span, fh, fw, oy0, ox0, oh, ow int, pad padMode) *tensor.Tensor {
	C, H, W := chw(x)
	tx := axisTaps(W, sx, fw, ox0, ow, pad)
	ty := axisTaps(H, sy, fh, oy0, oh, pad)
	src := x.Data()
	tp := scratchPool.Get().(*[]float32)
	defer scratchPool.Put(tp)
	if cap(*tp) < C*H*ow {
		*tp = make([]float32, C*H*ow)
	}
	tmp := (*tp)[:C*H*ow]
	// Only the rows some vertical tap reads.
	need := make([]bool, H)
	for _, j := range ty.idx {
		need[j] = true
	}
	for c := 0; c < C; c++ {
		for y := 0; y < H; y++ {
			if !need[y] {
				continue
			}
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
