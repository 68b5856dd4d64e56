package vision

import (
	"context"
	"encoding/json"
	"image"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/render"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/tensor/safetensors"
	"github.com/fastgo-ml/fastgo/vision/models"
)

// tinyData returns DataLoaders over n random c x h x w images of 3
// classes, the class written as the brightness of the first row.
func tinyData(t testing.TB, n, c, h, w int) *DataLoaders {
	rng := tensor.NewRNG(1)
	x := tensor.Zeros(n, c, h, w)
	y := make([]int, n)
	for i := range y {
		y[i] = i % 3
		item := x.Data()[i*c*h*w : (i+1)*c*h*w]
		for k := range item {
			item[k] = float32(rng.Float64())
		}
		for ch := 0; ch < c; ch++ {
			for k := 0; k < w; k++ {
				item[ch*h*w+k] = float32(y[i]) / 2
			}
		}
	}
	ds, err := NewTensorDataset(x, y)
	if err != nil {
		t.Fatal(err)
	}
	dls, err := newDataLoaders(Subset(ds, seq(0, n*3/4)), Subset(ds, seq(n*3/4, n)), []string{"zero", "one", "two"}, []Option{BatchSize(8), Seed(3)})
	if err != nil {
		t.Fatal(err)
	}
	return dls
}

func seq(a, b int) []int {
	out := make([]int, b-a)
	for i := range out {
		out[i] = a + i
	}
	return out
}

// tinyResNet is the torchvision-layout ResNet of the PyTorch parity
// fixture: one BasicBlock per stage, widths 8, 16, 24, 32.
var tinyResNet = models.ResNetArch("tinyresnet", models.ResNetConfig{Block: models.Basic, Layers: [4]int{1, 1, 1, 1}, Widths: [4]int{8, 16, 24, 32}})

// newTinyResNet builds tinyResNet with its fc for 1000 classes.
func newTinyResNet(rng *tensor.RNG) *models.ResNet {
	c, _ := tinyResNet.ResNetConfig(3, 1000)
	return models.NewResNet(c, rng)
}

