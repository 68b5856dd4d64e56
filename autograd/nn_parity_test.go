package autograd

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/fastgo-ml/fastgo/tensor"
)

// The PyTorch 1.13 outputs and gradients in layers/testdata/parity.safetensors
// (written by layers/testdata/gen_parity.py) checked against the ops of this
// package in float32.

const nnParityFile = "../layers/testdata/parity.safetensors"

// nnParity is a parsed safetensors file: float32 tensors and int64 targets.
type nnParity struct {
	f32 map[string]*tensor.Tensor
	i64 map[string][]int
}

// nnLoadParity reads the fixture with a minimal safetensors decoder (8-byte
// little-endian header length, JSON header, raw little-endian data), or
// skips the test when the file is absent.
func nnLoadParity(t *testing.T) *nnParity {
	t.Helper()
	raw, err := os.ReadFile(nnParityFile)
	if os.IsNotExist(err) {
		t.Skipf("%s not present", nnParityFile)
	}
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(raw[:8])
	var header map[string]json.RawMessage
	if err := json.Unmarshal(raw[8:8+n], &header); err != nil {
		t.Fatal(err)
	}
	data := raw[8+n:]
	p := &nnParity{f32: map[string]*tensor.Tensor{}, i64: map[string][]int{}}
	for name, msg := range header {
		if name == "__metadata__" {
			continue
		}
		var info struct {
			Dtype   string `json:"dtype"`
			Shape   []int  `json:"shape"`
			Offsets [2]int `json:"data_offsets"`
		}
		if err := json.Unmarshal(msg, &info); err != nil {
			t.Fatal(err)
		}
		b := data[info.Offsets[0]:info.Offsets[1]]
		switch info.Dtype {
		case "F32":
			v := make([]float32, len(b)/4)
			for i := range v {
				v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			}
			p.f32[name] = tensor.FromSlice(v, info.Shape...)
		case "I64":
			v := make([]int, len(b)/8)
			for i := range v {
				v[i] = int(int64(binary.LittleEndian.Uint64(b[8*i:])))
			}
			p.i64[name] = v
		}
	}
	return p
}

func (p *nnParity) get(t *testing.T, name string) *tensor.Tensor {
	t.Helper()
	v, ok := p.f32[name]
	if !ok {
		t.Fatalf("parity tensor %q missing", name)
	}
	return v
}

// nnClose fails unless got and want agree within float32 tolerance.
func nnClose(t *testing.T, what string, got, want *tensor.Tensor) {
	t.Helper()
	if !tensor.SameShape(got.Shape(), want.Shape()) && got.Len() != want.Len() {
		t.Fatalf("%s: shape %v, PyTorch %v", what, got.Shape(), want.Shape())
	}
	for i, w := range want.Data() {
		g := got.Data()[i]
		if d := math.Abs(float64(g - w)); !(d <= 2e-5+2e-4*math.Abs(float64(w))) {
			t.Fatalf("%s[%d] = %v, PyTorch %v", what, i, g, w)
		}
	}
}

// nnParityCase runs op on the case's input and parameters (each requiring a
// gradient), back-propagates the case's projection r (or 1 for a scalar) and
// compares the output and every gradient with PyTorch's.
func nnParityCase(t *testing.T, p *nnParity, name string, params []string, op func(x *Value, ps []*Value) *Value) {
	t.Run(name, func(t *testing.T) {
		x := Param(p.get(t, name+".x").Clone())
		ps := make([]*Value, len(params))
		for i, pn := range params {
			if pn != "" {
				ps[i] = Param(p.get(t, name+".p."+pn).Clone())
			}
		}
		out := op(x, ps)
		nnClose(t, "out", out.Data(), p.get(t, name+".out"))
		r, ok := p.f32[name+".r"]
		if !ok {
			r = tensor.Full[float32](1, out.Shape()...)
		}
		out.BackwardWith(r.Reshape(out.Shape()...))
		nnClose(t, "gx", x.Grad(), p.get(t, name+".gx"))
		for i, pn := range params {
			if pn != "" {
				if g, ok := p.f32[name+".g."+pn]; ok {
					nnClose(t, "g."+pn, ps[i].Grad(), g)
				}
			}
		}
	})
}

