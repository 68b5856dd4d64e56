package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// packAPrefetch is how far ahead (bytes) packA12x512 prefetches its rows.
const packAPrefetch = 512

// packA12x512 emits the AVX-512 packing of a full 12-row sliver of an
// untransposed A: n16 groups of 16 columns, each transposed into 16 groups
// of 12 floats (4x4 transposes inside the 128-bit lanes, then one 16-byte
// store per lane and column).
func packA12x512() {
	TEXT("packA12x512", NOSPLIT, "func(n16 int, a *float32, lda int, dst *float32)")
	Pragma("noescape")
	Doc("packA12x512 packs 16*n16 columns of 12 rows of A (row stride lda) into dst as groups of 12 floats (AVX-512).")
	Load(Param("n16"), RCX)
	Load(Param("a"), R8)
	Load(Param("lda"), R9)
	Load(Param("dst"), RDI)
	SHLQ(U8(2), R9)
	LEAQ(Mem{Base: R9, Index: R9, Scale: 2}, R10)  // 3*lda
	LEAQ(Mem{Base: R8, Index: R9, Scale: 4}, R11)  // row 4
	LEAQ(Mem{Base: R11, Index: R9, Scale: 4}, R12) // row 8
	bases := []Register{R8, R11, R12}
	row := func(base Register, i int) Mem {
		switch i {
		case 0:
			return Mem{Base: base}
		case 1:
			return Mem{Base: base, Index: R9, Scale: 1}
		case 2:
			return Mem{Base: base, Index: R9, Scale: 2}
		default:
			return Mem{Base: base, Index: R10, Scale: 1}
		}
	}
	z := []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11}
	Label("packA12x512_loop")
	TESTQ(RCX, RCX)
	JZ(LabelRef("packA12x512_done"))
	for rb := 0; rb < 3; rb++ {
		r := z[4*rb : 4*rb+4]
		for i := 0; i < 4; i++ {
			VMOVUPS(row(bases[rb], i), r[i])
			// The rows are as many streams: fetch 8 lines ahead.
			PREFETCHT0(row(bases[rb], i).Offset(packAPrefetch))
		}
		t := []VecPhysical{Z12, Z13, Z14, Z15}
		VUNPCKLPS(r[1], r[0], t[0]) // r0c0 r1c0 r0c1 r1c1
		VUNPCKHPS(r[1], r[0], t[1]) // r0c2 r1c2 r0c3 r1c3
		VUNPCKLPS(r[3], r[2], t[2]) // r2c0 r3c0 r2c1 r3c1
		VUNPCKHPS(r[3], r[2], t[3]) // r2c2 r3c2 r2c3 r3c3
		u := []VecPhysical{Z16, Z17, Z18, Z19}
		VUNPCKLPD(t[2], t[0], u[0]) // column 0 of each lane
		VUNPCKHPD(t[2], t[0], u[1]) // column 1
		VUNPCKLPD(t[3], t[1], u[2]) // column 2
		VUNPCKHPD(t[3], t[1], u[3]) // column 3
		for l := 0; l < 4; l++ {
			for q := 0; q < 4; q++ {
				dst := Mem{Base: RDI, Disp: ((4*l+q)*12 + 4*rb) * 4}
				if l == 0 {
					VMOVUPS(u[q].AsX(), dst)
				} else {
					VEXTRACTF32X4(U8(l), u[q], dst)
				}
			}
		}
	}
	for _, b := range bases {
		ADDQ(U8(64), b)
	}
	ADDQ(U32(16*12*4), RDI)
	DECQ(RCX)
	JMP(LabelRef("packA12x512_loop"))
	Label("packA12x512_done")
	VZEROUPPER()
	RET()
}