func TestCNNLearnerModel(t *testing.T) {
	dls := tinyData(t, 32, 1, 28, 28)
	l, err := CNNLearner(dls, models.ResNet18, FromScratch())
	if err != nil {
		t.Fatal(err)
	}
	m := l.Model.(*models.CNN)
	sd := layers.GetStateDict(m)
	// fastai's nn.Sequential(body, head) names.
	for name, shape := range map[string][]int{
		"0.0.weight":                {64, 1, 7, 7}, // the stem, adapted to n_in = 1
		"0.1.running_var":           {64},
		"0.4.0.conv1.weight":        {64, 64, 3, 3},
		"0.7.1.bn2.bias":            {512},
		"0.7.0.downsample.0.weight": {512, 256, 1, 1},
		"1.2.weight":                {1024}, // BatchNorm1d(2*512) after the concat pool
		"1.4.weight":                {512, 1024},
		"1.6.bias":                  {512},
		"1.8.weight":                {3, 512},
	} {
		got, ok := sd.Tensors[name]
		if !ok || !reflect.DeepEqual(got.Shape(), shape) {
			t.Errorf("%s: %v, want %v", name, got.Shape(), shape)
		}
	}
	for _, absent := range []string{"1.4.bias", "1.8.bias", "0.8.weight"} {
		if _, ok := sd.Tensors[absent]; ok {
			t.Errorf("%s should not exist (fastai's head Linears have no bias; the body stops at layer4)", absent)
		}
	}
	if m.Norm != nil {
		t.Error("a model trained from scratch got a Normalize")
	}
	// fastai's init: head BatchNorms weight 1 bias 1e-3, Linears
	// kaiming-normal (std sqrt(2/fan_in)); the new 1-channel stem
	// PyTorch's default U(-1/sqrt(49), 1/sqrt(49)).
	if b := sd.Tensors["1.6.bias"].Data(); b[0] != 1e-3 || sd.Tensors["1.6.weight"].Data()[0] != 1 {
		t.Errorf("head BatchNorm init: bias %v weight %v", b[0], sd.Tensors["1.6.weight"].Data()[0])
	}
	if s := stddev(sd.Tensors["1.4.weight"].Data()); math.Abs(s-math.Sqrt(2.0/1024)) > 0.02*math.Sqrt(2.0/1024) {
		t.Errorf("head Linear std %g, want kaiming-normal %g", s, math.Sqrt(2.0/1024))
	}
	for _, v := range sd.Tensors["0.0.weight"].Data() {
		if math.Abs(float64(v)) > 1.0/7 {
			t.Fatalf("stem weight %g outside PyTorch's default bound 1/7", v)
		}
	}
	// Three layer groups split as fastai's _resnet_split.
	groups := l.LayerGroups()
	if len(groups) != 3 {
		t.Fatalf("%d layer groups", len(groups))
	}
	firsts := []string{groups[0][0].Name, groups[1][0].Name, groups[2][0].Name}
	lasts := []string{groups[0][len(groups[0])-1].Name, groups[1][len(groups[1])-1].Name, groups[2][len(groups[2])-1].Name}
	if !reflect.DeepEqual(firsts, []string{"0.0.weight", "0.6.0.conv1.weight", "1.2.weight"}) ||
		!reflect.DeepEqual(lasts, []string{"0.5.1.bn2.bias", "0.7.1.bn2.bias", "1.8.weight"}) {
		t.Fatalf("groups run %v .. %v", firsts, lasts)
	}
	if n := len(groups[0]) + len(groups[1]) + len(groups[2]); n != len(layers.NamedParameters(m)) {
		t.Fatalf("the groups hold %d parameters of %d", n, len(layers.NamedParameters(m)))
	}
	if l.FrozenTo() != 0 {
		t.Fatal("a model trained from scratch is frozen")
	}
	out := layers.Call(m, autograd.Const(tensor.Zeros(2, 1, 28, 28)))
	if !reflect.DeepEqual(out.Shape(), []int{2, 3}) {
		t.Fatalf("output %v", out.Shape())
	}
	// NIn and NOut override the data.
	l2, err := CNNLearner(dls, tinyResNet, NIn(4), NOut(7))
	if err != nil {
		t.Fatal(err)
	}
	if out := layers.Call(l2.Model, autograd.Const(tensor.Zeros(2, 4, 32, 32))); !reflect.DeepEqual(out.Shape(), []int{2, 7}) {
		t.Fatalf("NIn(4), NOut(7): output %v", out.Shape())
	}
}

func stddev(v []float32) float64 {
	s, s2 := 0.0, 0.0
	for _, x := range v {
		s += float64(x)
		s2 += float64(x) * float64(x)
	}
	n := float64(len(v))
	return math.Sqrt(s2/n - (s/n)*(s/n))
}

// saveTorchvision writes the fixture's PyTorch tiny ResNet as a
// torchvision-named safetensors file and returns its path.
func saveTorchvision(t *testing.T, f *safetensors.File, prefix, path string) {
	tensors, ints := map[string]*tensor.Tensor{}, map[string]safetensors.Int64Tensor{}
	for _, n := range f.Names() {
		k, ok := strings.CutPrefix(n, prefix)
		if !ok {
			continue
		}
		info, _ := f.Info(n)
		if info.Dtype == safetensors.I64 {
			v, err := f.Int64(n)
			if err != nil {
				t.Fatal(err)
			}
			ints[k] = v
			continue
		}
		x, err := f.Tensor(n)
		if err != nil {
			t.Fatal(err)
		}
		tensors[k] = x
	}
	if err := safetensors.Save(path, tensors, safetensors.Ints(ints)); err != nil {
		t.Fatal(err)
	}
}

