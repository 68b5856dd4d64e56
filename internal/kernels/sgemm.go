package kernels

import (
	"sync"
	"sync/atomic"

	"github.com/fastgo-ml/fastgo/internal/parallel"
)

// The SGEMM follows the BLIS/GotoBLAS structure. k is cut into blocks of
// at most kcBlock steps. For each panel of up to ncBlock columns of C and
// each k block, op(B)'s kc x nc panel is packed into slivers of kc x NR
// (shared by all workers); then the rows of C are cut into blocks of whole
// MR-row slivers, each worker packs its mc x kc block of op(A) into slivers
// of MR x kc, and the micro-kernel computes one MR x NR tile of C per
// (A sliver, B sliver) pair, the B sliver staying in L1 while the A slivers
// stream from L2. When op(A) has at most privateRows rows (skinny products,
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

	// privateRows is the most rows of op(A) for which the workers split
	// C's columns, each packing all of op(A) (at most 264 KiB at kc=256,
	// half of a Zen 2 or Zen 3 core's L2), instead of sharing a packed B
	// panel among row blocks. With two threads and m=256, the shared job's
	// two row blocks and its wait for the whole panel's packing ran at
	// 150-175 GFLOP/s (AVX-512 tier) and 128-148 (AVX2) on an AMD Zen 4,
	// the private one at 180-198 and 153-176 (5 alternating runs each);
	// one thread, and m=512, were the same either way.
	privateRows = 264

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
	// tiles, if not nil, computes n full MR x NR tiles stacked down C (row
	// stride ldc) from n consecutive A slivers and one B sliver, as n
	// calls of tile would.
	tiles func(n, kc int, a, b, c []float32, ldc int, alpha, beta float32)
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
		a: a, b: b, c: c, lda: lda, ldb: ldb, ldc: ldc, prog: j.prog, workFn: j.workFn,
	}
	j.run(threads)
	*j = gemmJob{prog: j.prog, workFn: j.workFn}
	jobPool.Put(j)
}

// run plans the job for the workers it can reserve, at most threads, and
// runs it on them. The workers claim their parts of the job as they go, so
// any of them can do it all: a worker the operating system has not started
// by the time the caller runs out of work is dropped (RunHelpers).
func (j *gemmJob) run(threads int) {
	g := j.g
	team := parallel.Reserve(threads)
	if j.splitCols(team.Size()) {
		team.RunHelpers(j.threads, j.workFn)
		return
	}
	j.plan(team.Size())
	panel := j.kc0 * roundUp(min(j.n, ncBlock), g.nr)
	if j.private {
		panel = 0
	}
	bbuf := getBuffer(2 * panel)
	j.bp = [2][]float32{bbuf.f[:panel], bbuf.f[panel:]}
	team.RunHelpers(j.threads, j.workFn)
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
	split    bool // independent column parts, each a one-thread GEMM (splitCols)
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

	bp [2][]float32 // the packed panels of op(B), shared, used in turn
	// Units (a row block's share of a step's columns, or a private job's
	// column part) and B packing groups, claimed and done so far, over all
	// steps; the workers wait on prog for the others' claims to be done.
	next, packNext   atomic.Int64
	unitsDone, packs atomic.Int64
	prog             *progress
	workFn           func(int) // j.work, made once per pooled job
}

// jobPool holds the jobs between calls. Its New is set in init: a job's
// work can call sgemm, which takes a job from the pool.
var jobPool sync.Pool

func init() {
	jobPool.New = func() any {
		j := &gemmJob{prog: newProgress()}
		j.workFn = j.work
		return j
	}
}

// plan chooses the blocking. k is cut into equal blocks of at most kcBlock
// steps. When op(A) has at most privateRows rows, the job is private:
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
	j.private = j.m <= privateRows
	if j.private {
		j.blocks = 1
		j.colSplit = min(threads, ceilDiv(j.n, j.g.nr))
		if j.k <= j.kc0 && threads > 1 {
			// One k block: a worker packs op(A) once for all the parts it
			// claims, so the columns can be cut finer, and shared out as
			// the workers go.
			j.colSplit = min(privateParts*threads, ceilDiv(j.n, j.g.nr))
		}
	} else {
		j.blocks = min(roundUp(j.blocks, threads), j.slivers)
	}
	j.aRows = ceilDiv(j.slivers, j.blocks) * j.g.mr
	j.threads = min(threads, j.blocks*j.colSplit)
}

// splitMinCols is the fewest columns of C for which a plain SGEMM of more
// than privateRows rows is cut into independent column parts (splitCols).
const splitMinCols = 512

