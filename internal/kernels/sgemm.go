package kernels

import (
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/fastgo-ml/fastgo/internal/parallel"
)

// The SGEMM follows the BLIS/GotoBLAS structure. k is cut into blocks of
// at most kcBlock steps. For each panel of up to ncBlock columns of C and
// each k block, op(B)'s kc x nc panel is packed into slivers of kc x NR
// (shared by all workers); then the rows of C are cut into blocks of whole
// MR-row slivers, each worker packs its mc x kc block of op(A) into slivers
// of MR x kc, and the micro-kernel computes one MR x NR tile of C per
// (A sliver, B sliver) pair, the B sliver staying in L1 while the A slivers
// stream from L2. When op(A) has at most mcBlock rows (skinny products,
// small squares) the workers split the columns instead and pack each B
// sliver just before using it (see gemmJob.plan).
//
// Tiles sit on a fixed MR x NR grid from C's origin and k is always cut the
// same way, so every element of C goes through the same operations whatever
// the number of workers: results are bit-identical for any GOMAXPROCS.
const (
	kcBlock = 256  // steps of k per packed block (a B sliver is 32 KiB)
	mcBlock = 240  // target rows of op(A) per packed block (240 KiB at kc=256)
	ncBlock = 4096 // columns of op(B) per packed panel

	// parallelMinFlops is the size (2*m*n*k) below which one goroutine
	// does the work: splitting costs more than it saves.
	parallelMinFlops = 2 * 96 * 96 * 96
)

// gemmKernel is one tier's micro-kernel and its register blocking.
type gemmKernel struct {
	mr, nr int // tile height and width
	// tile computes the mr x nr (mr <= MR, nr <= NR) tile C = alpha*A*B +
	// beta*C over kc steps, not reading C when beta == 0. a holds kc groups
	// of MR floats (a packed A sliver), b kc groups of NR floats (a packed
	// B sliver), c starts at the tile's first element with row stride ldc.
	tile func(kc int, a, b, c []float32, ldc, mr, nr int, alpha, beta float32)
	// packFull, if not nil, packs a full MR-row sliver of an untransposed
	// A starting at a[row*lda+p0] (kc columns) into dst, faster than packA.
	packFull func(dst, a []float32, lda, row, p0, kc int)
	// packBT, if not nil, packs a sliver of a transposed B as packB does
	// (same result), faster.
	packBT func(dst, b []float32, ldb, p0, kc, col, w int)
	// packB4, if not nil, packs four whole slivers of an untransposed B
	// at once: kc rows of 4*nr floats from b (row stride ldb) into four
	// consecutive slivers at dst.
	packB4 func(kc int, b *float32, ldb int, dst *float32)
}

// packB packs the B sliver of kc steps from pc and w columns from col.
func (j *gemmJob) packB(dst []float32, pc, kc, col, w int) {
	if j.packBFn != nil {
		j.packBFn(dst, pc, kc, col, w, j.g.nr)
		return
	}
	if j.transB && j.g.packBT != nil {
		j.g.packBT(dst, j.b, j.ldb, pc, kc, col, w)
		return
	}
	packB(dst, j.transB, j.b, j.ldb, pc, kc, col, w, j.g.nr)
}

// packB copies the kc x w block of op(B) at (p0, col) into dst as kc groups
// of nr floats, zero-padding columns w..nr: an untransposed B row by row
// through the tier's row gather (GatherRows) when it has one.
func packB(dst []float32, trans bool, b []float32, ldb, p0, kc, col, w, nr int) {
	if !trans && (nr == 32 || nr == 16) && kc <= kcBlock && w > 0 {
		var offs [kcBlock]int
		for p := 0; p < kc; p++ {
			offs[p] = (p0+p)*ldb + col
		}
		if gatherRowsTier(kc, b, offs[:kc], w, nr, dst) {
			return
		}
	}
	packBGo(dst, trans, b, ldb, p0, kc, col, w, nr)
}

// sgemm is Sgemm on checked arguments, with kernel g and at most threads
// goroutines.
func sgemm(g *gemmKernel, threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	if 2*m*n*k < parallelMinFlops {
		threads = 1
	}
	j := jobPool.Get().(*gemmJob)
	*j = gemmJob{
		g: g, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta,
		a: a, b: b, c: c, lda: lda, ldb: ldb, ldc: ldc, bar: j.bar, workFn: j.workFn,
	}
	j.run(threads)
	*j = gemmJob{bar: j.bar, workFn: j.workFn}
	jobPool.Put(j)
}