// packBT16x512 emits the AVX-512 packing of 16 columns of a transposed B:
// for each of n16 groups of 16 steps p, the 16x16 block whose row j is
// b[j*ldb + p0 : j*ldb + p0 + 16] (row j of the stored B is column j of
// op(B)) is transposed so that step p's 16 values land at dst[p*32 :
// p*32+16], the layout of a packed 32-column B sliver.
func packBT16x512() {
	TEXT("packBT16x512", NOSPLIT, "func(n16 int, b *float32, ldb int, dst *float32)")
	Pragma("noescape")
	Doc("packBT16x512 packs 16*n16 steps of 16 columns of a transposed B (row stride ldb) into a 32-wide packed sliver (AVX-512).")
	Load(Param("n16"), RCX)
	Load(Param("b"), R8)
	Load(Param("ldb"), R9)
	Load(Param("dst"), RDI)
	SHLQ(U8(2), R9)
	LEAQ(Mem{Base: R9, Index: R9, Scale: 2}, R10)  // 3*ldb
	LEAQ(Mem{Base: R8, Index: R9, Scale: 4}, R11)  // row 4
	LEAQ(Mem{Base: R11, Index: R9, Scale: 4}, R12) // row 8
	LEAQ(Mem{Base: R12, Index: R9, Scale: 4}, R13) // row 12
	bases := []Register{R8, R11, R12, R13}
	row := func(i int) Mem {
		base := bases[i/4]
		switch i % 4 {
		case 0:
			return Mem{Base: base}
		case 1:
			return Mem{Base: base, Index: R9, Scale: 1}
		case 2:
			return Mem{Base: base, Index: R9, Scale: 2}
		default:
			return Mem{Base: base, Index: R10, Scale: 1}
		}
	}
	r := make([]VecPhysical, 16)
	t := make([]VecPhysical, 16)
	for i := range r {
		r[i] = zmm(i)
		t[i] = zmm(16 + i)
	}
	Label("packBT16x512_loop")
	TESTQ(RCX, RCX)
	JZ(LabelRef("packBT16x512_done"))
	for i := 0; i < 16; i++ {
		VMOVUPS(row(i), r[i])
	}
	// Interleave pairs of rows, then pairs of pairs: 4x4 blocks transposed
	// inside each 128-bit lane.
	for i := 0; i < 8; i++ {
		VUNPCKLPS(r[2*i+1], r[2*i], t[2*i])
		VUNPCKHPS(r[2*i+1], r[2*i], t[2*i+1])
	}
	for i := 0; i < 4; i++ {
		VUNPCKLPD(t[4*i+2], t[4*i], r[4*i])
		VUNPCKHPD(t[4*i+2], t[4*i], r[4*i+1])
		VUNPCKLPD(t[4*i+3], t[4*i+1], r[4*i+2])
		VUNPCKHPD(t[4*i+3], t[4*i+1], r[4*i+3])
	}
	// Move the 128-bit lanes: r[i] now holds, in lane l, column c(i) of
	// rows 4l..4l+3; two lane shuffles gather each column's four lanes.
	for i := 0; i < 4; i++ {
		VSHUFF32X4(U8(0x88), r[i+4], r[i], t[i])
		VSHUFF32X4(U8(0xdd), r[i+4], r[i], t[i+4])
		VSHUFF32X4(U8(0x88), r[i+12], r[i+8], t[i+8])
		VSHUFF32X4(U8(0xdd), r[i+12], r[i+8], t[i+12])
	}
	for i := 0; i < 8; i++ {
		VSHUFF32X4(U8(0x88), t[i+8], t[i], r[i])
		VSHUFF32X4(U8(0xdd), t[i+8], t[i], r[i+8])
	}
	// r[i] is column i of the block: step p0+i of op(B).
	for i := 0; i < 16; i++ {
		VMOVUPS(r[i], Mem{Base: RDI, Disp: i * 32 * 4})
	}
	for _, b := range bases {
		ADDQ(U8(64), b)
	}
	ADDQ(U32(16*32*4), RDI)
	DECQ(RCX)
	JMP(LabelRef("packBT16x512_loop"))
	Label("packBT16x512_done")
	VZEROUPPER()
	RET()
}

// gatherRows512 emits the AVX-512 copy of kc rows of up to 32 floats: row p
// of dst (32 floats) is src[offs[p] : offs[p]+32], its columns w and on
// zero. Packing a B sliver from any source whose rows are contiguous runs
// of 32 (a strided matrix, a shifted image plane) is one call.
//
// gatherRowsPart512 is the same copy with masked stores: columns w and on
// of dst's rows are left as they are, so that a sliver whose columns come
// from several runs (a convolution's B across two samples) is one call per
// run, each at its column of dst.
func gatherRows512() {
	gatherRows512Variant("gatherRows512", true)
	gatherRows512Variant("gatherRowsPart512", false)
	gatherRowsSplit512()
}

