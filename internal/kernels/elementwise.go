package kernels

import (
	"math"

	"github.com/fastgo-ml/fastgo"
)

// The element-wise kernels below are the API the rest of fastgo calls. Each
// dispatches to the active tier (see Tier); the pure-Go references they are
// tested against are the *Go functions further down. The inputs of one call
// must be at least as long as its output (dst, or y for Axpy); only that
// length is used. dst may alias an input. A shorter input panics.

// Axpy computes y += alpha*x over len(x) elements.
func Axpy(alpha float32, x, y []float32) {
	if len(y) < len(x) {
		panic(fastgo.Errorf("kernels.Axpy: len(y)=%d < len(x)=%d", len(y), len(x)))
	}
	active.axpy(alpha, x, y[:len(x)])
}

// Scale computes x *= alpha.
func Scale(alpha float32, x []float32) {
	active.scale(alpha, x)
}

// Add computes dst = a + b.
func Add(dst, a, b []float32) {
	check2("kernels.Add", dst, a, b)
	active.add(dst, a[:len(dst)], b[:len(dst)])
}

// Mul computes dst = a * b.
func Mul(dst, a, b []float32) {
	check2("kernels.Mul", dst, a, b)
	active.mul(dst, a[:len(dst)], b[:len(dst)])
}

// Relu computes dst = max(x, 0); a NaN in x gives 0.
func Relu(dst, x []float32) {
	if len(x) < len(dst) {
		panic(fastgo.Errorf("kernels.Relu: len(x)=%d < len(dst)=%d", len(x), len(dst)))
	}
	active.relu(dst, x[:len(dst)])
}

// AddRelu computes dst = max(a + b, 0) in one pass (the join of a residual
// block); a NaN sum gives 0, as Relu.
func AddRelu(dst, a, b []float32) {
	check2("kernels.AddRelu", dst, a, b)
	active.addRelu(dst, a[:len(dst)], b[:len(dst)])
}

// ReluBackward computes dst = g where x > 0, else 0 (x is ReLU's input or output).
func ReluBackward(dst, g, x []float32) {
	check2("kernels.ReluBackward", dst, g, x)
	active.reluBackward(dst, g[:len(dst)], x[:len(dst)])
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
	n := len(p)
	if len(g) < n || len(m) < n || len(v) < n {
		panic(fastgo.Errorf("kernels.AdamUpdate: len(p)=%d but len(g)=%d, len(m)=%d, len(v)=%d", n, len(g), len(m), len(v)))
	}
	active.adam(p, g[:n], m[:n], v[:n], beta1, beta2, stepSize, sqrtBias2, eps)
}

// check2 panics unless a and b are at least as long as dst.
func check2(fn string, dst, a, b []float32) {
	if len(a) < len(dst) || len(b) < len(dst) {
		panic(fastgo.Errorf("%s: inputs of length %d and %d shorter than len(dst)=%d", fn, len(a), len(b), len(dst)))
	}
}

// The pure-Go references. They are also the generic tier and finish the
// tails of the AVX2 tier. Slices have equal lengths here.

func axpyGo(alpha float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += alpha * v
	}
}

func scaleGo(alpha float32, x []float32) {
	for i := range x {
		x[i] *= alpha
	}
}

func addGo(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] + b[i]
	}
}

func mulGo(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] * b[i]
	}
}

// positive returns all ones when v > 0 (NaN is not) and zero otherwise,
// without a branch: the Go loops below run the tails of the AVX2 kernels,
// a few elements of every short row (a 14-wide row leaves 6), where a
// mispredicted "if v > 0" costs more than the whole vector part. v > 0
// holds exactly for the bit patterns 1 to 0x7f800000 (the positive
// subnormals, normals and +Inf): t = bits-1 must lie in [0, 0x7f800000).
func positive(v float32) uint32 {
	t := int64(math.Float32bits(v)) - 1
	return uint32(((t - 0x7f800000) & ^t) >> 63)
}

// maskPositive returns v when m > 0 (by positive), else +0.
func maskPositive(v, m float32) float32 {
	return math.Float32frombits(math.Float32bits(v) & positive(m))
}

func reluGo(dst, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] = maskPositive(v, v)
	}
}

func addReluGo(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		v := a[i] + b[i]
		dst[i] = maskPositive(v, v)
	}
}

func reluBackwardGo(dst, g, x []float32) {
	g, x = g[:len(dst)], x[:len(dst)]
	for i := range dst {
		dst[i] = maskPositive(g[i], x[i])
	}
}

func adamGo(p, g, m, v []float32, beta1, beta2, stepSize, sqrtBias2, eps float32) {
	g, m, v = g[:len(p)], m[:len(p)], v[:len(p)]
	omb1, omb2 := 1-beta1, 1-beta2
	for i := range p {
		gi := g[i]
		m[i] = beta1*m[i] + omb1*gi
		v[i] = beta2*v[i] + omb2*gi*gi
		p[i] -= stepSize * m[i] / (sqrt32(v[i])/sqrtBias2 + eps)
	}
}
