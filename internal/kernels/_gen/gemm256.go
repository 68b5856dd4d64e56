package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The AVX2+FMA tier of the SGEMM: the 6x16 micro-kernel (12 accumulators,
// two B vectors and two broadcasts fill the 16 ymm registers), its packers
// and the 16-float row gather.

// gemm256 emits everything of the AVX2 SGEMM tier.
func gemm256() {
	for h := 1; h <= mr256; h++ {
		gemmKernel256(h)
	}
	packA6x256()
	packBT8x256()
	gatherRows256()
}

// ymm returns ymm register i.
func ymm(i int) VecPhysical {
	return []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15}[i]
}

// gemmKernel256 emits the AVX2+FMA micro-kernel for full 6x16 tiles: n
// tiles stacked down C (rows 6t..6t+5 from A sliver t, the slivers
// consecutive in a), each C = alpha*A*B + beta*C over the same B sliver,
// with C not read when beta == 0. Looping over the tiles here, not in Go,
// saves a call per tile. Partial tiles go through a temporary tile on the
// Go side.
//
// With h < 6 it emits sgemmKernel256x<h>, the same for tiles of h rows (A
// slivers still 6 floats per step, rows h..5 ignored): the partial tiles at
// the bottom of a C whose height is not a multiple of 6 (a convolution's 32
// or 64 output channels, 9 rows of a 3x3 kernel's weight gradient), which
// the full kernel would compute whole into a temporary tile.
func gemmKernel256(h int) {
	name := "sgemmKernel256"
	if h < mr256 {
		name = fmt.Sprintf("sgemmKernel256x%d", h)
	}
	TEXT(name, NOSPLIT, "func(n, k int, a, b, c *float32, ldc int, alpha, beta float32)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s computes n %dx16 tiles, stacked down C, of C = alpha*A*B + beta*C from packed slivers (AVX2+FMA).", name, h))

	acc := func(i, h int) VecPhysical { return ymm(2*i + h) }
	bv := [2]VecPhysical{Y12, Y13}
	bc := [2]VecPhysical{Y14, Y15}

	Load(Param("n"), R10)
	Load(Param("k"), R13)
	Load(Param("a"), RAX)
	Load(Param("b"), R12)
	Load(Param("c"), R8)
	Load(Param("ldc"), RDX)
	SHLQ(U8(2), RDX)
	alpha, err := Param("alpha").Resolve()
	check(err)
	beta, err := Param("beta").Resolve()
	check(err)
	MOVL(beta.Addr, R11L)
	ANDL(U32(0x7fffffff), R11L) // beta == 0 (either sign) means: do not read C

	Label(name + "_tile")
	MOVQ(R13, RCX)
	MOVQ(R12, RBX)
	MOVQ(R8, R9)
	for i := 0; i < h; i++ {
		PREFETCHT0(Mem{Base: R9})
		PREFETCHT0(Mem{Base: R9, Disp: 63})
		if i < h-1 {
			ADDQ(RDX, R9)
		}
	}
	for i := 0; i < h; i++ {
		for h := 0; h < 2; h++ {
			VXORPS(acc(i, h), acc(i, h), acc(i, h))
		}
	}
	step := func(s int) {
		VMOVUPS(Mem{Base: RBX, Disp: s * nr256 * 4}, bv[0])
		VMOVUPS(Mem{Base: RBX, Disp: s*nr256*4 + 32}, bv[1])
		for i := 0; i < h; i++ {
			r := bc[i%2]
			VBROADCASTSS(Mem{Base: RAX, Disp: (s*mr256 + i) * 4}, r)
			VFMADD231PS(bv[0], r, acc(i, 0))
			VFMADD231PS(bv[1], r, acc(i, 1))
		}
	}
	const unroll = 4
	Label(name + "_loop4")
	CMPQ(RCX, U8(unroll))
	JL(LabelRef(name + "_tail"))
	PREFETCHT0(Mem{Base: RAX, Disp: 384})
	PREFETCHT0(Mem{Base: RBX, Disp: 1024})
	for s := 0; s < unroll; s++ {
		step(s)
	}
	ADDQ(U32(unroll*mr256*4), RAX)
	ADDQ(U32(unroll*nr256*4), RBX)
	SUBQ(U8(unroll), RCX)
	JMP(LabelRef(name + "_loop4"))

	Label(name + "_tail")
	TESTQ(RCX, RCX)
	JZ(LabelRef(name + "_epilogue"))
	step(0)
	ADDQ(U8(mr256*4), RAX)
	ADDQ(U8(nr256*4), RBX)
	DECQ(RCX)
	JMP(LabelRef(name + "_tail"))

	Label(name + "_epilogue")
	VBROADCASTSS(alpha.Addr, bv[0])
	for i := 0; i < h; i++ {
		for h := 0; h < 2; h++ {
			VMULPS(bv[0], acc(i, h), acc(i, h))
		}
	}
	TESTL(R11L, R11L)
	JZ(LabelRef(name + "_store"))
	VBROADCASTSS(beta.Addr, bv[1])
	MOVQ(R8, R9)
	for i := 0; i < h; i++ {
		VFMADD231PS(Mem{Base: R9}, bv[1], acc(i, 0))
		VFMADD231PS(Mem{Base: R9, Disp: 32}, bv[1], acc(i, 1))
		if i < h-1 {
			ADDQ(RDX, R9)
		}
	}
	Label(name + "_store")
	for i := 0; i < h; i++ {
		VMOVUPS(acc(i, 0), Mem{Base: R8})
		VMOVUPS(acc(i, 1), Mem{Base: R8, Disp: 32})
		ADDQ(RDX, R8) // after the last row: the next tile's first
	}
	DECQ(R10)
	JNZ(LabelRef(name + "_tile"))
	VZEROUPPER()
	RET()
}

