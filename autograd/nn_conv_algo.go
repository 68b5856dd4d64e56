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

// winogradChosen is the rule for the default choice.
func winogradChosen(p *convPlan, pass convPass) bool {
	return p.cin >= 16 && p.cout >= 16
}
