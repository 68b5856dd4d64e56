package kernels

// The element-wise kernels below are the API the rest of fastgo calls. Their
// bodies here are the pure-Go references; SIMD tiers replace them through the
// dispatch of this package. All slices given to one call must have the same
// length unless stated otherwise; dst may alias an input.

// Axpy computes y += alpha*x.
func Axpy(alpha float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += alpha * v
	}
}

// Scale computes x *= alpha.
func Scale(alpha float32, x []float32) {
	for i := range x {
		x[i] *= alpha
	}
}

// Add computes dst = a + b.
func Add(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] + b[i]
	}
}

// Mul computes dst = a * b.
func Mul(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] * b[i]
	}
}

// Relu computes dst = max(x, 0).
func Relu(dst, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		if v > 0 {
			dst[i] = v
		} else {
			dst[i] = 0
		}
	}
}

// ReluBackward computes dst = g where x > 0, else 0 (x is ReLU's input or output).
func ReluBackward(dst, g, x []float32) {
	g, x = g[:len(dst)], x[:len(dst)]
	for i := range dst {
		if x[i] > 0 {
			dst[i] = g[i]
		} else {
			dst[i] = 0
		}
	}
}

// AdamUpdate applies one Adam step to param p with gradient g and moments m, v:
//
//	m = beta1*m + (1-beta1)*g
//	v = beta2*v + (1-beta2)*g*g
//	p -= stepSize * m / (sqrt(v)/sqrtBias2 + eps)
//
// where stepSize = lr/(1-beta1^t) and sqrtBias2 = sqrt(1-beta2^t) are computed
// by the caller (PyTorch's formulation). Weight decay is the caller's.
func AdamUpdate(p, g, m, v []float32, beta1, beta2, stepSize, sqrtBias2, eps float32) {
	g, m, v = g[:len(p)], m[:len(p)], v[:len(p)]
	for i := range p {
		gi := g[i]
		m[i] = beta1*m[i] + (1-beta1)*gi
		v[i] = beta2*v[i] + (1-beta2)*gi*gi
		p[i] -= stepSize * m[i] / (sqrt32(v[i])/sqrtBias2 + eps)
	}
}
