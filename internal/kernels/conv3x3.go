package kernels

import "github.com/fastgo-ml/fastgo"

// Conv3x3Plan is the block table of Conv3x3 for output planes of h x w
// pixels (w >= 8), read from input planes zero-padded as a same 3x3
// convolution's input is: one row of zeros above and below, and rows of
// wp = w+1 floats, a zero then the w pixels (the zero that starts a row is
// also the right padding of the row before it). Each row of the output is
// cut into blocks of 8 pixels, the last block ending at the row's end (and
// overlapping the one before it when 8 does not divide w: its pixels are
// computed twice, the same values).
type Conv3x3Plan struct {
	tab    []int // (source offset, destination offset) of each block
	h, w   int
	srcLen int // floats of the padded plane a call reads, one past its end
}

// NewConv3x3Plan returns the plan for h x w output planes; it panics when
// w < 8 or h < 1.
func NewConv3x3Plan(h, w int) *Conv3x3Plan {
	if w < 8 || h < 1 {
		panic(fastgo.Errorf("kernels.NewConv3x3Plan: planes of %dx%d, need a width of at least 8", h, w))
	}
	wp := w + 1
	per := (w + 7) / 8
	p := &Conv3x3Plan{tab: make([]int, 0, 2*h*per), h: h, w: w, srcLen: (h+2)*wp + 1}
	for y := 0; y < h; y++ {
		for b := 0; b < per; b++ {
			x0 := min(8*b, w-8)
			p.tab = append(p.tab, y*wp+x0, y*w+x0)
		}
	}
	return p
}

// SrcLen is how many floats of the padded input a call of Conv3x3 reads:
// the padded plane, (h+2)*(w+1) floats, and the float after it, which must
// be zero. In the layout of same convolutions it is the first padding
// float of the next plane, or of the zeroed slack after the last one: the
// right padding of the plane's last row, as each row's right padding is
// the next row's first float.
func (p *Conv3x3Plan) SrcLen() int { return p.srcLen }

// Conv3x3 computes one output plane of a 3x3, stride-1, padding-1
// convolution of one input channel: dst[y*w+x] = bias + sum over ky, kx of
// k[3*ky+kx] * in(y+ky-1, x+kx-1), from src, the input plane padded as
// plan p describes, the taps added in that order. A first convolution
// layer on grey images (one input channel) is this per output channel,
// where im2col + GEMM has only 9 steps of k per tile.
func Conv3x3(dst, src []float32, p *Conv3x3Plan, k *[9]float32, bias float32) {
	if len(src) < p.srcLen || len(dst) < p.h*p.w {
		panic(fastgo.Errorf("kernels.Conv3x3: %dx%d planes need %d padded input and %d output floats, have %d and %d", p.h, p.w, p.srcLen, p.h*p.w, len(src), len(dst)))
	}
	if conv3x3Tier(dst, src, p, k, bias) {
		return
	}
	conv3x3Go(dst, src, p, k, bias)
}

// conv3x3Go is Conv3x3 in Go.
func conv3x3Go(dst, src []float32, p *Conv3x3Plan, k *[9]float32, bias float32) {
	wp := p.w + 1
	for i := 0; i < len(p.tab); i += 2 {
		s, d := p.tab[i], p.tab[i+1]
		for j := 0; j < 8; j++ {
			acc := bias
			for t := 0; t < 9; t++ {
				acc += k[t] * src[s+(t/3)*wp+t%3+j]
			}
			dst[d+j] = acc
		}
	}
}
