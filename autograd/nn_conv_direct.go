package autograd

import (
	"sync"

	"github.com/fastgo-ml/fastgo/internal/kernels"
	"github.com/fastgo-ml/fastgo/internal/parallel"
)

// The direct forward and weight gradient of a 3x3 convolution of one input
// channel (a first layer on grey images: the SmallCNN's conv1). im2col +
// GEMM gives its forward 9 steps of k per tile, whose setup and stores cost
// more than their FMAs (about a quarter of the FMA peak, AMD Zen 3, AVX2
// tier), and its weight gradient B slivers 9 columns wide; the direct
// kernels (kernels.Conv3x3, Conv3x3Grad) keep the nine weights, or the
// nine sums, in registers and read the taps from the padded plane in L1.

// conv3x3Plans holds the direct kernels' block tables by output size
// ([2]int{h, w}), each made once rather than on every forward and
// backward.
var conv3x3Plans sync.Map

// conv3x3Plan returns the block table for h x w output planes.
func conv3x3Plan(h, w int) *kernels.Conv3x3Plan {
	key := [2]int{h, w}
	if p, ok := conv3x3Plans.Load(key); ok {
		return p.(*kernels.Conv3x3Plan)
	}
	p, _ := conv3x3Plans.LoadOrStore(key, kernels.NewConv3x3Plan(h, w))
	return p.(*kernels.Conv3x3Plan)
}

// direct3x3Shape reports whether p has the shape of the direct forward:
// one group of one input channel, a 3x3 kernel of stride 1, dilation 1 and
// padding 1, and output rows of at least 8 pixels.
func (p *convPlan) direct3x3Shape() bool {
	g := p.geom
	return p.cin == 1 && p.groups == 1 && g.KH == 3 && g.KW == 3 && g.StrideH == 1 && g.StrideW == 1 &&
		g.DilH == 1 && g.DilW == 1 && g.PadH == 1 && g.PadW == 1 && p.ow >= 8
}

// direct3x3 reports whether the float32 forward of p takes the direct
// kernel: the shape, and no algorithm forced by FASTGO_CONV.
func (p *convPlan) direct3x3() bool {
	return convAlgoForce == convAlgoAuto && p.direct3x3Shape()
}

// directForward is convForward on the direct kernel: the input padded once
// (as same convolutions pad it), then each output plane, its bias, its
// statistics for st while it is in cache, and its ReLU when relu is set.
func directForward(p *convPlan, x, w, b, out []float32, relu bool, st *planeStats) {
	xp := newPadded(x, p.n, 1, p.h, p.w, 1, 1, p.sameSlack())
	defer xp.release()
	plan := conv3x3Plan(p.oh, p.ow)
	ohw := p.oh * p.ow
	samples := func(lo, hi int) {
		for n := lo; n < hi; n++ {
			src := xp.d[n*xp.plane:]
			for c := 0; c < p.cout; c++ {
				var bias float32
				if b != nil {
					bias = b[c]
				}
				pl := n*p.cout + c
				d := out[pl*ohw : (pl+1)*ohw]
				kernels.Conv3x3(d, src, plan, (*[9]float32)(w[c*9:c*9+9]), bias)
				if st != nil {
					st.plane(d, pl, n, c)
				}
				if relu {
					kernels.Relu(d, d)
				}
			}
		}
	}
	forSamples(p.n, p.cout, ohw, st, samples)
}

// directWeightGrad sets gw from x and gy for a convolution of the direct
// forward's shape (kernels.Conv3x3Grad): each sample's nine sums per
// output channel, added into one partial per chunk of convDWChunk samples
// in sample order, the partials then added in chunk order, as
// convBackwardPerSample sums its GEMMs' results: the same order whatever
// the number of threads.
func directWeightGrad(p *convPlan, x, gy, gw []float32) {
	convWeightGEMMs.Add(1)
	xp := newPadded(x, p.n, 1, p.h, p.w, 1, 1, p.sameSlack())
	defer xp.release()
	plan := conv3x3Plan(p.oh, p.ow)
	ohw := p.oh * p.ow
	wLen := p.cout * 9
	chunks := (p.n + convDWChunk - 1) / convDWChunk
	partials := nnGetScratch[float32](chunks * wLen)
	defer nnPutScratch(partials)
	parallel.For(chunks, 1, func(clo, chi int) {
		var s [9]float32
		for ch := clo; ch < chi; ch++ {
			dw := partials.buf[ch*wLen : (ch+1)*wLen]
			clear(dw)
			for n := ch * convDWChunk; n < min((ch+1)*convDWChunk, p.n); n++ {
				src := xp.d[n*xp.plane:]
				for c := 0; c < p.cout; c++ {
					pl := n*p.cout + c
					kernels.Conv3x3Grad(&s, src, gy[pl*ohw:(pl+1)*ohw], plan)
					for t, v := range s {
						dw[c*9+t] += v
					}
				}
			}
		}
	})
	copy(gw, partials.buf[:wLen])
	for ch := 1; ch < chunks; ch++ {
		for i, v := range partials.buf[ch*wLen : (ch+1)*wLen] {
			gw[i] += v
		}
	}
}