// splitCols decides, for a team of size workers, whether the job is cut
// into column parts of whole NR slivers, one per worker, each computed as
// a one-thread GEMM that packs its own A and B: a plain SGEMM (no custom
// packers or C) of more than privateRows rows and at least splitMinCols
// columns. On two threads of an Intel Xeon (AVX-512 tier) that ran n=1024
// at 303 GFLOP/s (best of 7) against 286 for the shared B panel, where
// each worker reads the other's half of the panel and waits at each k
// block for the packing and the previous block's units; packing A twice
// costs less. The parts sit on the tile grid and k is cut as in one GEMM,
// so the results are the same bits.
func (j *gemmJob) splitCols(workers int) bool {
	if workers < 2 || j.packAFn != nil || j.packBFn != nil || j.cAt != nil || j.m <= privateRows || j.n < splitMinCols {
		return false
	}
	j.split = true
	j.colSplit = min(workers, ceilDiv(j.n, j.g.nr))
	j.threads = j.colSplit
	return true
}

// workSplit is work for a split job: the workers claim column parts until
// none is left.
func (j *gemmJob) workSplit() {
	nr := j.g.nr
	nSl := ceilDiv(j.n, nr)
	for {
		part := j.claim(&j.next, 0, int64(j.colSplit))
		if part < 0 {
			return
		}
		c0, c1 := part*nSl/j.colSplit*nr, min((part+1)*nSl/j.colSplit*nr, j.n)
		b := j.b[c0:]
		if j.transB {
			b = j.b[c0*j.ldb:]
		}
		sgemm(j.g, 1, j.transA, j.transB, j.m, c1-c0, j.k, j.alpha, j.a, j.lda, b, j.ldb, j.beta, j.c[c0:], j.ldc)
	}
}

// privateParts is how many column parts per worker a private job of one k
// block is cut into. Two workers on equal halves of a 256x256x256 product
// finished a median 10 to 25 us apart, of about 230 (AMD Zen 3, AVX2
// tier); with finer parts the one that is ahead takes more of them.
const privateParts = 4

// workPrivate is work for a private job: the workers claim parts of C's
// column slivers, over all rows, until none is left.
func (j *gemmJob) workPrivate() {
	g := j.g
	mr, nr := g.mr, g.nr
	abuf := getBuffer(j.aRows * j.kc0)
	bbuf := getBuffer(j.kc0 * nr)
	tbuf := getBuffer(mr * nr)
	ap, bs, tmp := abuf.f, bbuf.f, tbuf.f
	nSl := ceilDiv(j.n, nr)
	packed := false // op(A)'s one k block is in ap (j.k <= j.kc0)
	for {
		part := j.claim(&j.next, 0, int64(j.colSplit))
		if part < 0 {
			break
		}
		j.privatePart(ap, bs, tmp, part*nSl/j.colSplit, (part+1)*nSl/j.colSplit, &packed)
	}
	putBuffer(tbuf)
	putBuffer(bbuf)
	putBuffer(abuf)
}

// privatePart computes the column slivers sl0..sl1 of C over all rows in
// panels of ncBlock columns, each through every k block before the next, so
// that the panel's part of C stays in cache between k blocks (A, at most
// privateRows rows, is packed again per panel, unless k is one block: then
// it is packed once per worker, *packed telling whether it is done).
func (j *gemmJob) privatePart(ap, bs, tmp []float32, sl0, sl1 int, packed *bool) {
	nr := j.g.nr
	panel := ncBlock / nr
	for ps := sl0; ps < sl1; ps += panel {
		pe := min(ps+panel, sl1)
		for pc := 0; pc < j.k; pc += j.kc0 {
			kc := min(j.kc0, j.k-pc)
			beta := j.beta
			if pc > 0 {
				beta = 1
			}
			if !*packed {
				j.packABlock(ap, 0, j.slivers, pc, kc)
				*packed = j.k <= j.kc0
			}
			for js := ps; js < pe; js++ {
				col := js * nr
				cw := min(nr, j.n-col)
				j.packB(bs[:kc*nr], pc, kc, col, cw)
				j.column(kc, ap, bs, 0, j.slivers, col, cw, beta, tmp)
			}
		}
	}
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

// work is one worker's part of the job. A shared job goes in steps, one
// per panel of B and k block: the workers claim groups of B slivers to pack
// into the step's panel until none is left, wait for the groups the others
// claimed, then claim units (a row block's A packed and multiplied by its
// share of the panel) until none is left. Nobody waits for a worker that
// has claimed nothing, so a worker that starts late (or never) only leaves
// more to the others. A step's units wait for those of the step before
// (they add to the same blocks of C); so the packed panels can alternate
// between two buffers.
func (j *gemmJob) work(int) {
	if j.split {
		j.workSplit()
		return
	}
	if j.private {
		j.workPrivate()
		return
	}
	g := j.g
	mr, nr := g.mr, g.nr
	units := int64(j.blocks * j.colSplit)
	abuf := getBuffer(j.aRows * j.kc0)
	tbuf := getBuffer(mr * nr)
	ap, tmp := abuf.f, tbuf.f
	var base, pbase int64
	step := 0
	for jc := 0; jc < j.n; jc += ncBlock {
		nc := min(ncBlock, j.n-jc)
		nSl := ceilDiv(nc, nr)
		groups := int64(ceilDiv(nSl, j.packGroup()))
		for pc := 0; pc < j.k; pc += j.kc0 {
			kc := min(j.kc0, j.k-pc)
			beta := j.beta
			if pc > 0 {
				beta = 1
			}
			// The last readers of this buffer, the units of the step
			// before the last, are done: this worker waited for them
			// before its units of the last step.
			bp := j.bp[step%2]
			step++
			for {
				grp := j.claim(&j.packNext, pbase, groups)
				if grp < 0 {
					break
				}
				j.packBGroup(bp, grp, jc, nSl, pc, kc)
				j.prog.add(&j.packs)
			}
			pbase += groups
			j.prog.waitFor(&j.packs, pbase)
			// The units of the step before, whose C blocks these add
			// to, must be done.
			j.prog.waitFor(&j.unitsDone, base)
			for {
				u := j.claim(&j.next, base, units)
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
					j.column(kc, ap, bs, s0, s1, col, cw, beta, tmp)
				}
				j.prog.add(&j.unitsDone)
			}
			base += units
		}
	}
	putBuffer(tbuf)
	putBuffer(abuf)
}

