package layers

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/tensor/safetensors"
)

// expectPanic fails unless f panics with a message containing every want.
func expectPanic(t *testing.T, f func(), wants ...string) {
	t.Helper()
	var msg string
	func() {
		defer func() {
			if r := recover(); r != nil {
				msg = toString(r)
			}
		}()
		f()
	}()
	if msg == "" {
		t.Fatalf("no panic, want one containing %q", wants)
	}
	for _, w := range wants {
		if !strings.Contains(msg, w) {
			t.Errorf("panic %q does not contain %q", msg, w)
		}
	}
}

func toString(r any) string {
	if s, ok := r.(string); ok {
		return s
	}
	if e, ok := r.(error); ok {
		return e.Error()
	}
	return ""
}

func names(nps []NamedParam) []string {
	var out []string
	for _, np := range nps {
		out = append(out, np.Name)
	}
	return out
}

func rnd(seed uint64, shape ...int) *tensor.Tensor {
	return tensor.Uniform[float32](tensor.NewRNG(seed), -1, 1, shape...)
}

// tinyNet mirrors the TinyNet of tensor/safetensors/testdata/gen.py, whose
// PyTorch state dict is in torch_model.safetensors.
type tinyNet struct {
	Base
	conv1 *Conv2d
	bn1   *BatchNorm
	fc1   *Linear
}

func newTinyNet() *tinyNet {
	m := &tinyNet{}
	m.conv1 = Register(&m.Base, "conv1", NewConv2d(1, 2, 3, tensor.NewRNG(1), Padding(1)))
	m.bn1 = Register(&m.Base, "bn1", NewBatchNorm2d(2))
	m.fc1 = Register(&m.Base, "fc1", NewLinear(8, 3, tensor.NewRNG(2)))
	return m
}

func (m *tinyNet) Forward(x *autograd.Value) *autograd.Value {
	x = autograd.MaxPool2d(autograd.ReLU(Call(m.bn1, Call(m.conv1, x))), autograd.Pool2dOptions{Kernel: [2]int{2, 2}})
	return Call(m.fc1, autograd.Flatten(x, 1, -1))
}

const torchModel = "../tensor/safetensors/testdata/torch_model.safetensors"

func TestLoadFilePyTorchWritten(t *testing.T) {
	m := newTinyNet()
	rep, err := LoadFile(m, torchModel)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Clean() || rep.String() != "" {
		t.Errorf("report %q for a matching file", rep)
	}
	f, err := safetensors.Load(torchModel)
	if err != nil {
		t.Fatal(err)
	}
	sd := GetStateDict(m)
	for _, n := range sd.Names {
		if tt, ok := sd.Tensors[n]; ok {
			want, err := f.Tensor(n)
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range want.Data() {
				if math.Float32bits(tt.Data()[i]) != math.Float32bits(v) {
					t.Fatalf("%s[%d] = %v, file %v", n, i, tt.Data()[i], v)
				}
			}
		}
	}
	if m.bn1.NumBatchesTracked != 2 {
		t.Errorf("num_batches_tracked = %d, file 2", m.bn1.NumBatchesTracked)
	}
	// The loaded model runs.
	Eval(m)
	if out := Call(m, autograd.Const(rnd(1, 2, 1, 4, 4))); !tensor.SameShape(out.Shape(), []int{2, 3}) {
		t.Errorf("output shape %v", out.Shape())
	}
}

func TestSaveFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	src := newTinyNet()
	UniformInit(src.bn1.RunningMean, -1, 1, tensor.NewRNG(3))
	src.bn1.NumBatchesTracked = 41
	p := filepath.Join(dir, "m.safetensors")
	if err := SaveFile(src, p, safetensors.Metadata(map[string]string{"format": "pt"})); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := f.Info("bn1.num_batches_tracked"); info.Dtype != safetensors.I64 || len(info.Shape) != 0 {
		t.Errorf("num_batches_tracked saved as %s %v, PyTorch has I64 []", info.Dtype, info.Shape)
	}
	if info, _ := f.Info("conv1.weight"); info.Dtype != safetensors.F32 || !reflect.DeepEqual(info.Shape, []int{2, 1, 3, 3}) {
		t.Errorf("conv1.weight saved as %s %v", info.Dtype, info.Shape)
	}
	if f.Metadata()["format"] != "pt" {
		t.Errorf("metadata %v", f.Metadata())
	}
	dst := &tinyNet{}
	dst.conv1 = Register(&dst.Base, "conv1", NewConv2d(1, 2, 3, tensor.NewRNG(7), Padding(1)))
	dst.bn1 = Register(&dst.Base, "bn1", NewBatchNorm2d(2))
	dst.fc1 = Register(&dst.Base, "fc1", NewLinear(8, 3, tensor.NewRNG(8)))
	if _, err := LoadFile(dst, p); err != nil {
		t.Fatal(err)
	}
	a, b := GetStateDict(src), GetStateDict(dst)
	if !reflect.DeepEqual(a.Names, b.Names) || !reflect.DeepEqual(a.Ints, b.Ints) {
		t.Fatalf("names or ints differ: %v %v / %v %v", a.Names, a.Ints, b.Names, b.Ints)
	}
	for n, x := range a.Tensors {
		if !reflect.DeepEqual(x.Data(), b.Tensors[n].Data()) {
			t.Errorf("%s differs after the round trip", n)
		}
	}
	// A failed save leaves nothing behind and the old file intact.
	if err := SaveFile(src, filepath.Join(dir, "no", "such", "dir.safetensors")); err == nil || !strings.Contains(err.Error(), "dir.safetensors") {
		t.Errorf("save into a missing directory: %v", err)
	}
}

func TestLoadFileErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, ts map[string]*tensor.Tensor, ints map[string]safetensors.Int64Tensor) string {
		p := filepath.Join(dir, name)
		if err := safetensors.Save(p, ts, safetensors.Ints(ints)); err != nil {
			t.Fatal(err)
		}
		return p
	}
	own := GetStateDict(newTinyNet())
	base := func() (map[string]*tensor.Tensor, map[string]safetensors.Int64Tensor) {
		ts := map[string]*tensor.Tensor{}
		for k, v := range own.Tensors {
			ts[k] = v
		}
		return ts, map[string]safetensors.Int64Tensor{"bn1.num_batches_tracked": {Data: []int64{3}}}
	}
	ts, ints := base()
	delete(ts, "fc1.bias")
	missing := write("missing.safetensors", ts, ints)
	ts, ints = base()
	ts["fc2.weight"] = tensor.Zeros(1)
	extra := write("extra.safetensors", ts, ints)
	ts, ints = base()
	ts["conv1.weight"] = tensor.Zeros(2, 1, 5, 5)
	shaped := write("shaped.safetensors", ts, ints)
	ts, ints = base()
	ints["fc1.bias"] = safetensors.Int64Tensor{Data: []int64{1}}
	delete(ts, "fc1.bias")
	intForFloat := write("int-for-float.safetensors", ts, ints)
	ts, _ = base()
	ts["bn1.num_batches_tracked"] = tensor.Zeros()
	floatForInt := write("float-for-int.safetensors", ts, nil)
	ts, ints = base()
	ints["bn1.num_batches_tracked"] = safetensors.Int64Tensor{Shape: []int{2}, Data: []int64{1, 2}}
	vectorInt := write("vector-int.safetensors", ts, ints)
	garbage := filepath.Join(dir, "garbage.safetensors")
	os.WriteFile(garbage, []byte{1, 2, 3}, 0o644)

	cases := []struct {
		name, path string
		wants      []string
	}{
		{"missing", missing, []string{"missing fc1.bias"}},
		{"unexpected", extra, []string{"unexpected fc2.weight"}},
		{"mis-shaped", shaped, []string{"conv1.weight: have [2 1 3 3], got [2 1 5 5]"}},
		{"integer for a float", intForFloat, []string{"fc1.bias", "have a float tensor [3], got an integer"}},
		{"float for an integer", floatForInt, []string{"bn1.num_batches_tracked", "have an integer, got a float tensor []"}},
		{"integer vector", vectorInt, []string{`"bn1.num_batches_tracked"`, "shape [2], want a scalar"}},
		{"malformed", garbage, []string{"header length"}},
		{"absent", filepath.Join(dir, "absent.safetensors"), []string{"no such file"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newTinyNet()
			before := GetStateDict(m).Tensors["conv1.weight"].Clone()
			_, err := LoadFile(m, c.path)
			if err == nil {
				t.Fatal("strict load accepted the file")
			}
			for _, w := range append(c.wants, c.path) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if !reflect.DeepEqual(before.Data(), m.conv1.Weight.Data().Data()) {
				t.Error("a failed strict load changed the model")
			}
		})
	}
	// Lenient: the matching entries load, the report lists the others.
	m := newTinyNet()
	rep, err := LoadFile(m, intForFloat, NonStrict())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Mismatched) != 1 || !strings.HasPrefix(rep.Mismatched[0], "fc1.bias:") || len(rep.Missing) != 0 || len(rep.Unexpected) != 0 {
		t.Errorf("lenient report %+v", rep)
	}
	if m.bn1.NumBatchesTracked != 3 {
		t.Error("lenient load skipped a matching entry")
	}
	if errors.Is(err, safetensors.ErrNotFound) {
		t.Error("unexpected ErrNotFound")
	}
}

