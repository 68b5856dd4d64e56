//go:build !amd64 || purego

package kernels

// cpuTiers returns no assembly tiers: this build is pure Go.
func cpuTiers() []*tier { return nil }

func bnStatsTier(n int, x []float32, shift float32, p *partials) { bnStatsGo(x[:n], 0, shift, p) }

func sumDotTier(n int, g, x []float32, mu float32, p *partials) { sumDotGo(g[:n], x[:n], 0, mu, p) }

func sumDotMaskTier(n int, g, x []float32, mu, a, b float32, p *partials) {
	sumDotMaskGo(g[:n], x[:n], 0, mu, a, b, p)
}

func gatherRowsTier(kc int, src []float32, offs []int, w, nr int, dst []float32) bool { return false }

func gatherRowsPartTier(kc int, src []float32, offs []int, w, nr int, dst []float32) bool {
	return false
}

func maxPool2x2BackwardOverTier(rows, ow, stride, w int, gy []float32, code []uint8, gx []float32) bool {
	return false
}

func gatherRowsSplitTier(kc int, a, b []float32, offs []int, w1, nr int, dst []float32) bool {
	return false
}

func conv3x3Tier(dst, src []float32, p *Conv3x3Plan, k *[9]float32, bias float32) bool { return false }

func conv3x3GradTier(s *[9]float32, src, gy []float32, p *Conv3x3Plan) bool { return false }
