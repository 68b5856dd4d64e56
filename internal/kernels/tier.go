package kernels

import "os"

//go:generate sh -c "cd _gen && go run . -out ../kernels_amd64.s -stubs ../kernels_stub_amd64.go -pkg kernels"

// tier is one implementation level of every kernel: AVX-512, AVX2+FMA or
// pure Go. The package picks one at start-up; tests run each in turn.
type tier struct {
	name string
	gemm gemmKernel

	axpy         func(alpha float32, x, y []float32)
	scale        func(alpha float32, x []float32)
	add          func(dst, a, b []float32)
	mul          func(dst, a, b []float32)
	relu         func(dst, x []float32)
	addRelu      func(dst, a, b []float32)
	reluBackward func(dst, g, x []float32)
	adam         func(p, g, m, v []float32, beta1, beta2, stepSize, sqrtBias2, eps float32)

	affine             func(dst, x []float32, a, b float32)
	affineRelu         func(dst, x []float32, a, b float32)
	bnBackward         func(dst, g, x []float32, c1, c2, c3 float32)
	bnBackwardMask     func(dst, g, x []float32, a, b, c1, c2, c3 float32)
	maxPool2x2         func(rows, ow, stride, w int, x, dst []float32, code []uint8)
	maxPool2x2Backward func(rows, ow, stride, w int, gy []float32, code []uint8, gx []float32)

	winoInputRows  func(dst []float32, ds int, src []float32, ss, n int)
	winoOutputRows func(dst []float32, ds int, src []float32, ss, n int)
	winoSplit      func(dst []float32, ds int, src []float32, n int)
	winoMerge      func(dst, src []float32, ss, n int)
}

// genericTier is the pure-Go tier, available everywhere.
var genericTier = &tier{
	name:         "generic",
	gemm:         gemmKernel{mr: genericMR, nr: genericNR, tile: tileGeneric},
	axpy:         axpyGo,
	scale:        scaleGo,
	add:          addGo,
	mul:          mulGo,
	relu:         reluGo,
	addRelu:      addReluGo,
	reluBackward: reluBackwardGo,
	adam:         adamGo,

	affine:             affineGo,
	affineRelu:         affineReluGo,
	bnBackward:         bnBackwardGo,
	bnBackwardMask:     bnBackwardMaskGo,
	maxPool2x2:         maxPool2x2Go,
	maxPool2x2Backward: maxPool2x2BackwardGo,

	winoInputRows:  winoInputRowsGo,
	winoOutputRows: winoOutputRowsGo,
	winoSplit:      winoSplitGo,
	winoMerge:      winoMergeGo,
}

// tiers lists the tiers this CPU and build support, best first; the last is
// always genericTier. active is the one the exported kernels use.
var (
	tiers  []*tier
	active *tier
)

func init() {
	tiers = append(cpuTiers(), genericTier)
	active = pickTier(tiers, os.Getenv("FASTGO_CPU"))
}

// pickTier returns the tier named want if the machine supports it, else the
// best one: FASTGO_CPU can lower the tier but never raise it.
func pickTier(avail []*tier, want string) *tier {
	for _, t := range avail {
		if t.name == want {
			return t
		}
	}
	return avail[0]
}

// Tier reports the kernel tier in use: "avx512", "avx2" or "generic". It is
// chosen once at start-up from the CPU's features; the environment variable
// FASTGO_CPU=avx512|avx2|generic selects a lower tier, and the purego build
// tag leaves only "generic".
func Tier() string { return active.name }