func TestSequentialNamesAndOrder(t *testing.T) {
	inner := NewSequential(NewLinear(4, 3, tensor.NewRNG(1)), &ReLU{})
	s := NewSequential(NewLinear(5, 4, tensor.NewRNG(2), NoBias()), inner, NewBatchNorm1d(3), &Identity{})
	if s.Len() != 4 || s.At(1) != inner {
		t.Fatalf("Len %d, At(1) %T", s.Len(), s.At(1))
	}
	var kids []string
	for _, c := range Children(s) {
		kids = append(kids, c.Name)
	}
	if !reflect.DeepEqual(kids, []string{"0", "1", "2", "3"}) {
		t.Errorf("children %v, want 0 1 2 3", kids)
	}
	var mods []string
	for _, nm := range Modules(s) {
		mods = append(mods, nm.Name)
	}
	if want := []string{"", "0", "1", "1.0", "1.1", "2", "3"}; !reflect.DeepEqual(mods, want) {
		t.Errorf("Modules %v, want %v", mods, want)
	}
	// torch.nn.Sequential(Linear(5,4,bias=False), Sequential(Linear(4,3), ReLU()), BatchNorm1d(3), Identity()).state_dict().keys()
	want := []string{"0.weight", "1.0.weight", "1.0.bias", "2.weight", "2.bias", "2.running_mean", "2.running_var", "2.num_batches_tracked"}
	if got := GetStateDict(s).Names; !reflect.DeepEqual(got, want) {
		t.Errorf("state dict %v\nPyTorch    %v", got, want)
	}
	if got := names(NamedParameters(s)); !reflect.DeepEqual(got, []string{"0.weight", "1.0.weight", "1.0.bias", "2.weight", "2.bias"}) {
		t.Errorf("named parameters %v", got)
	}
	// Forward applies the children in order.
	x := autograd.Const(rnd(3, 6, 5))
	Eval(s)
	got := Call(s, x).Data()
	h := Call(s.At(0), x)
	h = autograd.ReLU(Call(inner.At(0), h))
	want2 := Call(s.At(2), h).Data()
	for i, v := range want2.Data() {
		if got.Data()[i] != v {
			t.Fatalf("Sequential output differs from its children applied in order at %d", i)
		}
	}
	s.Append(&Tanh{})
	if c := Children(s); c[len(c)-1].Name != "4" {
		t.Errorf("Append named the child %q", c[len(c)-1].Name)
	}
}

