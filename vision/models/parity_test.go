package models

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/tensor/safetensors"
)

// The fixtures are PyTorch 1.13's, from layers/testdata/gen_parity.py.
const parityFile = "../../layers/testdata/parity.safetensors"

func stateDict(t *testing.T, f *safetensors.File, prefix string) *layers.StateDict {
	sd := &layers.StateDict{Tensors: map[string]*tensor.Tensor{}, Ints: map[string]int64{}}
	for _, n := range f.Names() {
		if !strings.HasPrefix(n, prefix) {
			continue
		}
		k := strings.TrimPrefix(n, prefix)
		info, _ := f.Info(n)
		if info.Dtype == safetensors.I64 {
			v, err := f.Int64(n)
			if err != nil {
				t.Fatal(err)
			}
			sd.Ints[k] = v.Data[0]
		} else {
			x, err := f.Tensor(n)
			if err != nil {
				t.Fatal(err)
			}
			sd.Tensors[k] = x
		}
		sd.Names = append(sd.Names, k)
	}
	return sd
}

func must(t *testing.T, f *safetensors.File, name string) *tensor.Tensor {
	t.Helper()
	x, err := f.Tensor(name)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func labels(t *testing.T, f *safetensors.File, name string) []int {
	v, err := f.Int64(name)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int, len(v.Data))
	for i, x := range v.Data {
		out[i] = int(x)
	}
	return out
}

// closeTo: within 1e-4 of want's largest magnitude (plus 1e-6 absolute).
func closeTo(got, want *tensor.Tensor) error {
	if !tensor.SameShape(got.Shape(), want.Shape()) {
		return fmt.Errorf("shape %v, want %v", got.Shape(), want.Shape())
	}
	scale := 0.0
	for _, v := range want.Data() {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	for i, v := range got.Data() {
		if d := math.Abs(float64(v) - float64(want.Data()[i])); !(d <= 1e-4*scale+1e-6) {
			return fmt.Errorf("element %d: got %g, want %g (scale %.3g)", i, v, want.Data()[i], scale)
		}
	}
	return nil
}

// check runs the case: loss = CE(m(x), y); compares logits, input gradient,
// every parameter gradient that the fixture has, and buffers after.
func check(t *testing.T, f *safetensors.File, c string, m layers.Module) {
	x := autograd.Param(must(t, f, c+".x"))
	out := layers.Call(m, x)
	if err := closeTo(out.Data(), must(t, f, c+".out")); err != nil {
		t.Fatalf("%s logits: %v", c, err)
	}
	autograd.CrossEntropy(out, labels(t, f, c+".y")).Backward()
	if err := closeTo(x.Grad(), must(t, f, c+".gx")); err != nil {
		t.Errorf("%s input gradient: %v", c, err)
	}
	n := 0
	for _, np := range layers.NamedParameters(m) {
		if _, ok := f.Info(c + ".g." + np.Name); !ok {
			if np.Param.RequiresGrad() {
				t.Errorf("%s: fixture lacks the gradient of trainable %s", c, np.Name)
			}
			continue
		}
		n++
		if err := closeTo(np.Param.Grad(), must(t, f, c+".g."+np.Name)); err != nil {
			t.Errorf("%s gradient of %s: %v", c, np.Name, err)
		}
	}
	sd := layers.GetStateDict(m)
	for name, tt := range sd.Tensors {
		if _, ok := f.Info(c + ".after." + name); ok {
			if err := closeTo(tt, must(t, f, c+".after."+name)); err != nil {
				t.Errorf("%s %s after the forward: %v", c, name, err)
			}
		}
	}
	t.Logf("%s: logits, input gradient and %d parameter gradients match PyTorch", c, n)
}

func TestSmallCNNParity(t *testing.T) {
	f, err := safetensors.Load(parityFile)
	if err != nil {
		t.Fatal(err)
	}
	m := NewSmallCNN(10, tensor.NewRNG(3))
	if got := layers.NumParams(m); got != 421834 {
		t.Fatalf("SmallCNN has %d parameters, want 421,834", got)
	}
	if _, err := layers.LoadStateDict(m, stateDict(t, f, "smallcnn_train.p.")); err != nil {
		t.Fatal(err)
	}
	layers.Train(m)
	check(t, f, "smallcnn_train", m)

	// The attack case: the same model after its training forward, in eval
	// mode, frozen: only the input gradient.
	layers.Eval(m)
	layers.SetRequiresGrad(m, false)
	layers.ZeroGrad(m)
	check(t, f, "smallcnn_eval", m)
	for _, p := range layers.Parameters(m) {
		if p.Grad() != nil {
			t.Fatal("a frozen parameter got a gradient")
		}
	}
}

func TestResNetParity(t *testing.T) {
	f, err := safetensors.Load(parityFile)
	if err != nil {
		t.Fatal(err)
	}
	m := NewResNet(ResNetConfig{Block: Basic, Layers: [4]int{1, 1, 1, 1}, Widths: [4]int{8, 16, 24, 32}, NumClasses: 5}, tensor.NewRNG(3))
	if _, err := layers.LoadStateDict(m, stateDict(t, f, "tinyresnet_train.p.")); err != nil {
		t.Fatal(err)
	}
	check(t, f, "tinyresnet_train", m)
}

func TestParameterCounts(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    layers.Module
		want int
	}{
		{"resnet18", mustBuild(t, ResNet18, 3, 1000), 11689512},
		{"resnet34", mustBuild(t, ResNet34, 3, 1000), 21797672},
		{"resnet50", mustBuild(t, ResNet50, 3, 1000), 25557032},
		{"cifar_resnet18", NewCIFARResNet18(3, 10, tensor.NewRNG(1)), 11173962},
	} {
		if got := layers.NumParams(tc.m); got != tc.want {
			t.Errorf("%s: %d parameters, want %d (torchvision)", tc.name, got, tc.want)
		}
	}
}

func TestTorchvisionNames(t *testing.T) {
	sd := layers.GetStateDict(mustBuild(t, ResNet50, 3, 1000))
	for _, n := range []string{"conv1.weight", "bn1.running_var", "layer1.0.downsample.0.weight",
		"layer1.0.downsample.1.num_batches_tracked", "layer4.2.conv3.weight", "layer4.2.bn3.bias", "fc.weight", "fc.bias"} {
		if _, ok := sd.Tensors[n]; !ok {
			if _, ok := sd.Ints[n]; !ok {
				t.Errorf("resnet50 state dict lacks %s", n)
			}
		}
	}
	if len(sd.Names) != 320 { // torchvision's resnet50 state_dict has 320 entries
		t.Errorf("resnet50 state dict has %d entries, want 320", len(sd.Names))
	}
}

// mustBuild builds the whole model of an architecture, seed 1.
func mustBuild(t *testing.T, a Arch, nIn, nOut int) layers.Module {
	t.Helper()
	m, err := a.Build(nIn, nOut, tensor.NewRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	return m
}
