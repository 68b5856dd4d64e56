package kernels

import (
	"sync"
	"unsafe"
)

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

// buffer is a 64-byte aligned float32 scratch slice kept in bufFree.
type buffer struct{ f []float32 }

// bufFree holds the packing buffers not in use, at most bufKeep of them. It
// is a best-fit free list under a mutex rather than a sync.Pool: the pool
// hands a goroutine whatever buffer its P last put back, often one too
// small for the GEMM at hand, which was then dropped for a new one, and it
// empties at every garbage collection, so a warm training step kept
// allocating megabytes of packing space.
var (
	bufMu   sync.Mutex
	bufFree []*buffer
)

// bufKeep bounds bufFree: a GEMM holds at most three buffers per worker
// and one shared, and two GEMMs rarely run at once.
const bufKeep = 32

// getBuffer returns a buffer of n floats (contents undefined): the smallest
// free one that holds n, or a new one with an eighth to spare, so that
// slightly larger requests reuse it.
func getBuffer(n int) *buffer {
	bufMu.Lock()
	best := -1
	for i, b := range bufFree {
		if cap(b.f) >= n && (best < 0 || cap(b.f) < cap(bufFree[best].f)) {
			best = i
		}
	}
	if best >= 0 {
		b := bufFree[best]
		last := len(bufFree) - 1
		bufFree[best], bufFree[last] = bufFree[last], nil
		bufFree = bufFree[:last]
		bufMu.Unlock()
		b.f = b.f[:n]
		return b
	}
	bufMu.Unlock()
	return &buffer{f: alignedFloats(n + n/8)[:n]}
}

// putBuffer gives b back to bufFree; when the list is full, the smallest
// buffer (b or another) is dropped.
func putBuffer(b *buffer) {
	bufMu.Lock()
	defer bufMu.Unlock()
	if len(bufFree) < bufKeep {
		bufFree = append(bufFree, b)
		return
	}
	small := 0
	for i, o := range bufFree {
		if cap(o.f) < cap(bufFree[small].f) {
			small = i
		}
	}
	if cap(b.f) > cap(bufFree[small].f) {
		bufFree[small] = b
	}
}

// alignedFloats returns a slice of n floats whose first element is 64-byte
// aligned.
func alignedFloats(n int) []float32 {
	s := make([]float32, n+16)
	off := int((64 - uintptr(unsafe.Pointer(&s[0]))%64) % 64 / 4)
	return s[off : off+n : off+n]
}
