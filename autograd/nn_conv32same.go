package autograd

import (
	"github.com/fastgo-ml/fastgo/internal/kernels"
	"github.com/fastgo-ml/fastgo/internal/parallel"
	"github.com/fastgo-ml/fastgo/tensor"
)

// The float32 path of a stride-1 convolution with "same" padding (2*pad =
// dilation*(kernel-1) on both axes: SmallCNN's convolutions, a ResNet's 3x3
// stride-1 and 1x1 ones). The input is copied once into a zero-padded
// buffer of width Wp = W + padW, each row its padW zeros then its W pixels:
// the zeros at the start of row y+1 are also the right padding of row y, as
// a read past the end of a row lands on them, so the two sides share one
// band of padding and the wide grid wastes padW columns, not 2*padW (a
// quarter of a ResNet's last stage at 4x4, not half). The output is
// computed on that width: output pixel (y, x') for x' in [0, Wp), of which
// x' >= W are garbage that a compaction drops. On that grid, row k = (c, ky, kx) of the unfolded
// input is the padded plane itself, shifted by ky*dilH*Wp + kx*dilW: one
// contiguous copy per sample, where the general unfolding copies one
// output row at a time.
//
// The backward uses the same grid: dY embedded in a zero-padded buffer of
// the same shape (its padding is the forward's, for a same convolution)
// makes the garbage columns contribute exactly zero to dW, and dX is the
// same forward, on padded dY, with the flipped kernel.

// sameConv reports whether p takes this path. Besides stride 1 and same
// padding it needs a padding row under the last row when there are garbage
// columns (padW > 0): dY's padded buffer must read zeros there.
func (p *convPlan) sameConv() bool {
	g := p.geom
	return g.StrideH == 1 && g.StrideW == 1 && 2*g.PadH == g.DilH*(g.KH-1) && 2*g.PadW == g.DilW*(g.KW-1) &&
		(g.PadW == 0 || g.PadH >= 1)
}

// padded is an NCHW batch with its planes zero-padded to hp x wp, plus
// slack at the end so that a shifted read of the last plane stays in the
// buffer.
type padded struct {
	t          *tensor.Tensor
	d          []float32
	n, c       int
	hp, wp     int
	plane      int // hp*wp
	slack      int
	ph, pw     int
	srcH, srcW int
}

// newPadded copies src [n, c, h, w] into a zero-padded buffer: ph zero
// rows above and below each plane, and rows of wp = w+pw, pw zeros then the
// w pixels (the zeros of the next row, or of the bottom padding, are the
// right padding).
func newPadded(src []float32, n, c, h, w, ph, pw, slack int) *padded {
	b := emptyPadded(n, c, h, w, ph, pw, slack)
	wp := b.wp
	parallel.For(n*c, 8, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			dst := b.d[pl*b.plane : (pl+1)*b.plane]
			s := src[pl*h*w : (pl+1)*h*w]
			clear(dst[:ph*wp])
			for y := 0; y < h; y++ {
				row := dst[(ph+y)*wp : (ph+y+1)*wp]
				clear(row[:pw])
				copy(row[pw:], s[y*w:(y+1)*w])
			}
			clear(dst[(ph+h)*wp:])
		}
	})
	return b
}

// emptyPadded returns a padded buffer for n*c planes of h x w, laid out as
// newPadded lays it out, from the tensor pool: only its slack is zeroed,
// the caller writes the planes.
func emptyPadded(n, c, h, w, ph, pw, slack int) *padded {
	hp, wp := h+2*ph, w+pw
	b := &padded{n: n, c: c, hp: hp, wp: wp, plane: hp * wp, slack: slack, ph: ph, pw: pw, srcH: h, srcW: w}
	b.t = tensor.Empty[float32](n*c*b.plane + slack)
	b.d = b.t.Data()
	clear(b.d[n*c*b.plane:])
	return b
}

func (b *padded) release() { b.t.Release() }

// sameUnfold is the unfolded matrix of a padded batch on the wide output
// grid: row k is (channel c0 + k/taps, tap k%taps), column j is (sample
// j/(oh*wp), wide pixel j%(oh*wp)); element = plane[pixel + shift(tap)].
type sameUnfold struct {
	b        *padded
	c0       int
	kh, kw   int
	dh, dw   int
	oh       int                // output height (= input height)
	perImage int                // oh*wp columns per sample
	rowOff   []int              // see offsets
	table    kernels.RowOffsets // rowOff's table for the gathers
}

func (u *sameUnfold) row(dst []float32, k, j0 int) {
	taps := u.kh * u.kw
	ci, t := u.c0+k/taps, k%taps
	shift := (t/u.kw)*u.dh*u.b.wp + (t%u.kw)*u.dw
	n, q := j0/u.perImage, j0%u.perImage
	for d := 0; d < len(dst); {
		run := min(u.perImage-q, len(dst)-d)
		o := (n*u.b.c+ci)*u.b.plane + q + shift
		copy(dst[d:d+run], u.b.d[o:o+run])
		d += run
		q = 0
		n++
	}
}