func TestModeSwitching(t *testing.T) {
	bn := NewBatchNorm2d(3)
	drop := NewDropout(0.5, tensor.NewRNG(1))
	s := NewSequential(bn, drop)
	x := autograd.Const(tensor.Uniform[float32](tensor.NewRNG(2), 1, 3, 8, 3, 4, 4))
	// Training: batch statistics, running stats move, dropout drops.
	y := Call(s, x).Data()
	if bn.NumBatchesTracked != 1 || bn.RunningMean.Data()[0] == 0 {
		t.Errorf("training forward: num_batches_tracked %d, running mean %v", bn.NumBatchesTracked, bn.RunningMean.Data())
	}
	zeros := 0
	for _, v := range y.Data() {
		if v == 0 {
			zeros++
		}
	}
	if zeros < y.Len()/4 {
		t.Errorf("training dropout zeroed %d of %d", zeros, y.Len())
	}
	// Eval: running statistics, nothing moves, dropout is the identity.
	Eval(s)
	if s.Core().Training() || bn.Training() || drop.Training() {
		t.Fatal("Eval did not reach the children")
	}
	rm := bn.RunningMean.Clone()
	ye := Call(s, x).Data()
	if bn.NumBatchesTracked != 1 || !reflect.DeepEqual(rm.Data(), bn.RunningMean.Data()) {
		t.Error("an eval forward changed BatchNorm's state")
	}
	want := autograd.BatchNorm(x, bn.Weight, bn.Bias, bn.RunningMean, bn.RunningVar, autograd.BatchNormOptions{Training: false, Momentum: 0.1, Eps: 1e-5}).Data()
	for i, v := range want.Data() {
		if ye.Data()[i] != v {
			t.Fatalf("eval output %v, BatchNorm with running stats %v", ye.Data()[i], v)
		}
	}
	Train(s)
	if !drop.Training() {
		t.Error("Train did not reach the children")
	}
	expectPanic(t, func() { NewDropout(1, nil) }, "layers.NewDropout", "p=1")
	expectPanic(t, func() { Call(bn, autograd.Const(tensor.Zeros(2, 3))) }, "layers.BatchNorm2d", "[2 3]")
}

