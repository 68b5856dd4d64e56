package models

import (
	"fmt"
	"sort"
	"strings"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
)

// CNNConfig describes a CNN: the ResNet its body is cut from, the number of
// classes, the input normalisation and fastai's head settings. It is what
// Export records to rebuild the model.
type CNNConfig struct {
	// ResNet is the body's architecture; InChannels is fastai's n_in
	// (NumClasses is ignored: the ResNet's fc is cut off).
	ResNet ResNetConfig `json:"resnet"`
	// NOut is the number of classes the head outputs.
	NOut int `json:"n_out"`
	// Mean and Std, when set, make a Normalize the model's first layer
	// (one value per input channel).
	Mean []float32 `json:"mean,omitempty"`
	Std  []float32 `json:"std,omitempty"`
}

// CNN is fastai's create_cnn_model over a ResNet: an optional input
// Normalize, the ResNet's body (cut before its pooling) and fastai's head
// (see Head). Its state dict has the names of fastai's nn.Sequential(body,
// head), "0.0.weight" (the stem conv) ... "1.8.weight" (the last Linear), so
// a fastai model's weights load into it; the Normalize has no state.
type CNN struct {
	layers.Base
	// Norm is the input normalisation, or nil.
	Norm *layers.Normalize
	// Body is the ResNet cut before its pooling: conv1, bn1, relu, maxpool,
	// layer1..4 (named 0..7).
	Body *layers.Sequential
	// Head is fastai's head (named 0..8).
	Head *layers.Sequential
	// Config is what the model was built from.
	Config CNNConfig
}

// NewCNN builds a CNN from cfg with fresh weights, initialised as fastai's
// create_cnn_model initialises a model without pretrained weights: the
// body as torchvision does, except that a stem for other than 3 input
// channels gets PyTorch's default Conv2d initialisation (fastai makes a new
// nn.Conv2d), and the head as Head does.
func NewCNN(cfg CNNConfig, rng *tensor.RNG) *CNN {
	if cfg.NOut <= 0 {
		panic(fastgo.Errorf("models.NewCNN: %d outputs", cfg.NOut))
	}
	rng = layers.OrDefault(rng)
	rc := cfg.ResNet
	r := NewResNet(rc, rng)
	if r.Config.InChannels != 3 {
		layers.KaimingUniform(r.Conv1.Weight.Data(), rng)
	}
	return CNNFromResNet(r, cfg.NOut, cfg.Mean, cfg.Std, rng)
}

// CNNFromResNet cuts r before its pooling (fastai's create_body with the
// ResNet cut, -2) and adds fastai's head for nOut classes, drawn from rng,
// and, when mean and std are given, a Normalize in front. The CNN shares
// r's body modules.
func CNNFromResNet(r *ResNet, nOut int, mean, std []float32, rng *tensor.RNG) *CNN {
	if nOut <= 0 {
		panic(fastgo.Errorf("models.CNNFromResNet: %d outputs", nOut))
	}
	cfg := CNNConfig{ResNet: r.Config, NOut: nOut, Mean: mean, Std: std}
	if len(cfg.Mean) != len(cfg.Std) || (len(cfg.Mean) != 0 && len(cfg.Mean) != r.Config.InChannels) {
		panic(fastgo.Errorf("models.NewCNN: normalisation of %d means and %d stds for %d input channels", len(cfg.Mean), len(cfg.Std), r.Config.InChannels))
	}
	m := &CNN{Config: cfg}
	if len(cfg.Mean) > 0 {
		m.Norm = layers.Register(&m.Base, "norm", layers.NewNormalize(cfg.Mean, cfg.Std))
	}
	m.Body = layers.Register(&m.Base, "0", r.BodySequential())
	m.Head = layers.Register(&m.Base, "1", Head(r.Features, cfg.NOut, rng))
	return m
}

// Forward maps x [N, InChannels, H, W] in [0,1] pixels to logits [N, NOut].
func (m *CNN) Forward(x *autograd.Value) *autograd.Value {
	if m.Norm != nil {
		x = layers.Call(m.Norm, x)
	}
	return layers.Call(m.Head, layers.Call(m.Body, x))
}

// Split is fastai's ResNet splitter (_resnet_split): three layer groups,
// the body's stem, layer1 and layer2 (body children 0..5), then layer3 and
// layer4 (6..7), then the head, so that FineTune and discriminative
// learning rates treat them as fastai does. Use it as the Learner's
// Splitter; m must be a *CNN.
func Split(m layers.Module) [][]layers.NamedParam {
	if _, ok := m.(*CNN); !ok {
		panic(fastgo.Errorf("models.Split: a %T is not a *models.CNN", m))
	}
	groups := make([][]layers.NamedParam, 3)
	for _, np := range layers.NamedParameters(m) {
		g := 2
		if rest, ok := strings.CutPrefix(np.Name, "0."); ok {
			g = 0
			if strings.HasPrefix(rest, "6.") || strings.HasPrefix(rest, "7.") {
				g = 1
			}
		}
		groups[g] = append(groups[g], np)
	}
	return groups
}