// rowMem addresses row i (0..3) of four rows from base, with stride ld and
// ld3 = 3*ld in bytes.
func rowMem(base, ld, ld3 Register, i int) Mem {
	switch i {
	case 0:
		return Mem{Base: base}
	case 1:
		return Mem{Base: base, Index: ld, Scale: 1}
	case 2:
		return Mem{Base: base, Index: ld, Scale: 2}
	default:
		return Mem{Base: base, Index: ld3, Scale: 1}
	}
}

// packA6x256 emits the AVX2 packing of a full 6-row sliver of an
// untransposed A: n8 groups of 8 columns, each transposed into 8 groups of
// 6 floats. Rows 0-3 of each column come from a 4x4 transpose inside the
// 128-bit lanes (one 16-byte store), rows 4-5 from one interleave (one
// 8-byte store).
func packA6x256() {
	name := "packA6x256"
	TEXT(name, NOSPLIT, "func(n8 int, a *float32, lda int, dst *float32)")
	Pragma("noescape")
	Doc(name + " packs 8*n8 columns of 6 rows of A (row stride lda) into dst as groups of 6 floats (AVX2).")
	Load(Param("n8"), RCX)
	Load(Param("a"), R8)
	Load(Param("lda"), R9)
	Load(Param("dst"), RDI)
	SHLQ(U8(2), R9)
	LEAQ(Mem{Base: R9, Index: R9, Scale: 2}, R10) // 3*lda
	LEAQ(Mem{Base: R8, Index: R9, Scale: 4}, R11) // row 4
	r := []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5}
	t := []VecPhysical{Y6, Y7, Y8, Y9}
	u := []VecPhysical{Y10, Y11, Y12, Y13}
	v := []VecPhysical{Y14, Y15}
	Label(name + "_loop")
	TESTQ(RCX, RCX)
	JZ(LabelRef(name + "_done"))
	for i := 0; i < 4; i++ {
		VMOVUPS(rowMem(R8, R9, R10, i), r[i])
	}
	VMOVUPS(Mem{Base: R11}, r[4])
	VMOVUPS(Mem{Base: R11, Index: R9, Scale: 1}, r[5])
	VUNPCKLPS(r[1], r[0], t[0]) // r0c0 r1c0 r0c1 r1c1 | c4 c5
	VUNPCKHPS(r[1], r[0], t[1]) // r0c2 r1c2 r0c3 r1c3 | c6 c7
	VUNPCKLPS(r[3], r[2], t[2])
	VUNPCKHPS(r[3], r[2], t[3])
	VSHUFPS(U8(0x44), t[2], t[0], u[0]) // rows 0-3 of column 0 | 4
	VSHUFPS(U8(0xee), t[2], t[0], u[1]) // column 1 | 5
	VSHUFPS(U8(0x44), t[3], t[1], u[2]) // column 2 | 6
	VSHUFPS(U8(0xee), t[3], t[1], u[3]) // column 3 | 7
	VUNPCKLPS(r[5], r[4], v[0])         // r4c0 r5c0 r4c1 r5c1 | c4 c5
	VUNPCKHPS(r[5], r[4], v[1])         // r4c2 r5c2 r4c3 r5c3 | c6 c7
	col := func(c int) int { return c * 6 * 4 }
	for q := 0; q < 4; q++ {
		VMOVUPS(u[q].AsX(), Mem{Base: RDI, Disp: col(q)})
		VEXTRACTF128(U8(1), u[q], Mem{Base: RDI, Disp: col(q + 4)})
	}
	for h := 0; h < 2; h++ {
		lo := v[h].AsX()
		VMOVLPS(lo, Mem{Base: RDI, Disp: col(2*h) + 16})
		VMOVHPS(lo, Mem{Base: RDI, Disp: col(2*h+1) + 16})
		VEXTRACTF128(U8(1), v[h], r[0].AsX())
		VMOVLPS(r[0].AsX(), Mem{Base: RDI, Disp: col(2*h+4) + 16})
		VMOVHPS(r[0].AsX(), Mem{Base: RDI, Disp: col(2*h+5) + 16})
	}
	ADDQ(U8(32), R8)
	ADDQ(U8(32), R11)
	ADDQ(U32(8*6*4), RDI)
	DECQ(RCX)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// packBT8x256 emits the AVX2 packing of 8 columns of a transposed B: for