func (u *sameUnfold) packB(dst []float32, p0, kc, col, w, nr int) {
	n, q := col/u.perImage, col%u.perImage
	sample := u.b.c * u.b.plane
	if q+w <= u.perImage {
		// The sliver's columns are in one sample: row k is the run at
		// rowOff[k] from the sample's pixel q, and the sliver one gather.
		kernels.GatherRowsAt(dst, u.b.d[n*sample+q:], u.table.Rows(p0, p0+kc), w, nr)
		return
	}
	if w1 := u.perImage - q; w == nr && nr-w1 <= u.perImage {
		// A whole sliver over two samples: the first w1 columns end
		// sample n's run, the others start sample n+1's, read at the same
		// offsets from n+1's pixel -w1.
		kernels.GatherRowsSplit(dst, u.b.d[n*sample+q:], u.b.d[(n+1)*sample-w1:], u.table.Rows(p0, p0+kc), w1, nr)
		return
	}
	// Otherwise one gather per sample's run of columns, each into its
	// columns of the rows.
	offs := u.rowOff[p0 : p0+kc]
	for j := 0; j < w; {
		n, q := (col+j)/u.perImage, (col+j)%u.perImage
		run := min(u.perImage-q, w-j)
		kernels.GatherRowsPart(dst[j:kc*nr], u.b.d[n*u.b.c*u.b.plane+q:], offs, run, nr)
		j += run
	}
	if w < nr {
		for p := 0; p < kc; p++ {
			clear(dst[p*nr+w : (p+1)*nr])
		}
	}
}

// offsets fills rowOff: row k's offset from its sample's planes, channel
// plane plus tap shift.
func (u *sameUnfold) offsets(rows int) *sameUnfold {
	taps := u.kh * u.kw
	u.rowOff = make([]int, rows)
	for k := range u.rowOff {
		ci, t := u.c0+k/taps, k%taps
		u.rowOff[k] = ci*u.b.plane + (t/u.kw)*u.dh*u.b.wp + (t%u.kw)*u.dw
	}
	u.table = kernels.NewRowOffsets(u.rowOff)
	return u
}

func (u *sameUnfold) packA(j0 int) func(dst []float32, row, h, p0, kc, mr int) {
	return func(dst []float32, row, h, p0, kc, mr int) {
		tmp := getRowScratch(h * kc)
		t := *tmp
		for i := 0; i < h; i++ {
			u.row(t[i*kc:(i+1)*kc], row+i, j0+p0)
		}
		kernels.PackRowsA(dst, t, kc, h, kc, mr)
		rowScratch.Put(tmp)
	}
}

// compact copies the first w of every wp columns of the wide output src
// (channel-major: channel c's n planes of oh x wp from c*ld, so that the
// GEMM writes it as one plain matrix with row stride ld) into dst [n, c,
// oh, w], adding bias[c] when bias is not nil and taking the ReLU when relu
// is set. With st, it also gathers BatchNorm's statistics of each plane of
// dst just written, still in cache (planeStats.plane): sample 0's planes
// first, as they give the pivots the others need.
func compact(src []float32, ld int, dst []float32, n, c, oh, w, wp int, bias []float32, relu bool, st *planeStats) {
	plane := oh * w
	one := func(pl int) {
		sn, sc := pl/c, pl%c
		s := src[sc*ld+sn*oh*wp : sc*ld+(sn+1)*oh*wp]
		d := dst[pl*plane : (pl+1)*plane]
		for y := 0; y < oh; y++ {
			biasReLU(d[y*w:(y+1)*w], s[y*wp:y*wp+w], bias, sc, relu)
		}
		if st != nil {
			st.plane(d, pl, sn, sc)
		}
	}
	first := 0
	if st != nil {
		st.start(n, c, plane)
		parallel.For(c, 8, func(lo, hi int) {
			for pl := lo; pl < hi; pl++ {
				one(pl)
			}
		})
		first = c
	}
	parallel.For(n*c-first, 8, func(lo, hi int) {
		for pl := first + lo; pl < first+hi; pl++ {
			one(pl)
		}
	})
}

// biasReLU writes dst = src + bias[c] (src alone when bias is nil), then
// its ReLU when relu is set, in one pass.
func biasReLU(dst, src, bias []float32, c int, relu bool) {
	switch {
	case bias != nil && relu:
		kernels.AffineRelu(dst, src, 1, bias[c])
	case bias != nil:
		kernels.Affine(dst, src, 1, bias[c])
	case relu:
		kernels.Relu(dst, src)
	default:
		copy(dst, src)
	}
}

// sameSlack is the slack a padded buffer needs for the shifted reads of
// geometry p's kernel from the last plane.
func (p *convPlan) sameSlack() int {
	g := p.geom
	return (g.KH-1)*g.DilH*(p.w+g.PadW) + (g.KW-1)*g.DilW + 1
}