func TestCNNLearnerPretrained(t *testing.T) {
	f, err := safetensors.Load("../layers/testdata/parity.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "tiny.safetensors")
	saveTorchvision(t, f, "tinyresnet_train.p.", path)
	must := func(n string) *tensor.Tensor {
		x, err := f.Tensor(n)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	x := must("tinyresnet_train.x") // [4, 3, H, W], PyTorch's input

	dls := tinyData(t, 32, 3, 32, 32)
	l, err := CNNLearner(dls, tinyResNet, Weights(path))
	if err != nil {
		t.Fatal(err)
	}
	m := l.Model.(*models.CNN)
	checkPretrainedLogits(t, m, x, must)
	checkPretrainedFreezing(t, l, m)
	checkPretrainedGrey(t, m, x, path)
	checkPretrainedBadFiles(t, dls, dir)
}

// checkPretrainedLogits checks that the body holds PyTorch's weights under
// torchvision's names: body, average pool and the fixture's fc give
// PyTorch's logits.
func checkPretrainedLogits(t *testing.T, m *models.CNN, x *tensor.Tensor, must func(string) *tensor.Tensor) {
	t.Helper()
	feats := layers.Call(m.Body, autograd.Const(x))
	pooled := autograd.Flatten(autograd.AdaptiveAvgPool2d(feats, 1, 1), 1, -1)
	logits := autograd.Linear(pooled, autograd.Const(must("tinyresnet_train.p.fc.weight")), autograd.Const(must("tinyresnet_train.p.fc.bias")))
	want := must("tinyresnet_train.out")
	for i, v := range logits.Data().Data() {
		if d := math.Abs(float64(v - want.Data()[i])); d > 1e-4*(1+math.Abs(float64(want.Data()[i]))) {
			t.Fatalf("logit %d: %g, PyTorch %g", i, v, want.Data()[i])
		}
	}
}

// checkPretrainedFreezing checks ImageNet normalisation first; the body
// frozen but its BatchNorms, the head trainable.
func checkPretrainedFreezing(t *testing.T, l *learner.Learner, m *models.CNN) {
	t.Helper()
	if m.Norm == nil || !reflect.DeepEqual(m.Norm.Mean, layers.ImageNetMean) || !reflect.DeepEqual(m.Norm.Std, layers.ImageNetStd) {
		t.Fatalf("normalisation %+v", m.Norm)
	}
	if l.FrozenTo() != 2 {
		t.Fatalf("FrozenTo %d, want 2 of 3 groups", l.FrozenTo())
	}
	norm := map[*autograd.Value]bool{}
	for _, nm := range layers.Modules(m) {
		if layers.IsNorm(nm.Module) {
			for _, p := range layers.Parameters(nm.Module) {
				norm[p] = true
			}
		}
	}
	frozen := 0
	for _, np := range layers.NamedParameters(m) {
		head := strings.HasPrefix(np.Name, "1.")
		if np.Param.RequiresGrad() != (norm[np.Param] || head) {
			t.Errorf("%s: requires grad %v", np.Name, np.Param.RequiresGrad())
		}
		if !np.Param.RequiresGrad() {
			frozen++
		}
	}
	if frozen != 12 { // the tiny ResNet's convolutions: stem, 8 in blocks, 3 downsamples
		t.Errorf("%d frozen parameters, want the 12 convolutions", frozen)
	}
}

// checkPretrainedGrey checks one input channel: the stem's weights are
// summed over RGB (fastai), so a grey image gives what its RGB copy gives
// the RGB model m.
func checkPretrainedGrey(t *testing.T, m *models.CNN, x *tensor.Tensor, path string) {
	t.Helper()
	grey := tensor.Zeros(4, 1, x.Dim(2), x.Dim(3))
	rgb := tensor.Zeros(x.Shape()...)
	plane := x.Dim(2) * x.Dim(3)
	for i := 0; i < 4; i++ {
		for p := 0; p < plane; p++ {
			g := x.Data()[(i*3)*plane+p]
			grey.Data()[i*plane+p] = g
			for c := 0; c < 3; c++ {
				rgb.Data()[(i*3+c)*plane+p] = g
			}
		}
	}
	l1, err := CNNLearner(tinyData(t, 32, 1, 32, 32), tinyResNet, Weights(path))
	if err != nil {
		t.Fatal(err)
	}
	m1 := l1.Model.(*models.CNN)
	if want := []float32{(0.485 + 0.456 + 0.406) / 3}; !reflect.DeepEqual(m1.Norm.Mean, want) {
		t.Fatalf("grey normalisation mean %v, want %v", m1.Norm.Mean, want)
	}
	a := layers.Call(m1.Body, autograd.Const(grey)).Data()
	b := layers.Call(m.Body, autograd.Const(rgb)).Data()
	for i := range a.Data() {
		if d := math.Abs(float64(a.Data()[i] - b.Data()[i])); d > 1e-4*(1+math.Abs(float64(b.Data()[i]))) {
			t.Fatalf("grey body output %d: %g, RGB copy %g", i, a.Data()[i], b.Data()[i])
		}
	}
}

// checkPretrainedBadFiles checks that bad files (written under dir) are
// errors that name the file and the entries.
func checkPretrainedBadFiles(t *testing.T, dls *DataLoaders, dir string) {
	t.Helper()
	for _, tc := range []struct {
		name string
		edit func(map[string]*tensor.Tensor)
		want string
	}{
		{"missing", func(m map[string]*tensor.Tensor) { delete(m, "layer3.0.conv2.weight") }, "missing (layer3.0.conv2.weight)"},
		{"shape", func(m map[string]*tensor.Tensor) { m["bn1.weight"] = tensor.Zeros(9) }, "bn1.weight: shape [9], want [8]"},
		{"unexpected", func(m map[string]*tensor.Tensor) { m["head.weight"] = tensor.Zeros(1) }, "unexpected (head.weight)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sd := layers.GetStateDict(newTinyResNet(tensor.NewRNG(1)))
			ints := map[string]safetensors.Int64Tensor{}
			for k, v := range sd.Ints {
				ints[k] = safetensors.Int64Tensor{Data: []int64{v}}
			}
			tc.edit(sd.Tensors)
			p := filepath.Join(dir, tc.name+".safetensors")
			if err := safetensors.Save(p, sd.Tensors, safetensors.Ints(ints)); err != nil {
				t.Fatal(err)
			}
			_, err := CNNLearner(dls, tinyResNet, Weights(p))
			if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error naming %s and %q", err, p, tc.want)
			}
		})
	}
	if _, err := CNNLearner(dls, tinyResNet, Weights(filepath.Join(dir, "nowhere.safetensors"))); err == nil || !strings.Contains(err.Error(), "nowhere.safetensors") {
		t.Fatalf("a missing file: %v", err)
	}
}