// run plans the job for the workers it can reserve, at most threads, and
// runs it on them: the shared plan's workers wait for each other at its
// barrier, so they must all run at once.
func (j *gemmJob) run(threads int) {
	g := j.g
	team := parallel.Reserve(threads)
	j.plan(team.Size())
	panel := j.kc0 * roundUp(min(j.n, ncBlock), g.nr)
	if j.private {
		panel = 0
	}
	bbuf := getBuffer(2 * panel)
	j.bp = [2][]float32{bbuf.f[:panel], bbuf.f[panel:]}
	j.bar.reset(j.threads)
	team.Run(j.threads, j.workFn)
	putBuffer(bbuf)
}

// gemmJob is one SGEMM call shared by its workers.
type gemmJob struct {
	g              *gemmKernel
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int

	threads  int
	private  bool // one row block: each worker packs its own B slivers
	kc0      int  // steps of k per block (all blocks but the last)
	slivers  int  // MR-row slivers of C
	blocks   int  // row blocks of C (whole slivers each)
	colSplit int  // parts each row block's columns are cut into
	aRows    int  // rows of the largest row block

	// Custom operands (SgemmPacked): when set, they replace a, b and c.
	packAFn func(dst []float32, row, h, p0, kc, mr int)
	packBFn func(dst []float32, p0, kc, col, w, nr int)
	cAt     func(row, col int) (c []float32, ldc, run int)

	bp     [2][]float32 // the packed panels of op(B), shared, used in turn
	next   atomic.Int64 // units claimed so far, over all steps
	bar    *barrier
	workFn func(int) // j.work, made once per pooled job
}

var jobPool = sync.Pool{New: func() any {
	j := &gemmJob{bar: new(barrier)}
	j.workFn = j.work
	return j
}}

// plan chooses the blocking. k is cut into equal blocks of at most kcBlock
// steps. When op(A) fits one row block (m <= mcBlock), the job is private:
// the workers split the columns of C, each packs all of op(A) and packs
// each B sliver just before using it, so B is read once and its packed
// copy never leaves L1. Otherwise the rows of C are cut into blocks of
// whole MR slivers, a multiple of the worker count, over a shared packed
// panel of op(B). Neither choice changes the operations that produce an
// element of C, so results do not depend on the worker count.
func (j *gemmJob) plan(threads int) {
	j.kc0 = ceilDiv(j.k, ceilDiv(j.k, kcBlock))
	j.slivers = ceilDiv(j.m, j.g.mr)
	j.blocks = ceilDiv(j.m, mcBlock)
	j.colSplit = 1
	j.private = j.blocks == 1
	if j.private {
		j.colSplit = min(threads, ceilDiv(j.n, j.g.nr))
	} else {
		j.blocks = min(roundUp(j.blocks, threads), j.slivers)
	}
	j.aRows = ceilDiv(j.slivers, j.blocks) * j.g.mr
	j.threads = min(threads, j.blocks*j.colSplit)
}

// workPrivate is work for a private job: worker w computes its share of
// C's column slivers over all rows.
func (j *gemmJob) workPrivate(w int) {
	g := j.g
	mr, nr := g.mr, g.nr
	abuf := getBuffer(j.aRows * j.kc0)
	bbuf := getBuffer(j.kc0 * nr)
	tbuf := getBuffer(mr * nr)
	ap, bs, tmp := abuf.f, bbuf.f, tbuf.f
	nSl := ceilDiv(j.n, nr)
	// The worker's slivers go in panels of ncBlock columns, each through
	// every k block before the next, so that the panel's part of C stays
	// in cache between k blocks (A, at most mcBlock rows, is packed again
	// per panel).
	sl0, sl1 := w*nSl/j.colSplit, (w+1)*nSl/j.colSplit
	panel := ncBlock / nr
	for ps := sl0; ps < sl1; ps += panel {
		pe := min(ps+panel, sl1)
		for pc := 0; pc < j.k; pc += j.kc0 {
			kc := min(j.kc0, j.k-pc)
			beta := j.beta
			if pc > 0 {
				beta = 1
			}
			j.packABlock(ap, 0, j.slivers, pc, kc)
			for js := ps; js < pe; js++ {
				col := js * nr
				cw := min(nr, j.n-col)
				j.packB(bs[:kc*nr], pc, kc, col, cw)
				for s := 0; s < j.slivers; s++ {
					row := s * mr
					j.tileAt(kc, ap[s*kc*mr:], bs, row, col, min(mr, j.m-row), cw, beta, tmp)
				}
			}
		}
	}
	putBuffer(tbuf)
	putBuffer(bbuf)
	putBuffer(abuf)
}

