package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchSgemm times C = A*op(B) for one shape and reports GFLOP/s.
func benchSgemm(b *testing.B, transA, transB bool, m, n, k int) {
	rng := rand.New(rand.NewPCG(1, 1))
	a, bb, c := randSlice(rng, m*k), randSlice(rng, k*n), make([]float32, m*n)
	lda, ldb := k, n
	if transA {
		lda = m
	}
	if transB {
		ldb = k
	}
	Sgemm(transA, transB, m, n, k, 1, a, lda, bb, ldb, 0, c, n)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Sgemm(transA, transB, m, n, k, 1, a, lda, bb, ldb, 0, c, n)
	}
	b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func BenchmarkSgemmSquare(b *testing.B) {
	for _, n := range []int{128, 256, 512, 1024} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) { benchSgemm(b, false, false, n, n, n) })
	}
}

// BenchmarkSgemmConv times the GEMMs of a 3x3 convolution through im2col
// (batch 128 of 28x28 and 14x14 maps, SmallCNN's layers): forward
// W[Cout x Cin*9] * cols[Cin*9 x HW], input gradient Wᵀ * dY, weight
// gradient dY * colsᵀ.
func BenchmarkSgemmConv(b *testing.B) {
	for _, s := range []struct {
		name           string
		transA, transB bool
		m, n, k        int
	}{
		{"conv1-fwd-32x784x9", false, false, 32, 784, 9},
		{"conv2-fwd-64x196x288", false, false, 64, 196, 288},
		{"conv2-fwd-batched-64x25088x288", false, false, 64, 196 * 128, 288},
		{"conv2-dX-288x196x64", true, false, 288, 196, 64},
		{"conv2-dW-64x288x196", false, true, 64, 288, 196},
		{"fc1-fwd-128x128x3136", false, true, 128, 128, 3136},
	} {
		b.Run(s.name, func(b *testing.B) { benchSgemm(b, s.transA, s.transB, s.m, s.n, s.k) })
	}
}

// BenchmarkSgemmMicroKernel times each tier's micro-kernel alone on packed
// slivers that stay in L1 (kc=256, a full tile): the ceiling of the SGEMM.
func BenchmarkSgemmMicroKernel(b *testing.B) {
	for _, tr := range tiers {
		b.Run(tr.name, func(b *testing.B) {
			g := &tr.gemm
			const kc = 256
			rng := rand.New(rand.NewPCG(1, 1))
			a, bb, c := randSlice(rng, kc*g.mr), randSlice(rng, kc*g.nr), make([]float32, g.mr*g.nr)
			for i := 0; i < b.N; i++ {
				g.tile(kc, a, bb, c, g.nr, g.mr, g.nr, 1, 1)
			}
			b.ReportMetric(2*float64(kc*g.mr*g.nr)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkSgemmConvChunk times the GEMMs of SmallCNN's conv2 as Conv2d
// issues them: a chunk of 8 samples unfolded side by side (N = 8*196).
func BenchmarkSgemmConvChunk(b *testing.B) {
	const ld = 8 * 196
	for _, s := range []struct {
		name           string
		transA, transB bool
		m, n, k        int
	}{
		{"fwd-64x1568x288", false, false, 64, ld, 288},
		{"dX-288x1568x64", true, false, 288, ld, 64},
		{"dW-64x288x1568", false, true, 64, 288, ld},
	} {
		b.Run(s.name, func(b *testing.B) { benchSgemm(b, s.transA, s.transB, s.m, s.n, s.k) })
	}
}

// BenchmarkSgemmResNet times the GEMMs of the W4 ResNet-18's 3x3 convs as
// Conv2d issues them (forward W * cols over a chunk of samples, the input
// gradient Wᵀ * dY, the transposed weight gradient cols * dYᵀ).
func BenchmarkSgemmResNet(b *testing.B) {
	for _, s := range []struct {
		name           string
		transA, transB bool
		m, n, k        int
	}{
		{"layer1-fwd-64x4096x576", false, false, 64, 4096, 576},
		{"layer1-dX-576x4096x64", true, false, 576, 4096, 64},
		{"layer1-dWt-576x64x4096", false, true, 576, 64, 4096},
		{"layer3-fwd-256x1024x2304", false, false, 256, 1024, 2304},
		{"layer4-fwd-512x256x4608", false, false, 512, 256, 4608},
	} {
		b.Run(s.name, func(b *testing.B) { benchSgemm(b, s.transA, s.transB, s.m, s.n, s.k) })
	}
}
