package kernels

import (
	"runtime"

	"github.com/fastgo-ml/fastgo"
)

// Packed describes the operands of SgemmPacked: instead of strided
// matrices, functions that write blocks of op(A) and op(B) straight into the
// packed layout the micro-kernels read, and a function that says where the
// elements of C live. A convolution uses it to multiply by its unfolded
// input without ever storing the unfolded matrix, and to write its output
// in NCHW order. The functions are called concurrently by the GEMM's
// workers, on disjoint blocks; they must only write dst.
type Packed struct {
	// PackA writes rows [row, row+h) and steps [p0, p0+kc) of op(A) into
	// dst as kc groups of mr floats: dst[p*mr+i] = op(A)[row+i][p0+p], and
	// 0 for i >= h. PackerA makes one for a plain matrix.
	PackA func(dst []float32, row, h, p0, kc, mr int)
	// PackB writes steps [p0, p0+kc) and columns [col, col+w) of op(B) into
	// dst as kc groups of nr floats: dst[p*nr+j] = op(B)[p0+p][col+j], and 0
	// for j >= w. PackerB makes one for a plain matrix.
	PackB func(dst []float32, p0, kc, col, w, nr int)
	// C returns where C[row][col] lives: element (i, j) of C's block from
	// (row, col) is c[i*ldc+j] for the run columns j < run that are evenly
	// strided from col (run >= 1); the GEMM writes tiles that cross such a
	// boundary through a scratch tile.
	C func(row, col int) (c []float32, ldc, run int)
	// Threads caps the goroutines used (0: GOMAXPROCS). Results do not
	// depend on it.
	Threads int
}

// SgemmPacked computes C = alpha*op(A)*op(B) + beta*C for op(A) m x k and
// op(B) k x n given by ops, with the same blocking, kernels and
// bit-for-bit determinism as Sgemm. When beta is 0, C is not read.
func SgemmPacked(m, n, k int, alpha float32, ops *Packed, beta float32) {
	if m < 0 || n < 0 || k < 0 {
		panic(fastgo.Errorf("kernels.SgemmPacked: negative size m=%d n=%d k=%d", m, n, k))
	}
	if ops.PackA == nil || ops.PackB == nil || ops.C == nil {
		panic(fastgo.Errorf("kernels.SgemmPacked: PackA, PackB and C are all required"))
	}
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		for i := 0; i < m; i++ {
			for j0 := 0; j0 < n; {
				c, _, run := ops.C(i, j0)
				seg := min(run, n-j0)
				scaleC(1, seg, beta, c, seg)
				j0 += seg
			}
		}
		return
	}
	threads := ops.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	g := &active.gemm
	if 2*m*n*k < parallelMinFlops {
		threads = 1
	}
	j := jobPool.Get().(*gemmJob)
	*j = gemmJob{g: g, m: m, n: n, k: k, alpha: alpha, beta: beta, prog: j.prog, workFn: j.workFn,
		packAFn: ops.PackA, packBFn: ops.PackB, cAt: ops.C}
	j.run(threads)
	*j = gemmJob{prog: j.prog, workFn: j.workFn}
	jobPool.Put(j)
}

// Workers returns the number of goroutines SgemmPacked (and Sgemm) would
// use for an m x n x k product with threads available: a caller that has
// more parallelism to offer than the GEMM can use (a skinny weight
// gradient) splits its work itself.
func Workers(m, n, k, threads int) int {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	if 2*m*n*k < parallelMinFlops {
		return 1
	}
	j := gemmJob{g: &active.gemm, m: m, n: n, k: k}
	j.plan(threads)
	return j.threads
}

// PackerA returns the PackA of a plain row-major matrix: op(A) is a (m x k,
// row stride lda) or its transpose.
func PackerA(trans bool, a []float32, lda int) func(dst []float32, row, h, p0, kc, mr int) {
	g := &active.gemm
	return func(dst []float32, row, h, p0, kc, mr int) {
		if h == mr && !trans && g.packFull != nil {
			g.packFull(dst, a, lda, row, p0, kc)
			return
		}
		packA(dst, trans, a, lda, row, h, p0, kc, mr)
	}
}

// PackerB returns the PackB of a plain row-major matrix: op(B) is b (k x n,
// row stride ldb) or its transpose.
func PackerB(trans bool, b []float32, ldb int) func(dst []float32, p0, kc, col, w, nr int) {
	g := &active.gemm
	return func(dst []float32, p0, kc, col, w, nr int) {
		if trans && g.packBT != nil && nr == g.nr {
			g.packBT(dst, b, ldb, p0, kc, col, w)
			return
		}
		packB(dst, trans, b, ldb, p0, kc, col, w, nr)
	}
}

// PackRowsA packs an h x kc row-major block a (row stride lda) as an A
// sliver: dst[p*mr+i] = a[i*lda+p], and 0 for rows i >= h. A custom PackA
// that first gathers its rows uses it.
func PackRowsA(dst, a []float32, lda, h, kc, mr int) {
	g := &active.gemm
	if h == mr && g.packFull != nil && mr == g.mr {
		g.packFull(dst, a, lda, 0, 0, kc)
		return
	}
	packA(dst, false, a, lda, 0, h, 0, kc, mr)
}

// PackColsB packs kc steps of w columns given as rows of b (column j of the
// block is b[j*ldb : j*ldb+kc]) as a B sliver: dst[p*nr+j] = b[j*ldb+p],
// and 0 for j >= w.
func PackColsB(dst, b []float32, ldb, kc, w, nr int) {
	g := &active.gemm
	if g.packBT != nil && nr == g.nr {
		g.packBT(dst, b, ldb, 0, kc, 0, w)
		return
	}
	packB(dst, true, b, ldb, 0, kc, 0, w, nr)
}

// MR and NR return the register blocking of the active tier: the heights
// of A slivers and the widths of B slivers that the Packed functions are
// asked for.
func MR() int { return active.gemm.mr }

// NR returns the width of a packed B sliver of the active tier (see MR).
func NR() int { return active.gemm.nr }

// PaddedLD returns a row stride of at least n floats for a matrix the GEMM
// writes or reads by rows: n itself unless n*4 bytes is a multiple of 1 KiB,
// in which case 16 floats more. With a stride that is a multiple of a large
// power of two, the rows of a tile fall into the same cache set, and the
// lines of one tile evict each other (a 12-row tile of C is 12 lines in a
// 12-way L1 set); the padding spreads them over the sets.
func PaddedLD(n int) int {
	if n%256 == 0 {
		return n + 16
	}
	return n
}
