//go:build amd64 && !purego

package kernels

import "github.com/klauspost/cpuid/v2"

// cpuTiers returns the assembly tiers this CPU supports, best first. The
// AVX-512 kernels use AVX512F instructions only (plus BZHI from BMI2 for
// tail masks); the AVX2 kernels need AVX2 and FMA3 together.
func cpuTiers() []*tier {
	var ts []*tier
	if cpuid.CPU.Supports(cpuid.AVX512F, cpuid.AVX2, cpuid.FMA3, cpuid.BMI2) {
		ts = append(ts, avx512Tier)
	}
	if cpuid.CPU.Supports(cpuid.AVX2, cpuid.FMA3) {
		ts = append(ts, avx2Tier)
	}
	return ts
}

var avx512Tier = &tier{
	name:         "avx512",
	gemm:         gemmKernel{mr: 12, nr: 32, tile: tile512, tiles: tiles512, packFull: packA12AVX512, packBT: packBT512, packB4: packBRows32x4},
	axpy:         axpyAVX512,
	scale:        scaleAVX512,
	add:          addAVX512,
	mul:          mulAVX512,
	relu:         reluAVX512,
	addRelu:      addReluAVX512,
	reluBackward: reluBackwardAVX512,
	adam:         adamAVX512,

	affine:             affineAVX512,
	affineRelu:         affineReluAVX512,
	bnBackward:         bnBackwardAVX512,
	bnBackwardMask:     bnBackwardMaskAVX512,
	maxPool2x2:         maxPool2x2AVX512,
	maxPool2x2Backward: maxPool2x2BackwardAVX512,

	winoInputRows:  winoInputRowsAVX2,
	winoOutputRows: winoOutputRowsAVX2,
	winoSplit:      winoSplitAVX2,
	winoMerge:      winoMergeAVX2,
}

var avx2Tier = &tier{
	name:         "avx2",
	gemm:         gemmKernel{mr: 6, nr: 16, tile: tile256, tiles: tiles256, packFull: packA6AVX2, packBT: packBT256, packB4: packBRows16x4},
	axpy:         axpyAVX2,
	scale:        scaleAVX2,
	add:          addAVX2,
	mul:          mulAVX2,
	relu:         reluAVX2,
	addRelu:      addReluAVX2,
	reluBackward: reluBackwardAVX2,
	adam:         adamAVX2,

	affine:             affineAVX2,
	affineRelu:         affineReluAVX2,
	bnBackward:         bnBackwardAVX2,
	bnBackwardMask:     bnBackwardMaskAVX2,
	maxPool2x2:         maxPool2x2AVX2,
	maxPool2x2Backward: maxPool2x2BackwardAVX2,

	winoInputRows:  winoInputRowsAVX2,
	winoOutputRows: winoOutputRowsAVX2,
	winoSplit:      winoSplitAVX2,
	winoMerge:      winoMergeAVX2,
}

// kernel512 holds the AVX-512 micro-kernels by tile height.
var kernel512 = [...]func(k int, a, b, c *float32, ldc int, alpha, beta float32, mask uint32){
	nil, sgemmKernel512x1, sgemmKernel512x2, sgemmKernel512x3, sgemmKernel512x4,
	sgemmKernel512x5, sgemmKernel512x6, sgemmKernel512x7, sgemmKernel512x8,
	sgemmKernel512x9, sgemmKernel512x10, sgemmKernel512x11, sgemmKernel512x12,
}

// tile512 runs the AVX-512 micro-kernel of height mr; the column mask makes
// partial tiles exact without a temporary.
func tile512(kc int, a, b, c []float32, ldc, mr, nr int, alpha, beta float32) {
	mask := ^uint32(0)
	if nr < 32 {
		mask = 1<<uint(nr) - 1
	}
	kernel512[mr](kc, &a[0], &b[0], &c[0], ldc, alpha, beta, mask)
}