// packABlock packs the A slivers s0..s1 (k steps pc..pc+kc) into ap.
func (j *gemmJob) packABlock(ap []float32, s0, s1, pc, kc int) {
	mr := j.g.mr
	for s := s0; s < s1; s++ {
		row := s * mr
		dst := ap[(s-s0)*kc*mr : (s-s0+1)*kc*mr]
		if j.packAFn != nil {
			j.packAFn(dst, row, min(mr, j.m-row), pc, kc, mr)
		} else if h := min(mr, j.m-row); h == mr && !j.transA && j.g.packFull != nil {
			j.g.packFull(dst, j.a, j.lda, row, pc, kc)
		} else {
			packA(dst, j.transA, j.a, j.lda, row, h, pc, kc, mr)
		}
	}
}

// work is worker w's share of the job: for each panel and k block, pack its
// share of B's slivers, wait for the others, and compute the units it
// claims. The packed panels alternate between two buffers: a worker that
// packs step s+1 has passed the barrier of step s, which every worker
// reaches only after computing step s-1, the last user of that buffer.
func (j *gemmJob) work(w int) {
	if j.private {
		j.workPrivate(w)
		return
	}
	g := j.g
	mr, nr := g.mr, g.nr
	units := int64(j.blocks * j.colSplit)
	abuf := getBuffer(j.aRows * j.kc0)
	tbuf := getBuffer(mr * nr)
	ap, tmp := abuf.f, tbuf.f
	var base int64
	step := 0
	for jc := 0; jc < j.n; jc += ncBlock {
		nc := min(ncBlock, j.n-jc)
		nSl := ceilDiv(nc, nr)
		for pc := 0; pc < j.k; pc += j.kc0 {
			kc := min(j.kc0, j.k-pc)
			beta := j.beta
			if pc > 0 {
				beta = 1
			}
			bp := j.bp[step%2]
			step++
			j.packBShare(bp, w, jc, nSl, pc, kc)
			j.bar.wait()
			for {
				u := j.claim(base, units)
				if u < 0 {
					break
				}
				blk, part := u/j.colSplit, u%j.colSplit
				s0, s1 := blk*j.slivers/j.blocks, (blk+1)*j.slivers/j.blocks
				j.packABlock(ap, s0, s1, pc, kc)
				for js := part * nSl / j.colSplit; js < (part+1)*nSl/j.colSplit; js++ {
					col := jc + js*nr
					cw := min(nr, j.n-col)
					bs := bp[js*kc*nr : (js+1)*kc*nr]
					for s := s0; s < s1; s++ {
						row := s * mr
						j.tileAt(kc, ap[(s-s0)*kc*mr:], bs, row, col, min(mr, j.m-row), cw, beta, tmp)
					}
				}
			}
			base += units
		}
	}
	putBuffer(tbuf)
	putBuffer(abuf)
}

// packBShare packs worker w's share of the panel's nSl B slivers from
// column jc (k steps pc..pc+kc) into bp: groups of four whole slivers of a
// plain B in one pass when the kernel has a packB4, else single slivers,
// dealt round-robin to the workers.
func (j *gemmJob) packBShare(bp []float32, w, jc, nSl, pc, kc int) {
	nr := j.g.nr
	step := 1
	if j.packBFn == nil && !j.transB && j.g.packB4 != nil {
		step = 4
	}
	for s0 := w * step; s0 < nSl; s0 += j.threads * step {
		s1 := min(s0+step, nSl)
		if col := jc + s0*nr; s1-s0 == 4 && j.n-col >= 4*nr {
			_ = j.b[(pc+kc-1)*j.ldb+col+4*nr-1]
			_ = bp[s1*kc*nr-1]
			j.g.packB4(kc, &j.b[pc*j.ldb+col], j.ldb, &bp[s0*kc*nr])
			continue
		}
		for s := s0; s < s1; s++ {
			col := jc + s*nr
			j.packB(bp[s*kc*nr:(s+1)*kc*nr], pc, kc, col, min(nr, j.n-col))
		}
	}
}