// each of n8 groups of 8 steps p, the 8x8 block whose row j is
// b[j*ldb + p0 : j*ldb + p0 + 8] (row j of the stored B is column j of
// op(B)) is transposed so that step p's 8 values land at dst[p*16 :
// p*16+8], the layout of a packed 16-column B sliver.
func packBT8x256() {
	name := "packBT8x256"
	TEXT(name, NOSPLIT, "func(n8 int, b *float32, ldb int, dst *float32)")
	Pragma("noescape")
	Doc(name + " packs 8*n8 steps of 8 columns of a transposed B (row stride ldb) into a 16-wide packed sliver (AVX2).")
	Load(Param("n8"), RCX)
	Load(Param("b"), R8)
	Load(Param("ldb"), R9)
	Load(Param("dst"), RDI)
	SHLQ(U8(2), R9)
	LEAQ(Mem{Base: R9, Index: R9, Scale: 2}, R10) // 3*ldb
	LEAQ(Mem{Base: R8, Index: R9, Scale: 4}, R11) // row 4
	r := make([]VecPhysical, 8)
	t := make([]VecPhysical, 8)
	for i := range r {
		r[i], t[i] = ymm(i), ymm(8+i)
	}
	Label(name + "_loop")
	TESTQ(RCX, RCX)
	JZ(LabelRef(name + "_done"))
	for i := 0; i < 8; i++ {
		base := R8
		if i >= 4 {
			base = R11
		}
		VMOVUPS(rowMem(base, R9, R10, i%4), r[i])
	}
	// Rows j hold steps s0..s7 of column j.
	for i := 0; i < 4; i++ {
		VUNPCKLPS(r[2*i+1], r[2*i], t[2*i])   // j s0 j' s0 j s1 j' s1 | s4 s5
		VUNPCKHPS(r[2*i+1], r[2*i], t[2*i+1]) // s2 s3 | s6 s7
	}
	for h := 0; h < 2; h++ {
		b := 4 * h                                // columns 4h..4h+3
		VSHUFPS(U8(0x44), t[b+2], t[b], r[b])     // step 0 | 4
		VSHUFPS(U8(0xee), t[b+2], t[b], r[b+1])   // step 1 | 5
		VSHUFPS(U8(0x44), t[b+3], t[b+1], r[b+2]) // step 2 | 6
		VSHUFPS(U8(0xee), t[b+3], t[b+1], r[b+3]) // step 3 | 7
	}
	// r[q] (columns 0-3) and r[4+q] (columns 4-7) hold steps q and q+4.
	for q := 0; q < 4; q++ {
		VPERM2F128(U8(0x20), r[4+q], r[q], t[q])
		VPERM2F128(U8(0x31), r[4+q], r[q], t[4+q])
	}
	for s := 0; s < 8; s++ {
		VMOVUPS(t[s], Mem{Base: RDI, Disp: s * nr256 * 4})
	}
	ADDQ(U8(32), R8)
	ADDQ(U8(32), R11)
	ADDQ(U32(8*nr256*4), RDI)
	DECQ(RCX)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// gatherRows256 emits the AVX2 copies of kc rows of up to 16 floats (the
// width of an AVX2 B sliver), as gatherRows512 does for 32: the filling
// one zeroes columns w and on (masked loads), the partial one leaves them
// (masked stores).
func gatherRows256() {
	gatherRows256Variant(maskTable256(), "gatherRows256", true)
	gatherRows256Variant(maskTable256(), "gatherRowsPart256", false)
	gatherRowsSplit256(maskTable256())
}

// gatherRowsSplit256 emits the AVX2 copy of kc 16-float rows from two
// sources: row p's columns below w1 from a[offs[p]:], the others from
// b[offs[p]:]. A convolution's B sliver whose columns run from the end of
// one sample into the next is one call: two full loads and a blend per
// vector, where GatherRowsPart takes a call per sample and stores the
// partial rows piece by piece.
func gatherRowsSplit256(tbl Mem) {
	TEXT("gatherRowsSplit256", NOSPLIT, "func(kc int, a, b *float32, offs *int, w1 int, dst *float32)")
	Pragma("noescape")
	Doc("gatherRowsSplit256 copies kc 16-float rows into dst, row p's columns below w1 from a[offs[p]:] and the others from b[offs[p]:] (AVX2).")
	kc := Load(Param("kc"), GP64()).(GPVirtual)
	a := Load(Param("a"), GP64()).(GPVirtual)
	b := Load(Param("b"), GP64()).(GPVirtual)
	offs := Load(Param("offs"), GP64()).(GPVirtual)
	w1 := Load(Param("w1"), GP64()).(GPVirtual)
	dst := Load(Param("dst"), GP64()).(GPVirtual)
	m := laneMasks256(tbl, w1, 2)
	mlo, mhi := m[0], m[1]
	o := GP64()
	lo, hi := YMM(), YMM()
	Label("gatherRowsSplit256_loop")
	TESTQ(kc, kc)
	JZ(LabelRef("gatherRowsSplit256_done"))
	MOVQ(Mem{Base: offs}, o)
	VMOVUPS(Mem{Base: b, Index: o, Scale: 4}, lo)
	VMOVUPS(Mem{Base: b, Index: o, Scale: 4, Disp: 32}, hi)
	// Where the mask is set, take a's lane.
	VBLENDVPS(mlo, Mem{Base: a, Index: o, Scale: 4}, lo, lo)
	VBLENDVPS(mhi, Mem{Base: a, Index: o, Scale: 4, Disp: 32}, hi, hi)
	VMOVUPS(lo, Mem{Base: dst})
	VMOVUPS(hi, Mem{Base: dst, Disp: 32})
	ADDQ(U8(8), offs)
	ADDQ(U8(64), dst)
	DECQ(kc)
	JMP(LabelRef("gatherRowsSplit256_loop"))
	Label("gatherRowsSplit256_done")
	VZEROUPPER()
	RET()
}

// laneMasks256 loads from tbl (maskTable256) the masks of the first w
// (0..8n) lanes of n (1 or 2) ymm vectors: lane i is set when i < w. The
// table holds 16 ones then 16 zeros, read from entry 16-w.
func laneMasks256(tbl Mem, w GPVirtual, n int) []VecVirtual {
	t := GP64()
	MOVQ(U32(16), t)
	SUBQ(w, t)
	tb := GP64()
	LEAQ(tbl, tb)
	m := make([]VecVirtual, n)
	for i := range m {
		m[i] = YMM()
		VMOVDQU(Mem{Base: tb, Index: t, Scale: 4, Disp: 32 * i}, m[i])
	}
	return m
}

// maskTable is the table of maskTable256, once emitted.
var maskTable *Mem

// maskTable256 returns a table of 16 int32 -1 then 16 zeros: the 16 floats
// from entry 16-n are the lane masks of the first n floats of two ymm
// vectors.
func maskTable256() Mem {
	if maskTable == nil {
		m := GLOBL("mask256", RODATA|NOPTR)
		for i := 0; i < 32; i++ {
			v := uint32(0)
			if i < 16 {
				v = 0xffffffff
			}
			DATA(4*i, U32(v))
		}
		maskTable = &m
	}
	return *maskTable
}

func gatherRows256Variant(tbl Mem, name string, fill bool) {
	TEXT(name, NOSPLIT, "func(kc int, src *float32, offs *int, w int, dst *float32)")
	Pragma("noescape")
	if fill {
		Doc(name + " copies kc rows of w <= 16 floats, row p from src[offs[p]:], into 16-float rows of dst, zero-filled (AVX2).")
	} else {
		Doc(name + " copies kc rows of w <= 16 floats, row p from src[offs[p]:], into the first w floats of 16-float rows of dst, leaving the rest (AVX2).")
	}
	kc := Load(Param("kc"), GP64()).(GPVirtual)
	src := Load(Param("src"), GP64()).(GPVirtual)
	offs := Load(Param("offs"), GP64()).(GPVirtual)
	w := Load(Param("w"), GP64()).(GPVirtual)
	dst := Load(Param("dst"), GP64()).(GPVirtual)
	m := laneMasks256(tbl, w, 2)
	mlo, mhi := m[0], m[1]
	o := GP64()
	lo, hi := YMM(), YMM()
	// Whole rows: plain loads and stores.
	CMPQ(w, U8(16))
	JNE(LabelRef(name + "_masked"))
	Label(name + "_full")
	TESTQ(kc, kc)
	JZ(LabelRef(name + "_done"))
	MOVQ(Mem{Base: offs}, o)
	VMOVUPS(Mem{Base: src, Index: o, Scale: 4}, lo)
	VMOVUPS(Mem{Base: src, Index: o, Scale: 4, Disp: 32}, hi)
	if fill {
		// Two slivers ahead, as gatherRows512 does.
		PREFETCHT0(Mem{Base: src, Index: o, Scale: 4, Disp: 128})
		PREFETCHT0(Mem{Base: src, Index: o, Scale: 4, Disp: 191})
	}
	VMOVUPS(lo, Mem{Base: dst})
	VMOVUPS(hi, Mem{Base: dst, Disp: 32})
	ADDQ(U8(8), offs)
	ADDQ(U8(64), dst)
	DECQ(kc)
	JMP(LabelRef(name + "_full"))
	Label(name + "_masked")
	TESTQ(kc, kc)
	JZ(LabelRef(name + "_done"))
	MOVQ(Mem{Base: offs}, o)
	if fill {
		VMASKMOVPS(Mem{Base: src, Index: o, Scale: 4}, mlo, lo)
		VMASKMOVPS(Mem{Base: src, Index: o, Scale: 4, Disp: 32}, mhi, hi)
		VMOVUPS(lo, Mem{Base: dst})
		VMOVUPS(hi, Mem{Base: dst, Disp: 32})
	} else {
		VMASKMOVPS(Mem{Base: src, Index: o, Scale: 4}, mlo, lo)
		VMASKMOVPS(Mem{Base: src, Index: o, Scale: 4, Disp: 32}, mhi, hi)
		storeFirst(name, w, dst, lo, hi)
	}
	ADDQ(U8(8), offs)
	ADDQ(U8(64), dst)
	DECQ(kc)
	JMP(LabelRef(name + "_masked"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// storeFirst stores the first w (1..15) floats of lo:hi at dst with plain
// stores of 8, 4, 2 and 1 floats: AVX2's masked store (VMASKMOVPS) costs
// hundreds of cycles on AMD's Zen 2 and 3. The branches depend on w alone,
// the same for every row of a call.
func storeFirst(name string, w, dst GPVirtual, lo, hi VecVirtual) {
	rem, off := GP64(), GP64()
	cur := YMM()
	MOVQ(w, rem)
	MOVQ(dst, off)
	VMOVUPS(lo, cur)
	CMPQ(rem, U8(8))
	JL(LabelRef(name + "_s4"))
	VMOVUPS(lo, Mem{Base: off})
	VMOVUPS(hi, cur)
	ADDQ(U8(32), off)
	SUBQ(U8(8), rem)
	Label(name + "_s4")
	CMPQ(rem, U8(4))
	JL(LabelRef(name + "_s2"))
	VMOVUPS(cur.AsX(), Mem{Base: off})
	VEXTRACTF128(U8(1), cur, cur.AsX())
	ADDQ(U8(16), off)
	SUBQ(U8(4), rem)
	Label(name + "_s2")
	CMPQ(rem, U8(2))
	JL(LabelRef(name + "_s1"))
	VMOVLPS(cur.AsX(), Mem{Base: off})
	VPSRLDQ(U8(8), cur.AsX(), cur.AsX())
	ADDQ(U8(8), off)
	SUBQ(U8(2), rem)
	Label(name + "_s1")
	TESTQ(rem, rem)
	JZ(LabelRef(name + "_sdone"))
	VMOVSS(cur.AsX(), Mem{Base: off})
	Label(name + "_sdone")
}