// tiles512 runs the AVX-512 micro-kernel on n full 12x32 tiles stacked
// down C.
func tiles512(n, kc int, a, b, c []float32, ldc int, alpha, beta float32) {
	_ = a[n*kc*12-1]
	_ = b[kc*32-1]
	_ = c[(12*n-1)*ldc+31]
	sgemmTiles512(n, kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
}

// tiles256 runs the AVX2 micro-kernel on n full 6x16 tiles stacked down C.
func tiles256(n, kc int, a, b, c []float32, ldc int, alpha, beta float32) {
	_ = a[n*kc*6-1]
	_ = b[kc*16-1]
	_ = c[(6*n-1)*ldc+15]
	sgemmKernel256(n, kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
}

// packA12AVX512 packs a full 12-row sliver of an untransposed A: whole
// groups of 16 columns in assembly, the rest in Go.
func packA12AVX512(dst, a []float32, lda, row, p0, kc int) {
	o := row*lda + p0
	_ = a[o+11*lda+kc-1]
	dst = dst[:12*kc]
	n16 := kc / 16
	if n16 > 0 {
		packA12x512(n16, &a[o], lda, &dst[0])
	}
	for p := n16 * 16; p < kc; p++ {
		d := (*[12]float32)(dst[p*12:])
		for i := range d {
			d[i] = a[o+i*lda+p]
		}
	}
}

// kernels256 are the AVX2 micro-kernels by tile height (index h-1).
var kernels256 = [6]func(n, k int, a, b, c *float32, ldc int, alpha, beta float32){
	sgemmKernel256x1, sgemmKernel256x2, sgemmKernel256x3, sgemmKernel256x4, sgemmKernel256x5, sgemmKernel256,
}

// tile256 runs the AVX2 micro-kernel of the tile's height; a tile narrower
// than 16 columns goes through a temporary tile.
func tile256(kc int, a, b, c []float32, ldc, mr, nr int, alpha, beta float32) {
	if nr == 16 && mr >= 1 && mr <= 6 {
		_ = a[kc*6-1]
		_ = b[kc*16-1]
		_ = c[(mr-1)*ldc+15]
		kernels256[mr-1](1, kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
		return
	}
	var t [6 * 16]float32
	sgemmKernel256(1, kc, &a[0], &b[0], &t[0], 16, alpha, 0)
	mergeTile(t[:], 16, c, ldc, mr, nr, beta)
}

func axpyAVX512(alpha float32, x, y []float32) {
	if len(x) > 0 {
		axpy512(len(x), alpha, &x[0], &y[0])
	}
}

func scaleAVX512(alpha float32, x []float32) {
	if len(x) > 0 {
		scale512(len(x), alpha, &x[0])
	}
}

func addAVX512(dst, a, b []float32) {
	if len(dst) > 0 {
		add512(len(dst), &dst[0], &a[0], &b[0])
	}
}

func mulAVX512(dst, a, b []float32) {
	if len(dst) > 0 {
		mul512(len(dst), &dst[0], &a[0], &b[0])
	}
}

func reluAVX512(dst, x []float32) {
	if len(dst) > 0 {
		relu512(len(dst), &dst[0], &x[0])
	}
}

func addReluAVX512(dst, a, b []float32) {
	if len(dst) > 0 {
		addRelu512(len(dst), &dst[0], &a[0], &b[0])
	}
}

func reluBackwardAVX512(dst, g, x []float32) {
	if len(dst) > 0 {
		reluBackward512(len(dst), &dst[0], &g[0], &x[0])
	}
}

func adamAVX512(p, g, m, v []float32, beta1, beta2, stepSize, sqrtBias2, eps float32) {
	if len(p) > 0 {
		adam512(len(p), &p[0], &g[0], &m[0], &v[0], beta1, 1-beta1, beta2, 1-beta2, stepSize, sqrtBias2, eps)
	}
}

// The AVX2 kernels take a multiple of 8 elements; the Go references finish
// the tail.

func axpyAVX2(alpha float32, x, y []float32) {
	n := len(x) &^ 7
	if n > 0 {
		axpy256(n, alpha, &x[0], &y[0])
	}
	axpyGo(alpha, x[n:], y[n:])
}

func scaleAVX2(alpha float32, x []float32) {
	n := len(x) &^ 7
	if n > 0 {
		scale256(n, alpha, &x[0])
	}
	scaleGo(alpha, x[n:])
}

func addAVX2(dst, a, b []float32) {
	n := len(dst) &^ 7
	if n > 0 {
		add256(n, &dst[0], &a[0], &b[0])
	}
	addGo(dst[n:], a[n:], b[n:])
}

func mulAVX2(dst, a, b []float32) {
	n := len(dst) &^ 7
	if n > 0 {
		mul256(n, &dst[0], &a[0], &b[0])
	}
	mulGo(dst[n:], a[n:], b[n:])
}

func reluAVX2(dst, x []float32) {
	n := len(dst) &^ 7
	if n > 0 {
		relu256(n, &dst[0], &x[0])
	}
	reluGo(dst[n:], x[n:])
}

func addReluAVX2(dst, a, b []float32) {
	n := len(dst) &^ 7
	if n > 0 {
		addRelu256(n, &dst[0], &a[0], &b[0])
	}
	addReluGo(dst[n:], a[n:], b[n:])
}

func reluBackwardAVX2(dst, g, x []float32) {
	n := len(dst) &^ 7
	if n > 0 {
		reluBackward256(n, &dst[0], &g[0], &x[0])
	}
	reluBackwardGo(dst[n:], g[n:], x[n:])
}

func adamAVX2(p, g, m, v []float32, beta1, beta2, stepSize, sqrtBias2, eps float32) {
	n := len(p) &^ 7
	if n > 0 {
		adam256(n, &p[0], &g[0], &m[0], &v[0], beta1, 1-beta1, beta2, 1-beta2, stepSize, sqrtBias2, eps)
	}
	adamGo(p[n:], g[n:], m[n:], v[n:], beta1, beta2, stepSize, sqrtBias2, eps)
}

func affineAVX512(dst, x []float32, a, b float32) {
	if len(dst) > 0 {
		affine512(len(dst), &dst[0], &x[0], a, b)
	}
}

func affineReluAVX512(dst, x []float32, a, b float32) {
	if len(dst) > 0 {
		affineRelu512(len(dst), &dst[0], &x[0], a, b)
	}
}

func bnBackwardAVX512(dst, g, x []float32, c1, c2, c3 float32) {
	if len(dst) > 0 {
		bnBackward512(len(dst), &dst[0], &g[0], &x[0], c1, c2, c3)
	}
}

// The max-pool wrappers get checked arguments (see checkPool).

func maxPool2x2AVX512(rows, ow, stride, w int, x, dst []float32, code []uint8) {
	maxPool2x2x512(rows, ow, stride, w, &x[0], &dst[0], &code[0])
}

// maxPool2x2BackwardAVX512 takes rows of 4 to 7 outputs in gapless planes
// as the AVX2 tier does (see maxPool2x2BackwardAVX2): the 512-bit kernel's
// masked blocks of 16 were slower there (64 14x14 planes: 1.57 us against
// 1.03 on an Intel Xeon).
func maxPool2x2BackwardAVX512(rows, ow, stride, w int, gy []float32, code []uint8, gx []float32) {
	if ow < 8 && shortGaplessRows(rows, ow, stride, w) {
		maxPool2x2BackwardAVX2(rows, ow, stride, w, gy, code, gx)
		return
	}
	maxPool2x2Back512(rows, ow, stride, w, &gy[0], &code[0], &gx[0])
}

// maxPool2x2BackwardOverTier runs MaxPool2x2BackwardOver's rows of 4 to 7
// outputs (the caller has checked them, and that the extra stores stay in
// gx) as maxPool2x2BackwardAVX2 runs those of gapless planes, on both
// tiers: blocks of 8, all rows but the last, whose stores run past the row.
func maxPool2x2BackwardOverTier(rows, ow, stride, w int, gy []float32, code []uint8, gx []float32) bool {
	if active.name == "generic" {
		return false
	}
	maxPool2x2Back256(rows-1, ow, 8, stride, w, &gy[0], &code[0], &gx[0])
	r := rows - 1
	maxPool2x2BackwardColsGo(1, ow, 0, stride, w, gy[r*ow:], code[r*ow:], gx[r*stride:])
	return true
}

// shortGaplessRows reports whether rows of fewer than 8 outputs can go to
// the AVX2 backward kernel as blocks of 8 (see maxPool2x2BackwardAVX2): at
// least 4 outputs, planes without gaps, and a row after the first.
func shortGaplessRows(rows, ow, stride, w int) bool {
	return ow >= 4 && w == 2*ow && stride == 2*w && rows >= 2
}

func maxPool2x2AVX2(rows, ow, stride, w int, x, dst []float32, code []uint8) {
	maxPool2x2x256(rows, ow, stride, w, &x[0], &dst[0], &code[0])
}

// maxPool2x2BackwardAVX2 runs the AVX2 kernel on the blocks of 8 columns
// (see pool256.go in the generator). The columns left over, when a row has
// at least 8, are those of one more block ending at the row's end, which
// writes a few windows a second time with the same values.
//
// Rows of 4 to 7 outputs in planes without gaps (w = 2*ow, stride = 2*w: a
// SmallCNN's 14x14 maps) are taken as one block of 8 each, all but the
// last: a block's stores run past its row, into the next row of windows,
// which the rows that follow then write over (the block's top row first,
// then its bottom row; the kernel goes row by row), and its reads stay
// within the gradient and codes of those rows. The last row, and other
// short rows, go to Go.
func maxPool2x2BackwardAVX2(rows, ow, stride, w int, gy []float32, code []uint8, gx []float32) {
	if ow < 8 {
		if shortGaplessRows(rows, ow, stride, w) {
			maxPool2x2Back256(rows-1, ow, 8, stride, w, &gy[0], &code[0], &gx[0])
			r := rows - 1
			maxPool2x2BackwardColsGo(1, ow, 0, stride, w, gy[r*ow:], code[r*ow:], gx[r*stride:])
			return
		}
		maxPool2x2BackwardColsGo(rows, ow, 0, stride, w, gy, code, gx)
		return
	}
	cols := ow &^ 7
	maxPool2x2Back256(rows, ow, cols, stride, w, &gy[0], &code[0], &gx[0])
	if j := ow - 8; cols < ow {
		maxPool2x2Back256(rows, ow, 8, stride, w, &gy[j], &code[j], &gx[2*j])
	}
}

func affineAVX2(dst, x []float32, a, b float32) {
	n := len(dst) &^ 7
	if n > 0 {
		affine256(n, &dst[0], &x[0], a, b)
	}
	affineGo(dst[n:], x[n:], a, b)
}

func affineReluAVX2(dst, x []float32, a, b float32) {
	n := len(dst) &^ 7
	if n > 0 {
		affineRelu256(n, &dst[0], &x[0], a, b)
	}
	affineReluGo(dst[n:], x[n:], a, b)
}

func bnBackwardAVX2(dst, g, x []float32, c1, c2, c3 float32) {
	n := len(dst) &^ 7
	if n > 0 {
		bnBackward256(n, &dst[0], &g[0], &x[0], c1, c2, c3)
	}
	bnBackwardGo(dst[n:], g[n:], x[n:], c1, c2, c3)
}

// The reductions are called directly, not through the tier's function
// values, so that the partials stay on the caller's stack (the assembly is
// noescape). n is a positive multiple of 32.

func bnStatsTier(n int, x []float32, shift float32, p *partials) {
	switch active {
	case avx512Tier:
		bnStats512(n, &x[0], shift, &p[0])
	case avx2Tier:
		bnStats256(n, &x[0], shift, &p[0])
	default:
		bnStatsGo(x[:n], 0, shift, p)
	}
}

func sumDotMaskTier(n int, g, x []float32, mu, a, b float32, p *partials) {
	switch active {
	case avx512Tier:
		sumDotMask512(n, &g[0], &x[0], mu, a, b, &p[0])
	case avx2Tier:
		sumDotMask256(n, &g[0], &x[0], mu, a, b, &p[0])
	default:
		sumDotMaskGo(g[:n], x[:n], 0, mu, a, b, p)
	}
}

func bnBackwardMaskAVX512(dst, g, x []float32, a, b, c1, c2, c3 float32) {
	if len(dst) > 0 {
		bnBackwardMask512(len(dst), &dst[0], &g[0], &x[0], a, b, c1, c2, c3)
	}
}

func bnBackwardMaskAVX2(dst, g, x []float32, a, b, c1, c2, c3 float32) {
	n := len(dst) &^ 7
	if n > 0 {
		bnBackwardMask256(n, &dst[0], &g[0], &x[0], a, b, c1, c2, c3)
	}
	bnBackwardMaskGo(dst[n:], g[n:], x[n:], a, b, c1, c2, c3)
}

func sumDotTier(n int, g, x []float32, mu float32, p *partials) {
	switch active {
	case avx512Tier:
		sumDot512(n, &g[0], &x[0], mu, &p[0])
	case avx2Tier:
		sumDot256(n, &g[0], &x[0], mu, &p[0])
	default:
		sumDotGo(g[:n], x[:n], 0, mu, p)
	}
}

// packBT512 packs a 32-column sliver of a transposed B: whole 16x16 blocks
// (16 columns by 16 steps) in assembly, the rest as packB does.
func packBT512(dst, b []float32, ldb, p0, kc, col, w int) {
	packBTBlocks(dst, b, ldb, p0, kc, col, w, 32, 16, packBT16x512)
}

// packBT256 packs a 16-column sliver of a transposed B: whole 8x8 blocks in
// assembly, the rest as packB does.
func packBT256(dst, b []float32, ldb, p0, kc, col, w int) {
	packBTBlocks(dst, b, ldb, p0, kc, col, w, 16, 8, packBT8x256)
}

// packBTBlocks packs an nr-column sliver of a transposed B as packB does,
// the whole blk x blk blocks (blk columns by blk steps) through fn, which
// transposes n blocks down one group of blk columns.
func packBTBlocks(dst, b []float32, ldb, p0, kc, col, w, nr, blk int, fn func(n int, b *float32, ldb int, dst *float32)) {
	dst = dst[:kc*nr]
	nb := kc / blk
	groups := w / blk
	if nb > 0 && groups > 0 {
		_ = b[(col+blk*groups-1)*ldb+p0+blk*nb-1]
		for h := 0; h < groups; h++ {
			fn(nb, &b[(col+blk*h)*ldb+p0], ldb, &dst[blk*h])
		}
	}
	done := blk * groups
	if nb == 0 {
		done = 0
	}
	// Columns past the whole groups, for the steps the assembly did.
	for j := done; j < w; j++ {
		src := b[(col+j)*ldb+p0 : (col+j)*ldb+p0+blk*nb]
		for p, v := range src {
			dst[p*nr+j] = v
		}
	}
	if w < nr {
		for p := 0; p < blk*nb; p++ {
			clear(dst[p*nr+w : p*nr+nr])
		}
	}
	// The steps past the whole blocks.
	if rest := kc - blk*nb; rest > 0 {
		packB(dst[blk*nb*nr:], true, b, ldb, p0+blk*nb, rest, col, w, nr)
	}
}

// packA6AVX2 packs a full 6-row sliver of an untransposed A: whole groups
// of 8 columns in assembly, the rest in Go.
func packA6AVX2(dst, a []float32, lda, row, p0, kc int) {
	o := row*lda + p0
	_ = a[o+5*lda+kc-1]
	dst = dst[:6*kc]
	n8 := kc / 8
	if n8 > 0 {
		packA6x256(n8, &a[o], lda, &dst[0])
	}
	for p := n8 * 8; p < kc; p++ {
		d := (*[6]float32)(dst[p*6:])
		for i := range d {
			d[i] = a[o+i*lda+p]
		}
	}
}

// gatherRowsTier runs the row gather of an assembly tier for rows of nr
// floats (32: AVX-512, 16: AVX2) and reports whether the active tier has
// one; the arguments are checked. The tiers are told apart by name: the
// tiers' own packers lead here.
func gatherRowsTier(kc int, src []float32, offs []int, w, nr int, dst []float32) bool {
	switch {
	case nr == 32 && active.name == "avx512":
		gatherRows512(kc, &src[0], &offs[0], w, &dst[0])
	case nr == 16 && active.name != "generic":
		gatherRows256(kc, &src[0], &offs[0], w, &dst[0])
	default:
		return false
	}
	return true
}

// conv3x3Tier runs Conv3x3 on the AVX2 kernel, on both SIMD tiers (its
// blocks of 8 suit rows of 28 pixels better than blocks of 16 would).
func conv3x3Tier(dst, src []float32, p *Conv3x3Plan, k *[9]float32, bias float32) bool {
	if active.name == "generic" {
		return false
	}
	conv3x3Rows256(len(p.tab)/2, &src[0], p.w+1, &p.tab[0], &k[0], bias, &dst[0])
	return true
}

// conv3x3GradTier runs Conv3x3Grad on the AVX2 kernel, on both SIMD tiers.
func conv3x3GradTier(s *[9]float32, src, gy []float32, p *Conv3x3Plan) bool {
	if active.name == "generic" {
		return false
	}
	nt := len(p.gradTab)/2 - p.full
	conv3x3Grad256(p.full, nt, &src[0], p.w+1, &gy[0], &p.gradTab[0], p.tail, &s[0])
	return true
}

// gatherRowsSplitTier is gatherRowsTier for GatherRowsSplit.
func gatherRowsSplitTier(kc int, a, b []float32, offs []int, w1, nr int, dst []float32) bool {
	switch {
	case nr == 32 && active.name == "avx512":
		gatherRowsSplit512(kc, &a[0], &b[0], &offs[0], w1, &dst[0])
	case nr == 16 && active.name != "generic":
		gatherRowsSplit256(kc, &a[0], &b[0], &offs[0], w1, &dst[0])
	default:
		return false
	}
	return true
}

// gatherRowsPartTier is gatherRowsTier for GatherRowsPart.
func gatherRowsPartTier(kc int, src []float32, offs []int, w, nr int, dst []float32) bool {
	switch {
	case nr == 32 && active.name == "avx512":
		gatherRowsPart512(kc, &src[0], &offs[0], w, &dst[0])
	case nr == 16 && active.name != "generic":
		gatherRowsPart256(kc, &src[0], &offs[0], w, &dst[0])
	default:
		return false
	}
	return true
}

// The Winograd column transforms have no AVX-512 version: the AVX-512 tier
// uses these.
func winoInputRowsAVX2(dst []float32, ds int, src []float32, ss, n int) {
	m := n &^ 7
	if m > 0 {
		winoInputRows256(m, &dst[0], ds, &src[0], ss)
	}
	if m < n {
		winoInputRowsGo(dst[m:], ds, src[m:], ss, n-m)
	}
}

func winoOutputRowsAVX2(dst []float32, ds int, src []float32, ss, n int) {
	m := n &^ 7
	if m > 0 {
		winoOutputRows256(m, &dst[0], ds, &src[0], ss)
	}
	if m < n {
		winoOutputRowsGo(dst[m:], ds, src[m:], ss, n-m)
	}
}

// winoSplitAVX2 runs the AVX2 kernel over the groups of eight tiles whose
// reads (two floats past the last window) stay inside src, and the Go loop
// over the rest.
func winoSplitAVX2(dst []float32, ds int, src []float32, n int) {
	m := n &^ 7
	for m > 0 && 4*m+4 > len(src) {
		m -= 8
	}
	if m > 0 {
		winoSplit256(m, &dst[0], ds, &src[0])
	}
	if m < n {
		winoSplitGo(dst[m:], ds, src[4*m:], n-m)
	}
}

func winoMergeAVX2(dst, src []float32, ss, n int) {
	m := n &^ 7
	if m > 0 {
		winoMerge256(m, &dst[0], &src[0], ss)
	}
	if m < n {
		winoMergeGo(dst[4*m:], src[m:], ss, n-m)
	}
}
