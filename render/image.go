package render

import (
	"fmt"
	"image"
	"math"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Image converts a [C,H,W] tensor (C is 1 or 3) or an [H,W] tensor with
// values in [0,1] into an image: *image.Gray for one channel, *image.NRGBA
// for three. Values outside [0,1] are clamped, NaN is 0. It is
// vision.FromImage's inverse up to rounding to 8 bits.
func Image(x *tensor.Tensor) (image.Image, error) {
	if x == nil {
		return nil, fmt.Errorf("render: Image: no tensor")
	}
	s := x.Shape()
	var c, h, w int
	switch len(s) {
	case 2:
		c, h, w = 1, s[0], s[1]
	case 3:
		c, h, w = s[0], s[1], s[2]
	default:
		return nil, fmt.Errorf("render: Image: shape %v: want [C,H,W] or [H,W]", s)
	}
	if c != 1 && c != 3 {
		return nil, fmt.Errorf("render: Image: shape %v: want 1 or 3 channels", s)
	}
	d := x.Data()
	plane := h * w
	if c == 1 {
		img := image.NewGray(image.Rect(0, 0, w, h))
		for i := 0; i < plane; i++ {
			img.Pix[i] = to8(d[i])
		}
		return img, nil
	}
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < plane; i++ {
		img.Pix[4*i] = to8(d[i])
		img.Pix[4*i+1] = to8(d[plane+i])
		img.Pix[4*i+2] = to8(d[2*plane+i])
		img.Pix[4*i+3] = 255
	}
	return img, nil
}

// to8 maps [0,1] to 0..255, clamping, NaN to 0.
func to8(v float32) uint8 {
	switch {
	case !(v > 0): // also NaN
		return 0
	case v >= 1:
		return 255
	}
	return uint8(v*255 + 0.5)
}

// Perturbation renders adv - x, two tensors of the same shape, as a picture
// of that shape: grey 0.5 is no change, lighter pixels were brightened and
// darker ones darkened, amplified so that the largest change reaches black
// or white. It returns the picture, the amplification (1 when nothing
// changed) and the largest absolute change.
func Perturbation(x, adv *tensor.Tensor) (pic *tensor.Tensor, amp, maxChange float64) {
	if !tensor.SameShape(x.Shape(), adv.Shape()) {
		panic(fastgo.Errorf("render.Perturbation: shapes %v and %v", x.Shape(), adv.Shape()))
	}
	xd, ad := x.Data(), adv.Data()
	for i := range xd {
		maxChange = math.Max(maxChange, math.Abs(float64(ad[i])-float64(xd[i])))
	}
	amp = 1
	if maxChange > 0 {
		amp = 0.5 / maxChange
	}
	pic = tensor.New[float32](x.Shape()...)
	for i := range pic.Data() {
		pic.Data()[i] = float32(min(1, max(0, 0.5+amp*(float64(ad[i])-float64(xd[i])))))
	}
	return pic, amp, maxChange
}

// Items returns the items of a batch x [N, ...] as tensors of shape [...]
// that share x's memory.
func Items(x *tensor.Tensor) []*tensor.Tensor {
	n := x.Dim(0)
	if n == 0 {
		return nil
	}
	per := x.Len() / n
	out := make([]*tensor.Tensor, n)
	for i := range out {
		out[i] = tensor.FromSlice(x.Data()[i*per:(i+1)*per], x.Shape()[1:]...)
	}
	return out
}