func TestFreezingAndParamGroups(t *testing.T) {
	body := NewSequential(NewConv2d(1, 4, 3, tensor.NewRNG(1), Padding(1)), NewBatchNorm2d(4), &ReLU{})
	head := NewSequential(&AdaptiveAvgPool2d{H: 1, W: 1}, NewFlatten(), NewLinear(4, 2, tensor.NewRNG(2)))
	m := NewSequential(body, head)
	groups := ParamGroups(m, body, head)
	if got := [][]string{names(groups[0]), names(groups[1])}; !reflect.DeepEqual(got, [][]string{
		{"0.0.weight", "0.0.bias", "0.1.weight", "0.1.bias"}, {"1.2.weight", "1.2.bias"}}) {
		t.Fatalf("groups %v", got)
	}
	if g := ParamGroups(m, m); len(g) != 1 || len(g[0]) != 6 {
		t.Fatalf("one group of the root: %v", g)
	}
	expectPanic(t, func() { ParamGroups(m, body) }, "layers.ParamGroups", "1.2.weight", "in no part")
	expectPanic(t, func() { ParamGroups(m, body, body.At(0), head) }, "layers.ParamGroups", "0.0.weight", "parts 0 and 1")
	expectPanic(t, func() { ParamGroups(m, body, NewLinear(2, 2, nil)) }, "layers.ParamGroups", "not in the module tree")

	// Freeze the body but keep its BatchNorm training, as fastai does.
	FreezeGroups(m, groups, -1)
	req := map[string]bool{}
	for _, np := range NamedParameters(m) {
		req[np.Name] = np.Param.RequiresGrad()
	}
	if want := map[string]bool{"0.0.weight": false, "0.0.bias": false, "0.1.weight": true, "0.1.bias": true, "1.2.weight": true, "1.2.bias": true}; !reflect.DeepEqual(req, want) {
		t.Fatalf("requires grad %v, want %v", req, want)
	}
	x := autograd.Param(rnd(3, 2, 1, 5, 5))
	autograd.CrossEntropy(Call(m, x), []int{0, 1}).Backward()
	for _, np := range NamedParameters(m) {
		if (np.Param.Grad() != nil) != np.Param.RequiresGrad() {
			t.Errorf("%s: requires grad %v, has grad %v", np.Name, np.Param.RequiresGrad(), np.Param.Grad() != nil)
		}
	}
	if x.Grad() == nil {
		t.Error("the input lost its gradient")
	}
	ZeroGrad(m)
	for _, p := range Parameters(m) {
		if p.Grad() != nil {
			t.Fatal("ZeroGrad left a gradient")
		}
	}
	FreezeGroups(m, groups, -1, FreezeNorm())
	if body.At(1).(*BatchNorm).Weight.RequiresGrad() {
		t.Error("keepNorm false left the norm layer trainable")
	}
	FreezeGroups(m, groups, 0, FreezeNorm())
	for _, p := range Parameters(m) {
		if !p.RequiresGrad() {
			t.Fatal("FreezeGroups(0) left a parameter frozen")
		}
	}
	SetRequiresGrad(head, false)
	if head.At(2).(*Linear).Weight.RequiresGrad() || !body.At(0).(*Conv2d).Weight.RequiresGrad() {
		t.Error("SetRequiresGrad on a sub-tree")
	}
	if !IsNorm(body.At(1)) || IsNorm(body.At(0)) {
		t.Error("IsNorm")
	}
}

func TestSimpleLayers(t *testing.T) {
	x := autograd.Param(rnd(4, 2, 3, 4, 5))
	if got := Call(&Identity{}, x); got != x {
		t.Error("Identity did not return its input")
	}
	if got := Call(NewFlatten(), x).Shape(); !reflect.DeepEqual(got, []int{2, 60}) {
		t.Errorf("Flatten shape %v", got)
	}
	if got := Call(&Flatten{Start: 2, End: 3}, x).Shape(); !reflect.DeepEqual(got, []int{2, 3, 20}) {
		t.Errorf("Flatten(2, 3) shape %v", got)
	}
	acts := []struct {
		m    Module
		want func(v float32) float32
	}{
		{&ReLU{}, func(v float32) float32 { return max(v, 0) }},
		{&LeakyReLU{Slope: 0.2}, func(v float32) float32 {
			if v > 0 {
				return v
			}
			return 0.2 * v
		}},
		{&Sigmoid{}, func(v float32) float32 { return float32(1 / (1 + math.Exp(-float64(v)))) }},
		{&Tanh{}, func(v float32) float32 { return float32(math.Tanh(float64(v))) }},
		{&GELU{}, func(v float32) float32 { return float32(0.5 * float64(v) * (1 + math.Erf(float64(v)/math.Sqrt2))) }},
	}
	for _, a := range acts {
		y := Call(a.m, x).Data()
		for i, v := range x.Data().Data() {
			if d := math.Abs(float64(y.Data()[i] - a.want(v))); d > 1e-6 {
				t.Fatalf("%T(%v) = %v, want %v", a.m, v, y.Data()[i], a.want(v))
			}
		}
	}
	if (&LeakyReLU{}).Slope != 0 || NewLeakyReLU().Slope != 0.01 {
		t.Error("NewLeakyReLU is not PyTorch's default slope 0.01")
	}

	// fastai's AdaptiveConcatPool2d: cat([max pool, avg pool], 1).
	p := Call(NewAdaptiveConcatPool2d(0), x).Data()
	if !reflect.DeepEqual(p.Shape(), []int{2, 6, 1, 1}) {
		t.Fatalf("AdaptiveConcatPool2d shape %v", p.Shape())
	}
	mx := tensor.Max(x.Data(), 2, 3)
	av := tensor.Mean(x.Data(), 2, 3)
	for n := 0; n < 2; n++ {
		for c := 0; c < 3; c++ {
			if p.At(n, c, 0, 0) != mx.At(n, c) || math.Abs(float64(p.At(n, 3+c, 0, 0)-av.At(n, c))) > 1e-6 {
				t.Fatalf("AdaptiveConcatPool2d[%d] = max %v avg %v, want %v %v", n, p.At(n, c, 0, 0), p.At(n, 3+c, 0, 0), mx.At(n, c), av.At(n, c))
			}
		}
	}
	if got := Call(NewAdaptiveConcatPool2d(2), x).Shape(); !reflect.DeepEqual(got, []int{2, 6, 2, 2}) {
		t.Errorf("AdaptiveConcatPool2d(2) shape %v", got)
	}
	if got := Call(NewMaxPool2d(2, 0, 0), x).Shape(); !reflect.DeepEqual(got, []int{2, 3, 2, 2}) {
		t.Errorf("MaxPool2d(2) shape %v", got)
	}
	if got := Call(NewAvgPool2d(3, 1, 1), x).Shape(); !reflect.DeepEqual(got, []int{2, 3, 4, 5}) {
		t.Errorf("AvgPool2d(3, 1, 1) shape %v", got)
	}
	if got := Call(&AdaptiveMaxPool2d{H: 2, W: 3}, x).Shape(); !reflect.DeepEqual(got, []int{2, 3, 2, 3}) {
		t.Errorf("AdaptiveMaxPool2d shape %v", got)
	}
}

