package autograd

import (
	"fmt"
	"os"
)

// The choice of algorithm for each float32 convolution and pass.
//
// Two algorithms compute a float32 Conv2d: GEMMs over the unfolded input
// ("im2col + GEMM": nn_conv32.go, nn_conv32same.go, or the stored im2col
// matrix of nn_conv.go for small shapes) and Winograd F(4x4, 3x3)
// (nn_conv_winograd.go), which only applies to 3x3 kernels with stride 1,
// dilation 1, one group and padding at most 2. float64 always takes
// im2col + GEMM (it serves the gradient checks).
//
// The choice is a fixed rule on the shapes (winogradChosen), so a run is
// repeatable bit for bit. The environment variable FASTGO_CONV overrides it
// for tests and benchmarks: FASTGO_CONV=im2col never uses Winograd,
// FASTGO_CONV=winograd uses it for every convolution it applies to.

// convPass is one of the three computations of a convolution.
type convPass int

const (
	passForward    convPass = iota // Y from X and W
	passInputGrad                  // dX from dY and W
	passWeightGrad                 // dW from X and dY
)

// The values of convAlgoForce.
const (
	convAlgoAuto     = iota // the rule
	convAlgoIm2col          // never Winograd
	convAlgoWinograd        // Winograd whenever it applies
)

// convAlgoForce is set from FASTGO_CONV when the package loads; tests set
// it through setConvAlgo.
var convAlgoForce = convAlgoFromEnv(os.Getenv("FASTGO_CONV"))

// convAlgoFromEnv parses FASTGO_CONV; an unknown value is reported once on
// stderr and means the rule.
func convAlgoFromEnv(v string) int {
	switch v {
	case "", "auto":
		return convAlgoAuto
	case "im2col":
		return convAlgoIm2col
	case "winograd":
		return convAlgoWinograd
	}
	fmt.Fprintf(os.Stderr, "fastgo: FASTGO_CONV=%q is not one of auto, im2col, winograd; using auto\n", v)
	return convAlgoAuto
}

// winograd reports whether pass of the float32 convolution p runs on
// Winograd F(4x4, 3x3).
func (p *convPlan) winograd(pass convPass) bool {
	if !p.winoable() {
		return false
	}
	switch convAlgoForce {
	case convAlgoIm2col:
		return false
	case convAlgoWinograd:
		return true
	}
	return winogradChosen(p, pass)
}

// winogradMinChannels is the fewest input and output channels for which
// the default choice is Winograd.
const winogradMinChannels = 64

// winogradChosen is the rule for the default choice: Winograd when the
// convolution has at least winogradMinChannels input and output channels,
// for every pass. The GEMMs of Winograd reduce over the input channels
// (forward), the output channels (dX) or the tiles (dW); with few
// channels they are too short to pay for the transforms.
//
// Measured with BenchmarkConvAlgo on an AMD Zen 3 (AVX2 tier, 2 threads,
// a machine shared with other jobs; medians of 3; GFLOP/s counted as the
// direct convolution's work, im2col + GEMM -> Winograd):
//
//	shape (batch)             forward       dX            dW
//	3->64 32x32 (64)          15 -> 6       13 -> 4       15 -> 9
//	32->64 14x14 (128)        35 -> 43      26 -> 18      33 -> 27
//	64 32x32 (64)             48 -> 84      49 -> 85      45 -> 91
//	128 16x16 (64)            52 -> 128     57 -> 120     72 -> 126
//	256 8x8 (64)              61 -> 130     37 -> 124     71 -> 84
//	512 4x4 (64)              39 -> 69      37 -> 68      36 -> 39
//	64 56x56 (32)             35 -> 45      37 -> 69      40 -> 82
//	128 28x28 (32)            54 -> 114     55 -> 113     71 -> 78
//	256 14x14 (32)            47 -> 80      49 -> 67      51 -> 91
//	512 7x7 (32)              52 -> 78      35 -> 84      57 -> 66
//
// With 8 MiB chunks of tiles, the 512-channel 7x7 weight gradient was
// slower on Winograd (143 -> 112 on a quiet machine): chunks as large as the
// transformed kernel fixed it (winoChunkPerWeight).
func winogradChosen(p *convPlan, _ convPass) bool {
	return p.cin >= winogradMinChannels && p.cout >= winogradMinChannels
}
