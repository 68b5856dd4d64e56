package kernels

import "fmt"

// WinoInputRows computes the column transform of the Winograd F(4x4, 3x3)
// input, Bᵀ d, for n columns at once: for each column k < n, with
// a_i = src[i*ss+k] (i < 6), it writes dst[i*ds+k] = (Bᵀ a)_i:
//
//	4a0 - 5a2 + a4, a3 + a4 - 4(a1+a2), 4(a1-a2) - a3 + a4,
//	2(a3-a1) - a2 + a4, 2(a1-a3) - a2 + a4, 4a1 - 5a3 + a5
//
// each product rounded before the sums (no fused multiply-add), in this
// order, so that every tier gives bit-identical results. The strides are in
// floats; dst must not overlap src.
func WinoInputRows(dst []float32, ds int, src []float32, ss, n int) {
	checkRows("kernels.WinoInputRows", dst, ds, 6, src, ss, n)
	active.winoInputRows(dst, ds, src, ss, n)
}

// WinoOutputRows computes the column transform of the Winograd F(4x4, 3x3)
// output, Aᵀ m, for n columns at once: for each column k < n, with
// m_i = src[i*ss+k] (i < 6), a = m1+m2, b = m1-m2, c = m3+m4, d = m3-m4, it
// writes dst[i*ds+k] (i < 4) = m0 + a + c, b + 2d, a + 4c, b + 8d + m5,
// each product rounded before the sums, in this order, so that every tier
// gives bit-identical results. The strides are in floats; dst must not
// overlap src.
func WinoOutputRows(dst []float32, ds int, src []float32, ss, n int) {
	checkRows("kernels.WinoOutputRows", dst, ds, 4, src, ss, n)
	active.winoOutputRows(dst, ds, src, ss, n)
}

// WinoSplit writes dst[j*ds+t] = src[4t+j] for each j < 6 and tile t < n:
// the six-wide windows, four apart, of a row of Winograd F(4x4, 3x3) input
// tiles, transposed into six rows of n (the first gather of the input
// transform). src holds at least 4n+2 floats; with 4n+4 or more the AVX2
// kernel covers the last full group of eight tiles too. dst must not
// overlap src.
func WinoSplit(dst []float32, ds int, src []float32, n int) {
	if n < 0 || ds < n || (n > 0 && (len(src) < 4*n+2 || len(dst) < 5*ds+n)) {
		panic(fmt.Sprintf("kernels.WinoSplit: n %d, dst len %d stride %d, src len %d", n, len(dst), ds, len(src)))
	}
	if n > 0 {
		active.winoSplit(dst, ds, src, n)
	}
}

func winoSplitGo(dst []float32, ds int, src []float32, n int) {
	for j := 0; j < 6; j++ {
		row, s := dst[j*ds:j*ds+n], src[j:j+4*(n-1)+1]
		for t := range row {
			row[t] = s[4*t]
		}
	}
}

// WinoMerge writes dst[4t+k] = src[k*ss+t] for each k < 4 and tile t < n:
// four rows of the Winograd F(4x4, 3x3) output tiles' columns interleaved
// into one output row (the last step of the output transform, WinoSplit's
// inverse in four). dst must not overlap src.
func WinoMerge(dst, src []float32, ss, n int) {
	if n < 0 || ss < n || (n > 0 && (len(dst) < 4*n || len(src) < 3*ss+n)) {
		panic(fmt.Sprintf("kernels.WinoMerge: n %d, dst len %d, src len %d stride %d", n, len(dst), len(src), ss))
	}
	if n > 0 {
		active.winoMerge(dst, src, ss, n)
	}
}

func winoMergeGo(dst, src []float32, ss, n int) {
	dst = dst[:4*n]
	s0, s1, s2, s3 := src[:n], src[ss:ss+n], src[2*ss:2*ss+n], src[3*ss:3*ss+n]
	for t := range s0 {
		d := dst[4*t : 4*t+4 : 4*t+4]
		d[0], d[1], d[2], d[3] = s0[t], s1[t], s2[t], s3[t]
	}
}

func checkRows(op string, dst []float32, ds, outs int, src []float32, ss, n int) {
	if n < 0 || ds < 0 || ss < 0 || (n > 0 && (len(src) < 5*ss+n || len(dst) < (outs-1)*ds+n)) {
		panic(fmt.Sprintf("%s: n %d, dst len %d stride %d, src len %d stride %d", op, n, len(dst), ds, len(src), ss))
	}
}

func winoInputRowsGo(dst []float32, ds int, src []float32, ss, n int) {
	if n == 0 {
		return
	}
	s0, s1, s2 := src[:n], src[ss:][:n], src[2*ss:][:n]
	s3, s4, s5 := src[3*ss:][:n], src[4*ss:][:n], src[5*ss:][:n]
	r0, r1, r2 := dst[:n], dst[ds:][:n], dst[2*ds:][:n]
	r3, r4, r5 := dst[3*ds:][:n], dst[4*ds:][:n], dst[5*ds:][:n]
	for j := range r0 {
		a0, a1, a2, a3, a4, a5 := s0[j], s1[j], s2[j], s3[j], s4[j], s5[j]
		r0[j] = float32(4*a0) - float32(5*a2) + a4
		r1[j] = a3 + a4 - float32(4*(a1+a2))
		r2[j] = float32(4*(a1-a2)) - a3 + a4
		r3[j] = float32(2*(a3-a1)) - a2 + a4
		r4[j] = float32(2*(a1-a3)) - a2 + a4
		r5[j] = float32(4*a1) - float32(5*a3) + a5
	}
}

func winoOutputRowsGo(dst []float32, ds int, src []float32, ss, n int) {
	if n == 0 {
		return
	}
	s0, s1, s2 := src[:n], src[ss:][:n], src[2*ss:][:n]
	s3, s4, s5 := src[3*ss:][:n], src[4*ss:][:n], src[5*ss:][:n]
	y0, y1, y2, y3 := dst[:n], dst[ds:][:n], dst[2*ds:][:n], dst[3*ds:][:n]
	for j := range y0 {
		m0, m1, m2, m3, m4, m5 := s0[j], s1[j], s2[j], s3[j], s4[j], s5[j]
		a, b := m1+m2, m1-m2
		c, d := m3+m4, m3-m4
		y0[j] = m0 + a + c
		y1[j] = b + float32(2*d)
		y2[j] = a + float32(4*c)
		y3[j] = b + float32(8*d) + m5
	}
}