// gatherRowsSplit512 emits the AVX-512 copy of kc 32-float rows from two
// sources, as gatherRowsSplit256 does for 16: each vector loaded from b,
// then its lanes below w1 from a (a merging masked load).
func gatherRowsSplit512() {
	TEXT("gatherRowsSplit512", NOSPLIT, "func(kc int, a, b *float32, offs *int, w1 int, dst *float32)")
	Pragma("noescape")
	Doc("gatherRowsSplit512 copies kc 32-float rows into dst, row p's columns below w1 from a[offs[p]:] and the others from b[offs[p]:] (AVX-512).")
	kc := Load(Param("kc"), GP64()).(GPVirtual)
	a := Load(Param("a"), GP64()).(GPVirtual)
	b := Load(Param("b"), GP64()).(GPVirtual)
	offs := Load(Param("offs"), GP64()).(GPVirtual)
	w1 := Load(Param("w1"), GP64()).(GPVirtual)
	dst := Load(Param("dst"), GP64()).(GPVirtual)
	klo, khi := laneMasks512(w1)
	Label("gatherRowsSplit512_loop")
	TESTQ(kc, kc)
	JZ(LabelRef("gatherRowsSplit512_done"))
	o := GP64()
	MOVQ(Mem{Base: offs}, o)
	lo, hi := ZMM(), ZMM()
	VMOVUPS(Mem{Base: b, Index: o, Scale: 4}, lo)
	VMOVUPS(Mem{Base: b, Index: o, Scale: 4, Disp: 64}, hi)
	VMOVUPS(Mem{Base: a, Index: o, Scale: 4}, klo, lo)
	VMOVUPS(Mem{Base: a, Index: o, Scale: 4, Disp: 64}, khi, hi)
	VMOVUPS(lo, Mem{Base: dst})
	VMOVUPS(hi, Mem{Base: dst, Disp: 64})
	ADDQ(U8(8), offs)
	ADDQ(U8(128), dst)
	DECQ(kc)
	JMP(LabelRef("gatherRowsSplit512_loop"))
	Label("gatherRowsSplit512_done")
	VZEROUPPER()
	RET()
}

// laneMasks512 returns the masks of the first w (0..32) lanes of two zmm
// vectors: bit i set when i < w.
func laneMasks512(w GPVirtual) (lo, hi OpmaskVirtual) {
	all, m := GP32(), GP32()
	MOVL(U32(0xffffffff), all)
	BZHIL(w.As32(), all, m) // w <= 32
	lo, hi = K(), K()
	KMOVW(m, lo)
	SHRL(U8(16), m)
	KMOVW(m, hi)
	return lo, hi
}

func gatherRows512Variant(name string, fill bool) {
	TEXT(name, NOSPLIT, "func(kc int, src *float32, offs *int, w int, dst *float32)")
	Pragma("noescape")
	if fill {
		Doc(name + " copies kc rows of w <= 32 floats, row p from src[offs[p]:], into 32-float rows of dst, zero-filled (AVX-512).")
	} else {
		Doc(name + " copies kc rows of w <= 32 floats, row p from src[offs[p]:], into the first w floats of 32-float rows of dst, leaving the rest (AVX-512).")
	}
	kc := Load(Param("kc"), GP64()).(GPVirtual)
	src := Load(Param("src"), GP64()).(GPVirtual)
	offs := Load(Param("offs"), GP64()).(GPVirtual)
	w := Load(Param("w"), GP64()).(GPVirtual)
	dst := Load(Param("dst"), GP64()).(GPVirtual)
	klo, khi := laneMasks512(w)
	Label(name + "_loop")
	TESTQ(kc, kc)
	JZ(LabelRef(name + "_done"))
	o := GP64()
	MOVQ(Mem{Base: offs}, o)
	lo, hi := ZMM(), ZMM()
	VMOVUPS_Z(Mem{Base: src, Index: o, Scale: 4}, klo, lo)
	VMOVUPS_Z(Mem{Base: src, Index: o, Scale: 4, Disp: 64}, khi, hi)
	if fill {
		// The next slivers of a convolution's B read the 32 floats
		// after these, in as many streams as the block has rows (more
		// than the hardware prefetchers follow): fetch them two
		// slivers ahead.
		PREFETCHT0(Mem{Base: src, Index: o, Scale: 4, Disp: 256})
		PREFETCHT0(Mem{Base: src, Index: o, Scale: 4, Disp: 320})
		VMOVUPS(lo, Mem{Base: dst})
		VMOVUPS(hi, Mem{Base: dst, Disp: 64})
	} else {
		VMOVUPS(lo, klo, Mem{Base: dst})
		VMOVUPS(hi, khi, Mem{Base: dst, Disp: 64})
	}
	ADDQ(U8(8), offs)
	ADDQ(U8(128), dst)
	DECQ(kc)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}