// tileAt computes the h x w tile of C at (row, col). With a custom C whose
// columns there are not evenly strided (a tile across two samples of a
// convolution's output), it goes through tmp, an MR x NR scratch.
func (j *gemmJob) tileAt(kc int, a, b []float32, row, col, h, w int, beta float32, tmp []float32) {
	g := j.g
	if j.cAt == nil {
		g.tile(kc, a, b, j.c[row*j.ldc+col:], j.ldc, h, w, j.alpha, beta)
		return
	}
	c, ldc, run := j.cAt(row, col)
	if run >= w {
		g.tile(kc, a, b, c, ldc, h, w, j.alpha, beta)
		return
	}
	nr := g.nr
	t := tmp[:h*nr]
	if beta != 0 {
		j.moveTile(t, nr, row, col, h, w, false)
	}
	g.tile(kc, a, b, t, nr, h, w, j.alpha, beta)
	j.moveTile(t, nr, row, col, h, w, true)
}

// moveTile copies the h x w tile of C at (row, col) into t (row stride ldt),
// or back from t when out, run by run.
func (j *gemmJob) moveTile(t []float32, ldt, row, col, h, w int, out bool) {
	for j0 := 0; j0 < w; {
		c, ldc, run := j.cAt(row, col+j0)
		seg := min(run, w-j0)
		for i := 0; i < h; i++ {
			ci := c[i*ldc : i*ldc+seg]
			ti := t[i*ldt+j0 : i*ldt+j0+seg]
			if out {
				copy(ci, ti)
			} else {
				copy(ti, ci)
			}
		}
		j0 += seg
	}
}

// claim returns the next unclaimed unit of the step whose units are
// numbered from base, or -1 when all are taken.
func (j *gemmJob) claim(base, units int64) int {
	for {
		cur := j.next.Load()
		if cur >= base+units {
			return -1
		}
		if j.next.CompareAndSwap(cur, cur+1) {
			return int(cur - base)
		}
	}
}

// barrier makes n workers wait for each other. Waiters spin briefly (the
// workers' shares are balanced, so the wait is usually short), then sleep.
type barrier struct {
	n     int32
	count atomic.Int32
	gen   atomic.Uint32
	mu    sync.Mutex
	cond  sync.Cond
}

func (b *barrier) reset(n int) {
	b.n = int32(n)
	b.count.Store(0)
	b.cond.L = &b.mu
}

func (b *barrier) wait() {
	if b.n <= 1 {
		return
	}
	gen := b.gen.Load()
	if b.count.Add(1) == b.n {
		b.count.Store(0)
		b.mu.Lock()
		b.gen.Add(1)
		b.cond.Broadcast()
		b.mu.Unlock()
		return
	}
	for i := 0; i < 20000; i++ {
		if b.gen.Load() != gen {
			return
		}
	}
	b.mu.Lock()
	for b.gen.Load() == gen {
		b.cond.Wait()
	}
	b.mu.Unlock()
}

// scaleC computes C = beta*C (C = 0 when beta == 0, so NaNs vanish).
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	if beta == 1 {
		return
	}
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
		} else {
			for j := range row {
				row[j] *= beta
			}
		}
	}
}

// packBGo is packB in Go.
func packBGo(dst []float32, trans bool, b []float32, ldb, p0, kc, col, w, nr int) {
	dst = dst[:kc*nr]
	if !trans {
		for p := 0; p < kc; p++ {
			d := dst[p*nr : p*nr+nr]
			copy(d, b[(p0+p)*ldb+col:(p0+p)*ldb+col+w])
			clear(d[w:])
		}
		return
	}
	// op(B)[p][j] = b[j*ldb+p]: read rows of the stored B, scatter by nr.
	for j := 0; j < w; j++ {
		src := b[(col+j)*ldb+p0 : (col+j)*ldb+p0+kc]
		for p, v := range src {
			dst[p*nr+j] = v
		}
	}
	if w < nr {
		for p := 0; p < kc; p++ {
			clear(dst[p*nr+w : p*nr+nr])
		}
	}
}

