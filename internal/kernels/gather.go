package kernels

import "github.com/fastgo-ml/fastgo"

// GatherRows packs rows of up to nr floats from src into dst: row p of dst
// (nr floats) is src[offs[p] : offs[p]+w], followed by zeros to nr. A
// packing function of SgemmPacked (or the plain B packer) whose rows are
// contiguous runs of the source uses it, with one offset per row: a copy
// of a whole sliver in one call.
func GatherRows(dst, src []float32, offs []int, w, nr int) {
	if w < 0 || w > nr || len(dst) < len(offs)*nr {
		panic(fastgo.Errorf("kernels.GatherRows: %d rows of width %d into %d floats with row stride %d", len(offs), w, len(dst), nr))
	}
	for p, o := range offs {
		if o < 0 || o+w > len(src) {
			panic(fastgo.Errorf("kernels.GatherRows: row %d at offset %d (width %d) outside a source of %d floats", p, o, w, len(src)))
		}
	}
	if len(offs) == 0 {
		return
	}
	if w > 0 && gatherRowsTier(len(offs), src, offs, w, nr, dst) {
		return
	}
	gatherRowsGo(dst, src, offs, w, nr)
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