func TestNormalize(t *testing.T) {
	n := NewNormalize([]float32{0.5, 0.25, 0}, []float32{0.5, 2, 1})
	x := autograd.Param(tensor.Uniform[float32](tensor.NewRNG(5), 0, 1, 2, 3, 2, 2))
	y := Call(n, x)
	mean, std := []float32{0.5, 0.25, 0}, []float32{0.5, 2, 1}
	for i, v := range x.Data().Data() {
		c := i / 4 % 3
		if want := (v - mean[c]) / std[c]; math.Abs(float64(y.Data().Data()[i]-want)) > 1e-6 {
			t.Fatalf("Normalize element %d = %v, want %v", i, y.Data().Data()[i], want)
		}
	}
	autograd.SumAll(y).Backward()
	for i, g := range x.Grad().Data() {
		if c := i / 4 % 3; math.Abs(float64(g-1/std[c])) > 1e-6 {
			t.Fatalf("d/dx = %v, want 1/std = %v", g, 1/std[c])
		}
	}
	if len(GetStateDict(n).Names) != 0 || NumParams(n) != 0 {
		t.Error("Normalize has state; mean and std are configuration")
	}
	expectPanic(t, func() { Call(n, autograd.Const(tensor.Zeros(2, 1, 2, 2))) }, "layers.Normalize", "[2 1 2 2]", "[N 3 H W]")
	expectPanic(t, func() { NewNormalize([]float32{0}, []float32{0}) }, "layers.NewNormalize", "std[0]")
	expectPanic(t, func() { NewNormalize([]float32{0, 1}, []float32{1}) }, "layers.NewNormalize", "2 means and 1 stds")
	if len(ImageNetMean) != 3 || ImageNetStd[2] != 0.225 {
		t.Error("ImageNet statistics")
	}
}