// sameForward is conv32Forward for a same convolution.
func sameForward(p *convPlan, x, w, b, out []float32, relu bool, st *planeStats) {
	g := p.geom
	xp := newPadded(x, p.n, p.cin, p.h, p.w, g.PadH, g.PadW, p.sameSlack())
	defer xp.release()
	sameConvGEMM(p, xp, p.cinG, p.cout, p.coutG, func(grp int) []float32 { return w[grp*p.coutG*p.kG:] }, p.kG, out, b, relu, st)
}

// sameConvGEMM computes outC channels (groups of outG) on the wide grid of
// the padded input xp (groups of inG channels) with weight rows wOf(group)
// of length k (sameWide), then compacts into out (adding bias when not
// nil, and taking the ReLU when relu is set, and filling st when not nil).
func sameConvGEMM(p *convPlan, xp *padded, inG, outC, outG int, wOf func(int) []float32, k int, out, bias []float32, relu bool, st *planeStats) {
	wt, ld := sameWide(p, xp, inG, outC, outG, wOf, k)
	defer wt.Release()
	compact(wt.Data(), ld, out, p.n, outC, p.h, p.w, xp.wp, bias, relu, st)
}

// sameWide computes outC channels (groups of outG) on the wide grid of the
// padded input xp (groups of inG channels) with weight rows wOf(group) of
// length k, into a pooled buffer [outC, n, oh, wp] of row stride ld
// (channel c's n planes from c*ld), which the caller releases.
func sameWide(p *convPlan, xp *padded, inG, outC, outG int, wOf func(int) []float32, k int) (wt *tensor.Tensor, ld int) {
	g := p.geom
	perImage := p.h * xp.wp
	cols := p.n * perImage
	ld = kernels.PaddedLD(cols)
	wt = tensor.Empty[float32](outC * ld)
	o := wt.Data()
	for grp := 0; grp < p.groups; grp++ {
		u := (&sameUnfold{b: xp, c0: grp * inG, kh: g.KH, kw: g.KW, dh: g.DilH, dw: g.DilW, oh: p.h, perImage: perImage}).offsets(k)
		kernels.SgemmPacked(outG, cols, k, 1, &kernels.Packed{
			PackA: kernels.PackerA(false, wOf(grp), k),
			PackB: u.packB,
			C:     dense(o[grp*outG*ld:], ld, cols),
		}, 0)
	}
	return wt, ld
}

// sameBackward is conv32Backward for a same convolution.
func sameBackward(p *convPlan, x, w, gy []float32, gx, gw, gb []float32) {
	g := p.geom
	if gb != nil {
		conv32BiasGrad(p, gy, gb)
	}
	if gw == nil && gx == nil {
		return
	}
	// dY on the padded grid: for a same convolution its padding is the
	// forward's, so one buffer serves dW (dY at wide pixel q is at q +
	// padH*Wp + padW, with zeros under the garbage columns) and dX (the
	// padded input of the flipped convolution).
	gp := newPadded(gy, p.n, p.cout, p.h, p.w, g.PadH, g.PadW, p.sameSlack())
	defer gp.release()
	samePaddedBackward(p, x, w, gp, gx, gw)
}

// samePaddedBackward is sameBackward's gx and gw (each when not nil) from
// dY already on the padded grid (gp, as newPadded lays it out).
func samePaddedBackward(p *convPlan, x, w []float32, gp *padded, gx, gw []float32) {
	g := p.geom
	perImage := p.h * gp.wp
	if gw != nil {
		xp := newPadded(x, p.n, p.cin, p.h, p.w, g.PadH, g.PadW, p.sameSlack())
		defer xp.release()
		wT := tensor.Empty[float32](p.cout * p.kG)
		defer wT.Release()
		wt := wT.Data()
		off := g.PadH*gp.wp + g.PadW
		for grp := 0; grp < p.groups; grp++ {
			u := &sameUnfold{b: xp, c0: grp * p.cinG, kh: g.KH, kw: g.KW, dh: g.DilH, dw: g.DilW, oh: p.h, perImage: perImage}
			c0 := grp * p.coutG
			// B[j][c] = dY of channel c0+c at wide column j (zero under the
			// garbage columns).
			packB := func(j0 int) func(dst []float32, p0, kc, col, w, nr int) {
				return func(dst []float32, p0, kc, col, w, nr int) {
					for d := 0; d < kc; {
						j := j0 + p0 + d
						n, q := j/perImage, j%perImage
						seg := min(perImage-q, kc-d)
						src := gp.d[(n*p.cout+c0+col)*gp.plane+q+off:]
						kernels.PackColsB(dst[d*nr:(d+seg)*nr], src, gp.plane, seg, w, nr)
						d += seg
					}
				}
			}
			weightGradT(p, wt[grp*p.kG*p.coutG:(grp+1)*p.kG*p.coutG], perImage, u.packA, packB)
		}
		convTransposeWeight(p, wt, gw)
	}
	if gx != nil {
		kG := p.coutG * g.KH * g.KW
		wf := flipKernel(p, w)
		defer wf.Release()
		f := wf.Data()
		sameConvGEMM(p, gp, p.coutG, p.cin, p.cinG, func(grp int) []float32 { return f[grp*p.cinG*kG:] }, kG, gx, nil, false, nil)
	}
}