func TestCNNExportLoadLearner(t *testing.T) {
	ctx := context.Background()
	dls := tinyData(t, 48, 1, 28, 28)
	l, err := CNNLearner(dls, tinyResNet, learner.Metrics(learner.Accuracy()))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.FitOneCycle(ctx, 1, learner.LR(1e-2)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "export.safetensors")
	if err := l.Export(path); err != nil {
		t.Fatal(err)
	}
	e, err := LoadLearner(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(e.Classes, dls.Vocab) || e.Channels != 1 || !reflect.DeepEqual(e.InputShape, []int{1, 28, 28}) {
		t.Fatalf("loaded classes %v channels %d shape %v", e.Classes, e.Channels, e.InputShape)
	}
	want, err := l.GetPreds(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 12; i++ {
		x, _ := dls.Valid.Dataset().Image(i)
		img, err := render.Image(x)
		if err != nil {
			t.Fatal(err)
		}
		p, err := e.PredictImage(img)
		if err != nil {
			t.Fatal(err)
		}
		// Through an 8-bit image the pixels round to 1/255: the class
		// stays, the probabilities move a little.
		if p.Index != want.Decoded[i] {
			t.Fatalf("item %d: the exported learner predicts %d, the original %d", i, p.Index, want.Decoded[i])
		}
		q, _ := e.Predict(x)
		for k := range q.Probs {
			if q.Probs[k] != want.Probs.Data()[i*3+k] {
				t.Fatalf("item %d: probabilities %v, original %v", i, q.Probs, want.Probs.Data()[i*3:i*3+3])
			}
		}
	}
	if _, err := e.PredictImage(imageOfSize(20, 20)); err == nil || !strings.Contains(err.Error(), "exported for [1 28 28]") {
		t.Fatalf("an image of the wrong size: %v", err)
	}
	// The item transforms are recorded and rebuilt.
	withTfms, err := newDataLoaders(dls.Train.Dataset(), dls.Valid.Dataset(), dls.Vocab, []Option{ItemTfms(Resize(24, 24, Squish), CenterCrop(20, 20))})
	if err != nil {
		t.Fatal(err)
	}
	l.Data = withTfms
	if err := l.Export(path); err != nil {
		t.Fatal(err)
	}
	if e, err = LoadLearner(path); err != nil {
		t.Fatal(err)
	}
	if got := []string{describe(e.ItemTfms[0]), describe(e.ItemTfms[1])}; !reflect.DeepEqual(got, []string{"Resize(24, 24, Squish)", "CenterCrop(20, 20)"}) ||
		!reflect.DeepEqual(e.InputShape, []int{1, 20, 20}) {
		t.Fatalf("rebuilt transforms %v, shape %v", got, e.InputShape)
	}
	if p, err := e.PredictImage(imageOfSize(40, 30)); err != nil || p.Index < 0 || p.Index > 2 {
		t.Fatalf("prediction through the transforms: %+v %v", p, err)
	}
}

func imageOfSize(w, h int) image.Image { return image.NewGray(image.Rect(0, 0, w, h)) }

func TestParseItemTransform(t *testing.T) {
	for _, s := range []string{"Resize(28, 28, Crop)", "Resize(3, 4, Pad)", "CenterCrop(5, 6)", "RandomResizedCrop(32, 32, 0.35)"} {
		tf, err := parseItemTransform(s)
		if err != nil || describe(tf) != s {
			t.Errorf("%s: %v, %v", s, describe(tf), err)
		}
	}
	for _, s := range []string{"Resize(28, 28)", "Resize(0, 28, Crop)", "Resize(28, 28, Zoom)", "Flip()", "Resize(1e9, 2, Crop)", "Resize(2, 2, Crop"} {
		if _, err := parseItemTransform(s); err == nil {
			t.Errorf("%s: parsed", s)
		}
	}
}

// mustBuild builds the whole model of a zoo architecture.
func mustBuild(t testing.TB, a models.Arch, nIn, nOut int, seed uint64) layers.Module {
	t.Helper()
	m, err := a.Build(nIn, nOut, tensor.NewRNG(seed))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// specData is embedded data whose export records the given transform spec
// and class list, as a hostile or broken file would.
type specData struct {
	*DataLoaders
	spec    string
	classes []string
}

func (d specData) TransformSpec() (json.RawMessage, error) { return json.RawMessage(d.spec), nil }
func (d specData) Classes() []string                       { return d.classes }

// TestLoadLearnerChecksPipeline: an export's input shape is checked before
// it sizes anything, and a class list that does not match the model's
// outputs is refused when the file is loaded, naming the field.
func TestLoadLearnerChecksPipeline(t *testing.T) {
	dls, err := EmbeddedFashionMNIST(BatchSize(64))
	if err != nil {
		t.Fatal(err)
	}
	ten := dls.Vocab
	for _, c := range []struct {
		name, spec string
		classes    []string
		want       string
	}{
		{"negative size", `{"channels":1,"item_tfms":[],"input_shape":[1,-28,28]}`, ten, "input_shape"},
		{"huge image", `{"channels":1,"item_tfms":[],"input_shape":[1,1000000,1000000]}`, ten, "input_shape"},
		{"rank 2", `{"channels":1,"item_tfms":[],"input_shape":[28,28]}`, ten, "input_shape"},
		{"channels", `{"channels":-1,"item_tfms":[]}`, ten, "channels"},
		{"short class list", `{"channels":1,"item_tfms":[],"input_shape":[1,28,28]}`, ten[:4], "4 classes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := learner.New(specData{dls, c.spec, c.classes}, models.NewSmallCNN(10, tensor.NewRNG(1)), learner.NoProgress())
			p := filepath.Join(t.TempDir(), "export.safetensors")
			if err := l.Export(p); err != nil {
				t.Fatal(err)
			}
			if _, err := LoadLearner(p); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("LoadLearner: %v, want an error naming %q and the file", err, c.want)
			}
		})
	}
}