func TestLossModules(t *testing.T) {
	logits := autograd.Param(rnd(6, 4, 5))
	targets := []int{1, 0, 4, 2}
	same := func(name string, a, b *autograd.Value) {
		t.Helper()
		if !reflect.DeepEqual(a.Data().Data(), b.Data().Data()) || !reflect.DeepEqual(a.Shape(), b.Shape()) {
			t.Errorf("%s: module %v, function %v", name, a.Data(), b.Data())
		}
	}
	var ce ClassLoss = &CrossEntropyLoss{Opts: []autograd.LossOption{autograd.LabelSmoothing(0.1)}}
	same("CrossEntropyLoss", ce.Loss(logits, targets), autograd.CrossEntropy(logits, targets, autograd.LabelSmoothing(0.1)))
	var _ ClassLoss = &NLLLoss{}
	lp := autograd.LogSoftmax(logits, 1)
	same("NLLLoss", (&NLLLoss{Opts: []autograd.LossOption{autograd.ReductionSum}}).Loss(lp, targets),
		autograd.NLLLoss(lp, targets, autograd.ReductionSum))
	tgt := autograd.Const(tensor.Uniform[float32](tensor.NewRNG(7), 0, 1, 4, 5))
	same("MSELoss", (&MSELoss{Reduction: autograd.ReductionNone}).Loss(logits, tgt), autograd.MSELoss(logits, tgt, autograd.ReductionNone))
	same("BCEWithLogitsLoss", (&BCEWithLogitsLoss{}).Loss(logits, tgt), autograd.BCEWithLogits(logits, tgt))
	p := autograd.Softmax(autograd.Const(rnd(8, 4, 5)), 1)
	same("KLDivLoss", (&KLDivLoss{Reduction: autograd.ReductionBatchMean}).Loss(lp, p), autograd.KLDiv(lp, p, autograd.ReductionBatchMean))
	// The zero value is PyTorch's default: mean reduction.
	if got := (&MSELoss{}).Loss(logits, tgt); got.Data().Rank() != 0 {
		t.Errorf("MSELoss{} is not reduced: %v", got.Shape())
	}
}

func TestSummary(t *testing.T) {
	m := NewSequential(
		NewConv2d(1, 8, 3, tensor.NewRNG(1), Padding(1)), NewBatchNorm2d(8), &ReLU{}, NewMaxPool2d(2, 0, 0),
		NewFlatten(), NewLinear(8*14*14, 10, tensor.NewRNG(2)))
	SetRequiresGrad(m.At(0), false)
	Train(m)
	s := Summary(m, 4, 1, 28, 28)
	t.Log("\n" + s)
	for _, want := range []string{
		"Sequential (Input shape: [4 1 28 28])",
		"Layer (type)", "Output Shape", "Param #", "Trainable",
		"0 (Conv2d)", "[4 8 28 28]", " 80 ", "false",
		"1 (BatchNorm)", " 16 ", "true",
		"2 (ReLU)", "3 (MaxPool2d)", "[4 8 14 14]",
		"4 (Flatten)", "[4 1568]",
		"5 (Linear)", "[4 10]", "15690",
		"Output shape: [4 10]",
		"Total params: 15786",
		"Trainable params: 15706",
		"Non-trainable params: 80",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	if NumParams(m) != 15786 {
		t.Errorf("NumParams %d", NumParams(m))
	}
	// One row per leaf, in forward order.
	var rows []string
	for _, line := range strings.Split(s, "\n") {
		if i := strings.Index(line, " ("); i > 0 && !strings.HasPrefix(line, "Sequential") && !strings.HasPrefix(line, "Layer") {
			rows = append(rows, line[:i])
		}
	}
	if !reflect.DeepEqual(rows, []string{"0", "1", "2", "3", "4", "5"}) {
		t.Errorf("rows %v", rows)
	}
	// The mode is restored, no statistic moved, the hooks are gone.
	bn := m.At(1).(*BatchNorm)
	if !m.Core().Training() || !bn.Training() || bn.NumBatchesTracked != 0 {
		t.Error("Summary changed the model's mode or BatchNorm's statistics")
	}
	for _, nm := range Modules(m) {
		if nm.Module.Core().hook != nil {
			t.Fatalf("hook left on %q", nm.Name)
		}
	}
	if again := Summary(m, 4, 1, 28, 28); again != s {
		t.Error("a second Summary differs")
	}
}