func TestPyTorchParity(t *testing.T) {
	p := nnLoadParity(t)
	for _, c := range []struct {
		name string
		bias bool
		opts Conv2dOptions
	}{
		{"conv_s2p1", true, Conv2dOptions{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}}},
		{"conv_groups_dil", false, Conv2dOptions{Padding: [2]int{2, 2}, Dilation: [2]int{2, 2}, Groups: 2}},
		{"conv_depthwise", true, Conv2dOptions{Padding: [2]int{1, 1}, Groups: 3}},
		{"conv_1x1", false, Conv2dOptions{Stride: [2]int{2, 2}}},
	} {
		params := []string{"weight", ""}
		if c.bias {
			params[1] = "bias"
		}
		nnParityCase(t, p, c.name, params, func(x *Value, ps []*Value) *Value { return Conv2d(x, ps[0], ps[1], c.opts) })
	}
	nnParityCase(t, p, "linear", []string{"weight", "bias"}, func(x *Value, ps []*Value) *Value { return Linear(x, ps[0], ps[1]) })
	nnParityCase(t, p, "linear_nobias", []string{"weight", ""}, func(x *Value, ps []*Value) *Value { return Linear(x, ps[0], ps[1]) })
	for _, c := range []struct {
		name     string
		training bool
	}{{"bn2d_train", true}, {"bn2d_eval", false}, {"bn1d_train", true}} {
		rm := p.get(t, c.name+".p.running_mean").Clone()
		rv := p.get(t, c.name+".p.running_var").Clone()
		nnParityCase(t, p, c.name, []string{"weight", "bias"}, func(x *Value, ps []*Value) *Value {
			return BatchNorm(x, ps[0], ps[1], rm, rv, BatchNormOptions{Training: c.training, Momentum: 0.1, Eps: 1e-5})
		})
		if c.training {
			nnClose(t, c.name+" running_mean", rm, p.get(t, c.name+".after.running_mean"))
			nnClose(t, c.name+" running_var", rv, p.get(t, c.name+".after.running_var"))
		}
	}
	pools := map[string]func(x *Value) *Value{
		"maxpool_k3s2p1": func(x *Value) *Value {
			return MaxPool2d(x, Pool2dOptions{Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}})
		},
		"maxpool_k2": func(x *Value) *Value { return MaxPool2d(x, Pool2dOptions{Kernel: [2]int{2, 2}}) },
		"avgpool_k3s2p1": func(x *Value) *Value {
			return AvgPool2d(x, Pool2dOptions{Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}})
		},
		"adaptive_avg_3x2": func(x *Value) *Value { return AdaptiveAvgPool2d(x, 3, 2) },
		"adaptive_max_3x2": func(x *Value) *Value { return AdaptiveMaxPool2d(x, 3, 2) },
		"relu":             ReLU[float32],
		"leaky_relu":       func(x *Value) *Value { return LeakyReLU(x, 0.1) },
		"gelu":             GELU[float32],
		"sigmoid":          Sigmoid[float32],
		"tanh":             Tanh[float32],
	}
	for name, f := range pools {
		nnParityCase(t, p, name, nil, func(x *Value, _ []*Value) *Value { return f(x) })
	}
	y5 := p.i64["ce_mean.y"]
	for _, c := range []struct {
		name string
		opts ceOpts
	}{
		{"ce_mean", ceOpts{}},
		{"ce_sum", ceOpts{Reduction: ReductionSum}},
		{"ce_none", ceOpts{Reduction: ReductionNone}},
		{"ce_smooth", ceOpts{LabelSmoothing: 0.1}},
	} {
		nnParityCase(t, p, c.name, nil, func(x *Value, _ []*Value) *Value { return CrossEntropy(x, y5, c.opts.options()...) })
	}
	nnParityCase(t, p, "mse", nil, func(x *Value, _ []*Value) *Value {
		return MSELoss(x, Const(p.get(t, "mse.target")), ReductionMean)
	})
	nnParityCase(t, p, "bce", nil, func(x *Value, _ []*Value) *Value {
		return BCEWithLogits(x, Const(p.get(t, "bce.target")))
	})
	// nll and kl take log_softmax(x): the log-softmax is done here, the
	// gradient carried through it by hand (dx = g - softmax * sum(g)).
	for _, name := range []string{"nll", "kl"} {
		t.Run(name, func(t *testing.T) {
			lp := Param(nnLogSoftmax(p.get(t, name+".x")))
			var out *Value
			if name == "nll" {
				out = NLLLoss(lp, p.i64["nll.y"])
			} else {
				out = KLDiv(lp, Const(p.get(t, "kl.target")), ReductionBatchMean)
			}
			nnClose(t, "out", out.Data(), p.get(t, name+".out"))
			out.Backward()
			nnClose(t, "gx", nnThroughLogSoftmax(lp.Data(), lp.Grad()), p.get(t, name+".gx"))
		})
	}
}

// nnLogSoftmax is log_softmax over the rows of the n x c matrix x, computed
// in float64 and stored as float32.
func nnLogSoftmax(x *tensor.Tensor) *tensor.Tensor {
	n, c := x.Dim(0), x.Dim(1)
	out := tensor.New[float32](n, c)
	for i := 0; i < n; i++ {
		row := x.Data()[i*c : (i+1)*c]
		m := math.Inf(-1)
		for _, v := range row {
			m = max(m, float64(v))
		}
		var s float64
		for _, v := range row {
			s += math.Exp(float64(v) - m)
		}
		for j, v := range row {
			out.Data()[i*c+j] = float32(float64(v) - m - math.Log(s))
		}
	}
	return out
}

// nnThroughLogSoftmax carries the gradient g of lp = log_softmax(x) back to
// x: dx = g - softmax * sum(g), row by row.
func nnThroughLogSoftmax(lp, g *tensor.Tensor) *tensor.Tensor {
	n, c := lp.Dim(0), lp.Dim(1)
	dx := tensor.New[float32](n, c)
	for i := 0; i < n; i++ {
		var s float32
		for j := 0; j < c; j++ {
			s += g.Data()[i*c+j]
		}
		for j := 0; j < c; j++ {
			dx.Data()[i*c+j] = g.Data()[i*c+j] - float32(math.Exp(float64(lp.Data()[i*c+j])))*s
		}
	}
	return dx
}
