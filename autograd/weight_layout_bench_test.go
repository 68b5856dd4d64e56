package autograd

import "testing"

// The per-step weight re-layouts of a ResNet's last stage (512 -> 512, 3x3):
// the transposed weight gradient back to [Cout, Cin*KH*KW], and the flipped
// kernel of the input gradient.
func resnetStage4Plan() *convPlan {
	p := &convPlan{n: 1, cin: 512, h: 4, w: 4, cout: 512, groups: 1, oh: 4, ow: 4, cinG: 512, coutG: 512, kG: 512 * 9}
	p.geom.KH, p.geom.KW = 3, 3
	return p
}

func BenchmarkConvTransposeWeight(b *testing.B) {
	p := resnetStage4Plan()
	src := make([]float32, p.kG*p.coutG)
	dst := make([]float32, len(src))
	b.SetBytes(int64(8 * len(src)))
	for b.Loop() {
		convTransposeWeight(p, src, dst)
	}
}

func BenchmarkFlipKernel(b *testing.B) {
	p := resnetStage4Plan()
	w := make([]float32, p.kG*p.coutG)
	b.SetBytes(int64(8 * len(w)))
	for b.Loop() {
		flipKernel(p, w).Release()
	}
}