// packGroup returns how many B slivers a packing group holds: four whole
// slivers of a plain B in one pass when the kernel has a packB4, else one.
func (j *gemmJob) packGroup() int {
	if j.packBFn == nil && !j.transB && j.g.packB4 != nil {
		return 4
	}
	return 1
}

// packBGroup packs group grp of the panel's nSl B slivers from column jc
// (k steps pc..pc+kc) into bp.
func (j *gemmJob) packBGroup(bp []float32, grp, jc, nSl, pc, kc int) {
	nr, size := j.g.nr, j.packGroup()
	s0 := grp * size
	s1 := min(s0+size, nSl)
	if col := jc + s0*nr; s1-s0 == 4 && j.n-col >= 4*nr {
		_ = j.b[(pc+kc-1)*j.ldb+col+4*nr-1]
		_ = bp[s1*kc*nr-1]
		j.g.packB4(kc, &j.b[pc*j.ldb+col], j.ldb, &bp[s0*kc*nr])
		return
	}
	for s := s0; s < s1; s++ {
		col := jc + s*nr
		j.packB(bp[s*kc*nr:(s+1)*kc*nr], pc, kc, col, min(nr, j.n-col))
	}
}

// column computes the tiles of A slivers s0..s1 (packed from ap) by the B
// sliver bs at column col, cw columns wide: the full tiles of a plain C in
// one call of the kernel's tiles when it has one, the others one by one.
func (j *gemmJob) column(kc int, ap, bs []float32, s0, s1, col, cw int, beta float32, tmp []float32) {
	mr := j.g.mr
	s := s0
	if j.g.tiles != nil && j.cAt == nil && cw == j.g.nr {
		full := min(s1, j.m/mr) - s0
		if full > 0 {
			j.g.tiles(full, kc, ap, bs, j.c[s0*mr*j.ldc+col:], j.ldc, j.alpha, beta)
			s += full
		}
	}
	for ; s < s1; s++ {
		row := s * mr
		j.tileAt(kc, ap[(s-s0)*kc*mr:], bs, row, col, min(mr, j.m-row), cw, beta, tmp)
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

// claim returns the next unclaimed one of the n parts counted by next from
// base, or -1 when all are taken.
func (j *gemmJob) claim(next *atomic.Int64, base, n int64) int {
	for {
		cur := next.Load()
		if cur >= base+n {
			return -1
		}
		if next.CompareAndSwap(cur, cur+1) {
			return int(cur - base)
		}
	}
}

// progress lets workers wait for counters of done work to reach a value.
// Waiters spin a while (the work they wait for is under way on a running
// worker, and short), then sleep until a count moves.
type progress struct {
	waiting atomic.Int32
	mu      sync.Mutex
	cond    sync.Cond
}

func newProgress() *progress {
	p := new(progress)
	p.cond.L = &p.mu
	return p
}

// add counts one more piece of work done in c.
func (p *progress) add(c *atomic.Int64) {
	c.Add(1)
	if p.waiting.Load() > 0 {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	}
}

// waitFor returns when c >= target.
func (p *progress) waitFor(c *atomic.Int64, target int64) {
	for i := 0; i < 20000; i++ {
		if c.Load() >= target {
			return
		}
	}
	p.mu.Lock()
	p.waiting.Add(1)
	for c.Load() < target {
		p.cond.Wait()
	}
	p.waiting.Add(-1)
	p.mu.Unlock()
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

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func roundUp(a, b int) int { return ceilDiv(a, b) * b }
