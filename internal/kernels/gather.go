package kernels

import "github.com/fastgo-ml/fastgo"

// GatherRows packs rows of up to nr floats from src into dst: row p of dst
// (nr floats) is src[offs[p] : offs[p]+w], followed by zeros to nr. A
// packing function of SgemmPacked (or the plain B packer) whose rows are
// contiguous runs of the source uses it, with one offset per row: a copy
// of a whole sliver in one call.
func GatherRows(dst, src []float32, offs []int, w, nr int) {
	GatherRowsAt(dst, src, rowOffsets(offs), w, nr)
}

// RowOffsets is a table of row offsets for GatherRowsAt and
// GatherRowsSplit, with its least and greatest entry, found once when the
// table is made: a gather then checks its source's bounds in constant time,
// not row by row (a B sliver of a convolution is a few hundred rows of 16
// or 32 floats, and the check cost a third of the copy).
type RowOffsets struct {
	offs   []int
	lo, hi int
}

// NewRowOffsets returns the table of a copy of offs.
func NewRowOffsets(offs []int) RowOffsets {
	return rowOffsets(append([]int(nil), offs...))
}

// rowOffsets is NewRowOffsets on offs itself, which must not change while
// the table is in use.
func rowOffsets(offs []int) RowOffsets {
	r := RowOffsets{offs: offs}
	if len(offs) > 0 {
		r.lo, r.hi = offs[0], offs[0]
		for _, o := range offs[1:] {
			r.lo, r.hi = min(r.lo, o), max(r.hi, o)
		}
	}
	return r
}

// Len is the number of rows of the table.
func (r RowOffsets) Len() int { return len(r.offs) }

// Rows returns the rows p0..p1-1 of the table, whose bounds are the whole
// table's (a superset of theirs).
func (r RowOffsets) Rows(p0, p1 int) RowOffsets {
	return RowOffsets{offs: r.offs[p0:p1], lo: r.lo, hi: r.hi}
}

// fits reports whether every row of r, read for n floats, lies in src.
func (r RowOffsets) fits(src []float32, n int) bool {
	return len(r.offs) == 0 || (r.lo >= 0 && r.hi+n <= len(src))
}

// GatherRowsAt is GatherRows with the offsets of table r, whose bounds it
// checks once.
func GatherRowsAt(dst, src []float32, r RowOffsets, w, nr int) {
	if w < 0 || w > nr || len(dst) < len(r.offs)*nr {
		panic(fastgo.Errorf("kernels.GatherRows: %d rows of width %d into %d floats with row stride %d", len(r.offs), w, len(dst), nr))
	}
	if !r.fits(src, w) {
		panic(fastgo.Errorf("kernels.GatherRows: rows at offsets %d to %d (width %d) outside a source of %d floats", r.lo, r.hi, w, len(src)))
	}
	if len(r.offs) == 0 {
		return
	}
	if w > 0 && gatherRowsTier(len(r.offs), src, r.offs, w, nr, dst) {
		return
	}
	gatherRowsGo(dst, src, r.offs, w, nr)
}

// GatherRowsSplit packs rows of nr floats from two sources: row p of dst is
// a[o : o+w1] then b[o+w1 : o+nr], for o = the table's offset p. A B
// sliver of a convolution whose columns run from the end of one sample's
// run into the next sample's is one call, with b the next sample's source
// shifted back by w1 floats, where GatherRowsPart takes one call per run.
// Both sources are read from o to o+nr (the rows' ends in a and starts in
// b too, which the copy drops).
func GatherRowsSplit(dst, a, b []float32, r RowOffsets, w1, nr int) {
	if w1 < 0 || w1 > nr || len(dst) < len(r.offs)*nr {
		panic(fastgo.Errorf("kernels.GatherRowsSplit: %d rows split at %d into %d floats with row stride %d", len(r.offs), w1, len(dst), nr))
	}
	if !r.fits(a, nr) || !r.fits(b, nr) {
		panic(fastgo.Errorf("kernels.GatherRowsSplit: rows at offsets %d to %d (width %d) outside sources of %d and %d floats", r.lo, r.hi, nr, len(a), len(b)))
	}
	if len(r.offs) == 0 {
		return
	}
	if gatherRowsSplitTier(len(r.offs), a, b, r.offs, w1, nr, dst) {
		return
	}
	for p, o := range r.offs {
		copy(dst[p*nr:p*nr+w1], a[o:o+w1])
		copy(dst[p*nr+w1:(p+1)*nr], b[o+w1:o+nr])
	}
}

func gatherRowsGo(dst, src []float32, offs []int, w, nr int) {
	for p, o := range offs {
		row := dst[p*nr : (p+1)*nr]
		copy(row[:w], src[o:o+w])
		clear(row[w:])
	}
}

// GatherRowsPart copies w floats of src from each offset offs[p] to
// dst[p*nr : p*nr+w], leaving the other columns of dst's rows unchanged:
// GatherRows for a sliver whose columns come from several runs, one call
// per run with dst starting at the run's column.
func GatherRowsPart(dst, src []float32, offs []int, w, nr int) {
	if len(offs) == 0 || w == 0 {
		return
	}
	if w < 0 || w > nr || len(dst) < (len(offs)-1)*nr+w {
		panic(fastgo.Errorf("kernels.GatherRowsPart: %d rows of width %d into %d floats with row stride %d", len(offs), w, len(dst), nr))
	}
	for p, o := range offs {
		if o < 0 || o+w > len(src) {
			panic(fastgo.Errorf("kernels.GatherRowsPart: row %d at offset %d (width %d) outside a source of %d floats", p, o, w, len(src)))
		}
	}
	if gatherRowsPartTier(len(offs), src, offs, w, nr, dst) {
		return
	}
	for p, o := range offs {
		copy(dst[p*nr:p*nr+w], src[o:o+w])
	}
}
