package autograd

import (
	"unsafe"

	"github.com/fastgo-ml/fastgo/internal/kernels"
	"github.com/fastgo-ml/fastgo/internal/parallel"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Conv2dReLUMaxPool2x2 is
//
//	MaxPool2d(Conv2dReLU(x, w, b, opts), Pool2dOptions{Kernel: [2]int{2, 2}})
//
// as one op, with the same values and gradients bit for bit: the block of a
// small CNN in eval mode once its batch-norm is folded into the convolution
// (layers.CallConvBNReLUMaxPool), as an attack runs it. The full-size
// output of the convolution is not kept: on the float32 path of stride-1
// "same" convolutions each plane is pooled from the GEMM's output as it is
// finished, and the backward sends the pooled gradient, masked by the ReLU
// (a window's gradient passes when its maximum is positive), straight into
// the zero-padded layout the convolution's backward reads, where the ops in
// turn write the full-size gradient, mask it by the ReLU and copy it into
// that layout. Other convolutions write the full-size output for the pool
// and drop it, and their backward masks the pooled gradient, not the
// full-size one. The arguments are those of Conv2d, which panics on them
// as it would alone; float64 runs the ops in turn.
func Conv2dReLUMaxPool2x2[T tensor.Float](x, w, b *Var[T], opts Conv2dOptions) *Var[T] {
	pool := Pool2dOptions{Kernel: [2]int{2, 2}}
	x32, ok := any(x).(*Value)
	if !ok || x.data.Rank() != 4 || w.data.Rank() != 4 {
		h := Conv2dReLU(x, w, b, opts)
		return Consumed(h, MaxPool2d(h, pool))
	}
	p := newConvPlan(x.Shape(), w.Shape(), &opts)
	if p.oh < 2 || p.ow < 2 {
		h := Conv2dReLU(x, w, b, opts)
		return Consumed(h, MaxPool2d(h, pool)) // MaxPool2d panics, naming the shapes
	}
	var b32 *Value
	if b != nil {
		b32 = any(b).(*Value)
	}
	return any(convReLUPool32(p, x32, any(w).(*Value), b32, &opts)).(*Var[T])
}

// convReLUPool32 is Conv2dReLUMaxPool2x2 on float32, for plan p.
func convReLUPool32(p *convPlan, x, w, b *Value, opts *Conv2dOptions) *Value {
	if b != nil && (b.data.Rank() != 1 || b.Shape()[0] != p.cout) {
		h := Conv2dReLU(x, w, b, *opts) // panics, naming the shapes
		return Consumed(h, MaxPool2d(h, Pool2dOptions{Kernel: [2]int{2, 2}}))
	}
	oh, ow := p.oh/2, p.ow/2
	planes := p.n * p.cout
	out := tensor.Empty[float32](p.n, p.cout, oh, ow)
	// The window codes live in a pool buffer, as MaxPool2d's do.
	codeBuf := tensor.Empty[float32]((planes*oh*ow + 3) / 4)
	code := unsafe.Slice((*uint8)(unsafe.Pointer(unsafe.SliceData(codeBuf.Data()))), planes*oh*ow)
	xd, wd := x.data.Data(), w.data.Data()
	var bd []float32
	if b != nil {
		bd = b.data.Data()
	}
	od := out.Data()
	if p.wideForward() {
		g := p.geom
		xp := newPadded(xd, p.n, p.cin, p.h, p.w, g.PadH, g.PadW, p.sameSlack())
		wt, ld := sameWide(p, xp, p.cinG, p.cout, p.coutG, func(grp int) []float32 { return wd[grp*p.coutG*p.kG:] }, p.kG)
		wp := xp.wp
		xp.release()
		o := wt.Data()
		parallel.For(planes, poolGrain, func(lo, hi int) {
			for pl := lo; pl < hi; pl++ {
				sn, sc := pl/p.cout, pl%p.cout
				s := o[sc*ld+sn*p.h*wp : sc*ld+(sn+1)*p.h*wp]
				// The whole plane in one call: its garbage columns too,
				// which nothing reads.
				biasReLU(s, s, bd, sc, true)
				kernels.MaxPool2x2(oh, ow, 2*wp, wp, s, od[pl*oh*ow:(pl+1)*oh*ow], code[pl*oh*ow:(pl+1)*oh*ow])
			}
		})
		wt.Release()
	} else {
		h := tensor.Empty[float32](p.n, p.cout, p.oh, p.ow)
		convForward(p, xd, wd, bd, h.Data(), true, nil)
		hd := h.Data()
		parallel.For(planes, poolGrain, func(lo, hi int) {
			for pl := lo; pl < hi; pl++ {
				kernels.MaxPool2x2(oh, ow, 2*p.ow, p.ow, hd[pl*p.oh*p.ow:(pl+1)*p.oh*p.ow], od[pl*oh*ow:(pl+1)*oh*ow], code[pl*oh*ow:(pl+1)*oh*ow])
			}
		})
		h.Release()
	}
	if !GradEnabled() || !(x.RequiresGrad() || w.RequiresGrad() || nnNeeds(b)) {
		codeBuf.Release()
	}
	return Record("Conv2dReLUMaxPool2x2", out, func(gy *tensor.Tensor) []*tensor.Tensor {
		defer codeBuf.Release()
		// The ReLU's mask at each window's maximum is the pooled output's.
		gm := tensor.Empty[float32](gy.Shape()...)
		defer gm.Release()
		gmd := gm.Data()
		convReLUMask(gmd, gy.Data(), od)
		var gx, gw, gb *tensor.Tensor
		if x.RequiresGrad() {
			gx = tensor.Empty[float32](x.Shape()...)
		}
		if w.RequiresGrad() {
			gw = tensor.Empty[float32](w.Shape()...)
		}
		if nnNeeds(b) {
			gb = tensor.New[float32](p.cout)
		}
		if gb == nil && p.paddedBackward(gx != nil, gw != nil) {
			gp := p.poolScatterPadded(gmd, code, oh, ow)
			samePaddedBackward(p, xd, wd, gp, tensorData(gx), tensorData(gw))
			gp.release()
		} else {
			gh := tensor.Empty[float32](p.n, p.cout, p.oh, p.ow)
			ghd := gh.Data()
			if p.oh%2 != 0 || p.ow%2 != 0 {
				clear(ghd)
			}
			parallel.For(planes, poolGrain, func(lo, hi int) {
				for pl := lo; pl < hi; pl++ {
					kernels.MaxPool2x2Backward(oh, ow, 2*p.ow, p.ow, gmd[pl*oh*ow:(pl+1)*oh*ow], code[pl*oh*ow:(pl+1)*oh*ow], ghd[pl*p.oh*p.ow:(pl+1)*p.oh*p.ow])
				}
			})
			convBackward(p, xd, wd, ghd, gx, gw, gb)
			gh.Release()
		}
		return nnGrads([]*Value{x, w, b}, gx, gw, gb)
	}, nnInputs(x, w, b)...)
}

// tensorData is t's data, or nil for a nil t.
func tensorData(t *tensor.Tensor) []float32 {
	if t == nil {
		return nil
	}
	return t.Data()
}

// wideForward reports whether the forward of p takes the same
// convolutions' wide-grid GEMM (conv32Forward's choice for them).
func (p *convPlan) wideForward() bool {
	return p.packed() && p.sameConv() && !p.winograd(passForward)
}

// paddedBackward reports whether conv32Backward would compute the wanted
// gradients (gx when wantX, gw when wantW) of p from dY on the padded grid
// (samePaddedBackward): every wanted one takes the same convolutions'
// GEMMs, not Winograd.
func (p *convPlan) paddedBackward(wantX, wantW bool) bool {
	if !p.packed() || !p.sameConv() || (!wantX && !wantW) {
		return false
	}
	return !(wantX && p.winograd(passInputGrad)) && !(wantW && p.winograd(passWeightGrad))
}

// poolScatterPadded is the max pool's backward for the pooled gradient gy
// (oh x ow per plane) and window codes code, written on the padded grid of
// p's output as newPadded lays out dY: each gradient at its window's
// maximum, zero everywhere else.
func (p *convPlan) poolScatterPadded(gy []float32, code []uint8, oh, ow int) *padded {
	ph, pw := p.geom.PadH, p.geom.PadW
	gp := emptyPadded(p.n, p.cout, p.h, p.w, ph, pw, p.sameSlack())
	wp := gp.wp
	parallel.For(p.n*p.cout, poolGrain, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			dst := gp.d[pl*gp.plane : (pl+1)*gp.plane]
			// The kernel may write past the windows of a row, within the
			// plane (its window rows end before the plane does): the
			// padding is written after it.
			kernels.MaxPool2x2BackwardOver(oh, ow, 2*wp, wp, gy[pl*oh*ow:(pl+1)*oh*ow], code[pl*oh*ow:(pl+1)*oh*ow], dst[ph*wp+pw:])
			clear(dst[:ph*wp])
			for y := 0; y < p.h; y++ {
				row := dst[(ph+y)*wp : (ph+y+1)*wp]
				if y >= 2*oh {
					clear(row)
					continue
				}
				clear(row[:pw])
				clear(row[pw+2*ow:])
			}
			clear(dst[(ph+p.h)*wp:])
		}
	})
	return gp
}
