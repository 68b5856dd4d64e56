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