// packA copies the h x kc block of op(A) at (row, p0) into dst as kc groups
// of mr floats, zero-padding rows h..mr.
func packA(dst []float32, trans bool, a []float32, lda, row, h, p0, kc, mr int) {
	dst = dst[:kc*mr]
	if trans {
		// op(A)[i][p] = a[p*lda+i]: contiguous runs of h floats.
		for p := 0; p < kc; p++ {
			d := dst[p*mr : p*mr+mr]
			copy(d, a[(p0+p)*lda+row:(p0+p)*lda+row+h])
			clear(d[h:])
		}
		return
	}
	i := 0
	for ; i+4 <= h; i += 4 {
		// Four rows at a time: four sequential reads, stride-mr writes.
		r0 := a[(row+i)*lda+p0 : (row+i)*lda+p0+kc]
		r1 := a[(row+i+1)*lda+p0:][:len(r0)]
		r2 := a[(row+i+2)*lda+p0:][:len(r0)]
		r3 := a[(row+i+3)*lda+p0:][:len(r0)]
		for p := range r0 {
			d := (*[4]float32)(dst[p*mr+i:])
			d[0], d[1], d[2], d[3] = r0[p], r1[p], r2[p], r3[p]
		}
	}
	for ; i < h; i++ {
		src := a[(row+i)*lda+p0 : (row+i)*lda+p0+kc]
		for p, v := range src {
			dst[p*mr+i] = v
		}
	}
	if h < mr {
		for p := 0; p < kc; p++ {
			clear(dst[p*mr+h : p*mr+mr])
		}
	}
}

// mergeTile writes the raw mr x nr tile t (row stride ldt, already scaled
// by alpha) into C: C = t + beta*C, not reading C when beta == 0.
func mergeTile(t []float32, ldt int, c []float32, ldc, mr, nr int, beta float32) {
	for i := 0; i < mr; i++ {
		ci := c[i*ldc : i*ldc+nr]
		ti := t[i*ldt : i*ldt+nr]
		if beta == 0 {
			copy(ci, ti)
			continue
		}
		for j := range ci {
			ci[j] = beta*ci[j] + ti[j]
		}
	}
}

// Register blocking of the pure-Go micro-kernel.
const (
	genericMR = 4
	genericNR = 4
)

// tileGeneric is the pure-Go micro-kernel: a 4x4 tile in registers.
func tileGeneric(kc int, a, b, c []float32, ldc, mr, nr int, alpha, beta float32) {
	var c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33 float32
	a, b = a[:kc*genericMR], b[:kc*genericNR]
	for len(a) >= 4 && len(b) >= 4 {
		b0, b1, b2, b3 := b[0], b[1], b[2], b[3]
		a0 := a[0]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		a1 := a[1]
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		a2 := a[2]
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		a3 := a[3]
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
		a, b = a[4:], b[4:]
	}
	t := [16]float32{
		alpha * c00, alpha * c01, alpha * c02, alpha * c03,
		alpha * c10, alpha * c11, alpha * c12, alpha * c13,
		alpha * c20, alpha * c21, alpha * c22, alpha * c23,
		alpha * c30, alpha * c31, alpha * c32, alpha * c33,
	}
	mergeTile(t[:], 4, c, ldc, mr, nr, beta)
}

// buffer is a 64-byte aligned float32 scratch slice kept in bufPool.
type buffer struct{ f []float32 }

var bufPool sync.Pool

// getBuffer returns a pooled buffer of n floats (contents undefined).
func getBuffer(n int) *buffer {
	b, _ := bufPool.Get().(*buffer)
	if b == nil {
		b = new(buffer)
	}
	if cap(b.f) < n {
		b.f = alignedFloats(n)
	}
	b.f = b.f[:n]
	return b
}

func putBuffer(b *buffer) { bufPool.Put(b) }

// alignedFloats returns a slice of n floats whose first element is 64-byte
// aligned.
func alignedFloats(n int) []float32 {
	s := make([]float32, n+16)
	off := int((64 - uintptr(unsafe.Pointer(&s[0]))%64) % 64 / 4)
	return s[off : off+n : off+n]
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func roundUp(a, b int) int { return ceilDiv(a, b) * b }