// AdaptFirstConv turns a stem convolution's pretrained weights w [out, 3,
// k, k] into weights for nIn input channels, as fastai's
// _load_pretrained_weights: the sum over the three channels for one
// channel (a grey image then gives the output that its grey RGB copy
// would), the first two channels times 1.5 for two, and for more the three
// channels followed by zeros.
func AdaptFirstConv(w *tensor.Tensor, nIn int) (*tensor.Tensor, error) {
	if w.Rank() != 4 || w.Dim(1) != 3 {
		return nil, fmt.Errorf("models.AdaptFirstConv: weights of shape %v, want [out, 3, k, k]", w.Shape())
	}
	if nIn < 1 {
		return nil, fmt.Errorf("models.AdaptFirstConv: %d input channels", nIn)
	}
	out, kk := w.Dim(0), w.Dim(2)*w.Dim(3)
	res := tensor.Zeros(out, nIn, w.Dim(2), w.Dim(3))
	src, dst := w.Data(), res.Data()
	for o := 0; o < out; o++ {
		for k := 0; k < kk; k++ {
			s := func(c int) float32 { return src[(o*3+c)*kk+k] }
			d := func(c int) *float32 { return &dst[(o*nIn+c)*kk+k] }
			switch nIn {
			case 1:
				*d(0) = s(0) + s(1) + s(2)
			case 2:
				*d(0), *d(1) = s(0)*1.5, s(1)*1.5
			default:
				*d(0), *d(1), *d(2) = s(0), s(1), s(2)
			}
		}
	}
	return res, nil
}

// LoadPretrained loads torchvision-named ResNet weights from the state
// dict at path (conv1.weight, bn1.running_mean, layer1.0.conv1.weight...):
// torch.save's .pth or .pt (torchvision's own files, such as
// resnet18-f37072fd.pth) or a safetensors file, told apart by their first
// bytes (layers.ReadStateDict). The file's fc.* entries, if any, are
// ignored; every other entry of the body must be present with its shape. A
// stem saved for 3 channels is adapted to r's input channels with
// AdaptFirstConv. On error r is unchanged and the error names the file and
// the entries at fault.
func LoadPretrained(r *ResNet, path string) error {
	src, err := layers.ReadStateDict(path)
	if err != nil {
		return fmt.Errorf("models.LoadPretrained: %w", err)
	}
	want := layers.GetStateDict(r.BodySequential())
	// The body's names are 0..7 of the Sequential; the file's are
	// torchvision's: map them.
	tv := []string{"conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"}
	toTV := func(n string) string {
		i, rest, _ := strings.Cut(n, ".")
		var k int
		fmt.Sscan(i, &k)
		return tv[k] + "." + rest
	}
	sd := &layers.StateDict{Tensors: map[string]*tensor.Tensor{}, Ints: map[string]int64{}}
	used := map[string]bool{}
	var missing, bad []string
	for _, n := range want.Names {
		name := toTV(n)
		t, isFloat := src.Tensors[name]
		v, isInt := src.Ints[name]
		_, wantInt := want.Ints[n]
		if !isFloat && !isInt {
			missing = append(missing, name)
			continue
		}
		used[name] = true
		sd.Names = append(sd.Names, n)
		switch {
		case wantInt && !isInt:
			bad = append(bad, fmt.Sprintf("%s: not one integer", name))
			continue
		case !wantInt && !isFloat:
			bad = append(bad, fmt.Sprintf("%s: integer, want float", name))
			continue
		case wantInt:
			sd.Ints[n] = v
			continue
		}
		if name == "conv1.weight" && t.Rank() == 4 && t.Dim(1) == 3 && r.Config.InChannels != 3 {
			if t, err = AdaptFirstConv(t, r.Config.InChannels); err != nil {
				bad = append(bad, fmt.Sprintf("%s: %v", name, err))
				continue
			}
		}
		if wt := want.Tensors[n]; !tensor.SameShape(t.Shape(), wt.Shape()) {
			bad = append(bad, fmt.Sprintf("%s: shape %v, want %v", name, t.Shape(), wt.Shape()))
			continue
		}
		sd.Tensors[n] = t
	}
	var unexpected []string
	for _, n := range src.Names {
		if !used[n] && !strings.HasPrefix(n, "fc.") {
			unexpected = append(unexpected, n)
		}
	}
	sort.Strings(unexpected)
	if len(missing)+len(bad)+len(unexpected) > 0 {
		return fmt.Errorf("models.LoadPretrained: %s does not hold torchvision weights for this ResNet: %s", path,
			problems(missing, bad, unexpected))
	}
	if _, err := layers.LoadStateDict(r.BodySequential(), sd); err != nil {
		return fmt.Errorf("models.LoadPretrained: %s: %w", path, err)
	}
	return nil
}

// problems summarises what a load lacked, at most 5 names of each kind.
func problems(missing, bad, unexpected []string) string {
	var parts []string
	for _, p := range []struct {
		what  string
		names []string
	}{{"missing", missing}, {"wrong", bad}, {"unexpected", unexpected}} {
		if len(p.names) == 0 {
			continue
		}
		names := p.names
		more := ""
		if len(names) > 5 {
			names, more = names[:5], fmt.Sprintf(" and %d more", len(p.names)-5)
		}
		parts = append(parts, fmt.Sprintf("%d %s (%s%s)", len(p.names), p.what, strings.Join(names, ", "), more))
	}
	return strings.Join(parts, "; ")
}

// ImageNetStats returns the normalisation that pretrained ImageNet weights
// expect for nIn input channels: torchvision's per-channel statistics for
// 3, their means for 1 (a grey image), the first two for 2, and for more
// the three followed by mean 0 and std 1.
func ImageNetStats(nIn int) (mean, std []float32) {
	m, s := layers.ImageNetMean, layers.ImageNetStd
	switch {
	case nIn == 1:
		return []float32{(m[0] + m[1] + m[2]) / 3}, []float32{(s[0] + s[1] + s[2]) / 3}
	case nIn == 2:
		return append([]float32(nil), m[:2]...), append([]float32(nil), s[:2]...)
	}
	mean, std = append([]float32(nil), m...), append([]float32(nil), s...)
	for c := 3; c < nIn; c++ {
		mean, std = append(mean, 0), append(std, 1)
	}
	return mean, std
}
