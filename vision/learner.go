package vision

import (
	"encoding/json"
	"fmt"
	"image"
	"regexp"
	"strconv"
	"strings"

	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/vision/models"
)

// The architectures of the model zoo, registered for learner.LoadLearner.
const (
	// ArchCNN is CNNLearner's model, a models.CNN (config: models.CNNConfig).
	ArchCNN = "fastgo.cnn"
	// ArchSmallCNN is models.SmallCNN (config: {"classes": n}).
	ArchSmallCNN = "fastgo.smallcnn"
	// ArchResNet is a whole torchvision-layout models.ResNet (config:
	// models.ResNetConfig).
	ArchResNet = "fastgo.resnet"
	// ArchCIFARResNet18 is models.CIFARResNet18 (config: {"in_channels": c,
	// "classes": n}).
	ArchCIFARResNet18 = "fastgo.cifar_resnet18"
)

type smallCNNConfig struct {
	Classes int `json:"classes"`
}

type cifarConfig struct {
	InChannels int `json:"in_channels"`
	Classes    int `json:"classes"`
}

// maxArchParams bounds the size of a model that an exported file may ask
// for (3e8 parameters, 1.2 GB: ResNet-152 has 6e7): the configuration is
// outside data.
const maxArchParams = 3e8

// archBuilders build the zoo's models from an Export's configuration; each
// checks the configuration first (checkArch) so that a hostile file gets
// an error, not a panic or an unbounded allocation.
var archBuilders = map[string]func(raw json.RawMessage, build bool) (layers.Module, error){
	ArchCNN: func(raw json.RawMessage, build bool) (layers.Module, error) {
		var c models.CNNConfig
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		n, err := resNetParams(c.ResNet)
		if err != nil {
			return nil, err
		}
		if c.NOut <= 0 || c.NOut > 1<<16 || len(c.Mean) != len(c.Std) || (len(c.Mean) != 0 && len(c.Mean) != max(c.ResNet.InChannels, 3)) {
			return nil, fmt.Errorf("%d outputs, %d means and %d stds for %d input channels", c.NOut, len(c.Mean), len(c.Std), c.ResNet.InChannels)
		}
		for _, s := range c.Std {
			if !(s > 0) {
				return nil, fmt.Errorf("normalisation std %g", s)
			}
		}
		if n+float64(c.NOut)*512 > maxArchParams || !build {
			return nil, sizeErr(n)
		}
		return models.NewCNN(c, tensor.NewRNG(0)), nil
	},
	ArchSmallCNN: func(raw json.RawMessage, build bool) (layers.Module, error) {
		var c smallCNNConfig
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		if c.Classes <= 0 || c.Classes > 1<<16 {
			return nil, fmt.Errorf("%d classes", c.Classes)
		}
		if !build {
			return nil, sizeErr(0)
		}
		return models.NewSmallCNN(c.Classes, tensor.NewRNG(0)), nil
	},
	ArchResNet: func(raw json.RawMessage, build bool) (layers.Module, error) {
		var c models.ResNetConfig
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		n, err := resNetParams(c)
		if err != nil {
			return nil, err
		}
		if n > maxArchParams || !build {
			return nil, sizeErr(n)
		}
		return models.NewResNet(c, tensor.NewRNG(0)), nil
	},
	ArchCIFARResNet18: func(raw json.RawMessage, build bool) (layers.Module, error) {
		var c cifarConfig
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		if c.InChannels <= 0 || c.InChannels > 64 || c.Classes <= 0 || c.Classes > 1<<16 {
			return nil, fmt.Errorf("%d input channels, %d classes", c.InChannels, c.Classes)
		}
		if !build {
			return nil, sizeErr(0)
		}
		return models.NewCIFARResNet18(c.InChannels, c.Classes, tensor.NewRNG(0)), nil
	},
}

// errCheckOnly is returned by a builder asked only to check.
var errCheckOnly = fmt.Errorf("vision: configuration checked, not built")

func sizeErr(n float64) error {
	if n > maxArchParams {
		return fmt.Errorf("a model of about %.3g parameters (the limit is %.3g)", n, float64(maxArchParams))
	}
	return errCheckOnly
}

func init() {
	for name, b := range archBuilders {
		learner.RegisterArch(name, func(raw json.RawMessage) (layers.Module, error) { return b(raw, true) })
	}
}

// resNetParams checks a ResNet configuration read from a file and
// estimates its parameters.
func resNetParams(c models.ResNetConfig) (float64, error) {
	if c.Block != models.Basic && c.Block != models.Bottleneck {
		return 0, fmt.Errorf("unknown ResNet block %d", c.Block)
	}
	if c.InChannels < 0 || c.InChannels > 64 || c.NumClasses < 0 || c.NumClasses > 1<<16 {
		return 0, fmt.Errorf("ResNet with %d input channels and %d classes", c.InChannels, c.NumClasses)
	}
	widths := c.Widths
	if widths == [4]int{} {
		widths = [4]int{64, 128, 256, 512}
	}
	exp := 1.0
	if c.Block == models.Bottleneck {
		exp = 4
	}
	n := 0.0
	for i := range c.Layers {
		if c.Layers[i] < 1 || c.Layers[i] > 256 || widths[i] < 1 || widths[i] > 8192 {
			return 0, fmt.Errorf("ResNet stage %d: %d blocks of width %d", i+1, c.Layers[i], widths[i])
		}
		w := float64(widths[i])
		n += float64(c.Layers[i]) * (9*w*w + 2*exp*w*w*exp + 2*exp*w*w) // generous for either block
	}
	return n + float64(c.NumClasses)*4*float64(widths[3]), nil
}

// ArchSpecOf returns the registered architecture of a model of the zoo
// (models.CNN, SmallCNN, ResNet, CIFARResNet18), for learner.Export, and
// false for any other model.
func ArchSpecOf(m layers.Module) (*learner.ArchSpec, bool) {
	spec := func(name string, cfg any) (*learner.ArchSpec, bool) {
		raw, err := json.Marshal(cfg)
		if err != nil {
			return nil, false
		}
		return &learner.ArchSpec{Name: name, Config: raw}, true
	}
	switch m := m.(type) {
	case *models.CNN:
		return spec(ArchCNN, m.Config)
	case *models.SmallCNN:
		return spec(ArchSmallCNN, smallCNNConfig{Classes: m.FC2.Weight.Shape()[0]})
	case *models.ResNet:
		return spec(ArchResNet, m.Config)
	case *models.CIFARResNet18:
		return spec(ArchCIFARResNet18, cifarConfig{InChannels: m.Conv1.Weight.Shape()[1], Classes: m.FC.Weight.Shape()[0]})
	}
	return nil, false
}

// Learner returns a Learner over dls for any model (learner.New with the
// DataLoaders as its Data); for a model of the zoo it also sets the
// learner's Arch, so that Export works.
func Learner(dls *DataLoaders, model layers.Module, opts ...learner.Option) *learner.Learner {
	l := learner.New(dls, model, opts...)
	if spec, ok := ArchSpecOf(model); ok {
		l.Arch = spec
	}
	return l
}

// CNNOption configures CNNLearner.
type CNNOption func(*cnnConfig)

type cnnConfig struct {
	pretrained string
	nIn, nOut  int
	seed       *uint64
	learnOpts  []learner.Option
}

// Pretrained loads torchvision-named weights (a torchvision ResNet's
// state_dict saved as safetensors) into the body, puts the ImageNet
// normalisation (models.ImageNetStats for the input channels) in front of
// the model, and freezes the body, as fastai's vision_learner with
// pretrained=True. A stem saved for RGB is adapted to other input channels
// as fastai does (models.AdaptFirstConv).
func Pretrained(path string) CNNOption { return func(c *cnnConfig) { c.pretrained = path } }

// NIn sets the number of input channels (fastai's n_in; default: the
// channels of the data's images).
func NIn(n int) CNNOption { return func(c *cnnConfig) { c.nIn = n } }

// NOut sets the number of outputs (default: the number of classes).
func NOut(n int) CNNOption { return func(c *cnnConfig) { c.nOut = n } }

// InitSeed seeds the model's initialisation and its dropout (default: the
// DataLoaders' seed).
func InitSeed(seed uint64) CNNOption { return func(c *cnnConfig) { c.seed = &seed } }

// LearnerOptions passes options (metrics, loss, optimizer, callbacks...) to
// the Learner that CNNLearner makes.
func LearnerOptions(opts ...learner.Option) CNNOption {
	return func(c *cnnConfig) { c.learnOpts = append(c.learnOpts, opts...) }
}

// CNNLearner is fastai's vision_learner (the brief's cnn_learner) for a
// ResNet architecture of the zoo (models.ResNet18, ResNet34, ResNet50, or
// any models.ResNetArch):
//
//	learn, err := vision.CNNLearner(dls, models.ResNet34,
//		vision.Pretrained("resnet34.safetensors"),
//		vision.LearnerOptions(learner.Metrics(learner.Accuracy())))
//	err = learn.FineTune(ctx, 5, nil)
//
// The model (a models.CNN) is the architecture's body, cut before its
// pooling, with its stem adapted to NIn input channels as fastai's
// _update_first_layer does, followed by fastai's head for NOut (dls.C())
// classes: AdaptiveConcatPool2d, Flatten, BatchNorm1d, Dropout(0.25),
// Linear(2*features, 512), ReLU, BatchNorm1d, Dropout(0.5), Linear(512,
// NOut), initialised as fastai does. The Learner's splitter is fastai's for
// ResNets (models.Split: stem to layer2, layer3 and layer4, the head), so
// FineTune and Slice learning rates work as in fastai. With Pretrained, the
// body gets the file's weights, an ImageNet Normalize becomes the model's
// first layer (the data stays in [0,1] pixels, so attacks measure eps in
// pixels) and the body is frozen; without it the model is trained from
// scratch, with no normalisation (its BatchNorms adapt). The learner's Arch
// is set, so that Export and LoadLearner work.
func CNNLearner(dls *DataLoaders, arch models.ResNetArch, opts ...CNNOption) (*learner.Learner, error) {
	c := cnnConfig{}
	for _, o := range opts {
		o(&c)
	}
	if arch == nil {
		return nil, fmt.Errorf("vision.CNNLearner: no architecture")
	}
	if c.nIn == 0 {
		n, err := dataChannels(dls)
		if err != nil {
			return nil, fmt.Errorf("vision.CNNLearner: %w (set NIn)", err)
		}
		c.nIn = n
	}
	if c.nOut == 0 {
		c.nOut = dls.C()
	}
	if c.nIn < 1 || c.nIn > 64 || c.nOut < 1 {
		return nil, fmt.Errorf("vision.CNNLearner: %d input channels and %d outputs", c.nIn, c.nOut)
	}
	seed := dls.cfg.seed
	if c.seed != nil {
		seed = *c.seed
	}
	rng := tensor.NewRNG(seed)
	// models.NewCNN builds the same model from the configuration that
	// Export records: keep the two in step.
	r := arch(models.ResNetConfig{InChannels: c.nIn, NumClasses: 1}, rng)
	if r == nil || r.Config.InChannels != c.nIn {
		return nil, fmt.Errorf("vision.CNNLearner: the architecture ignored its %d input channels", c.nIn)
	}
	if c.nIn != 3 {
		layers.KaimingUniform(r.Conv1.Weight.Data(), rng)
	}
	var mean, std []float32
	if c.pretrained != "" {
		if err := models.LoadPretrained(r, c.pretrained); err != nil {
			return nil, fmt.Errorf("vision.CNNLearner: %w", err)
		}
		mean, std = models.ImageNetStats(c.nIn)
	}
	model := models.CNNFromResNet(r, c.nOut, mean, std, rng)
	l := learner.New(dls, model, append([]learner.Option{learner.WithSplitter(models.Split)}, c.learnOpts...)...)
	l.Arch, _ = ArchSpecOf(model)
	if c.pretrained != "" {
		l.Freeze()
	}
	return l, nil
}

// dataChannels returns the channels of the data's first image.
func dataChannels(dls *DataLoaders) (int, error) {
	for _, dl := range []*DataLoader{dls.Valid, dls.Train} {
		if dl == nil || dl.Dataset().Len() == 0 {
			continue
		}
		x, err := dl.Dataset().Image(0)
		if err != nil {
			return 0, err
		}
		if x.Rank() != 3 {
			return 0, fmt.Errorf("an image of shape %v, want [C,H,W]", x.Shape())
		}
		return x.Dim(0), nil
	}
	return 0, fmt.Errorf("no image to read the channels from")
}

// transformSpec is what Export records of the data pipeline.
type transformSpec struct {
	// Channels is the number of channels images are decoded to.
	Channels int `json:"channels"`
	// ItemTfms are the item transforms, as their constructor calls
	// ("Resize(224, 224, Crop)").
	ItemTfms []string `json:"item_tfms"`
	// BatchTfms names the batch transforms (training augmentations; none
	// is needed for inference).
	BatchTfms []string `json:"batch_tfms,omitempty"`
	// InputShape is the [C,H,W] of a validation item after the item
	// transforms.
	InputShape []int `json:"input_shape,omitempty"`
}

// TransformSpec describes the data pipeline for learner.Export: the
// channels images are decoded to, the item transforms as their
// constructor calls, the batch transforms' names and the shape of a
// validation item. LoadLearner rebuilds the item transforms from it.
func (d *DataLoaders) TransformSpec() (json.RawMessage, error) {
	s := transformSpec{Channels: d.cfg.channels, ItemTfms: []string{}}
	for _, t := range d.cfg.itemTfms {
		s.ItemTfms = append(s.ItemTfms, describe(t))
	}
	for _, t := range d.cfg.batchTfms {
		s.BatchTfms = append(s.BatchTfms, describe(t))
	}
	if d.Valid != nil && d.Valid.Dataset().Len() > 0 {
		x, err := d.Valid.Dataset().Image(0)
		if err == nil {
			for _, t := range d.cfg.itemTfms {
				x = t.TransformItem(x, nil, false)
			}
			s.InputShape = x.Shape()
			s.Channels = x.Dim(0)
		}
	}
	return json.Marshal(s)
}

// describe returns a transform's constructor call (its String) or its type.
func describe(t any) string {
	if s, ok := t.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("%T", t)
}

var tfmCall = regexp.MustCompile(`^(\w+)\(([^()]*)\)$`)

// parseItemTransform rebuilds an item transform from its constructor call.
func parseItemTransform(s string) (ItemTransform, error) {
	m := tfmCall.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return nil, fmt.Errorf("item transform %q is not a constructor call", s)
	}
	var args []string
	for _, a := range strings.Split(m[2], ",") {
		args = append(args, strings.TrimSpace(a))
	}
	ints := func(n int) ([]int, error) {
		out := make([]int, n)
		for i := range out {
			v, err := strconv.Atoi(args[i])
			if err != nil || v < 1 || v > 1<<14 {
				return nil, fmt.Errorf("item transform %q: argument %d", s, i+1)
			}
			out[i] = v
		}
		return out, nil
	}
	switch {
	case m[1] == "Resize" && len(args) == 3:
		hw, err := ints(2)
		if err != nil {
			return nil, err
		}
		for _, mode := range []ResizeMode{Crop, Pad, Squish} {
			if mode.String() == args[2] {
				return Resize(hw[0], hw[1], mode), nil
			}
		}
		return nil, fmt.Errorf("item transform %q: unknown mode %q", s, args[2])
	case m[1] == "CenterCrop" && len(args) == 2:
		hw, err := ints(2)
		if err != nil {
			return nil, err
		}
		return CenterCrop(hw[0], hw[1]), nil
	case m[1] == "RandomResizedCrop" && len(args) == 3:
		hw, err := ints(2)
		if err != nil {
			return nil, err
		}
		scale, err := strconv.ParseFloat(args[2], 64)
		if err != nil {
			return nil, fmt.Errorf("item transform %q: min scale", s)
		}
		return RandomResizedCrop(hw[0], hw[1], scale), nil
	}
	return nil, fmt.Errorf("item transform %q cannot be rebuilt (known: Resize, CenterCrop, RandomResizedCrop)", s)
}

// ExportedLearner is a Learner loaded from an Export file, with the data
// pipeline recorded there, ready to classify images.
type ExportedLearner struct {
	*learner.Learner
	// Classes are the class names.
	Classes []string
	// Channels is the number of channels images are decoded to.
	Channels int
	// ItemTfms are the recorded item transforms, applied in their
	// validation form.
	ItemTfms []ItemTransform
	// InputShape is the [C,H,W] the model was exported for (nil if not
	// recorded).
	InputShape []int
}

// LoadLearner reads a file written by learner.Export for a model of the
// zoo (CNNLearner's, or one made with Learner) and returns it ready for
// inference, with its data pipeline, without the training code or data
// (fastai's load_learner).
func LoadLearner(path string, opts ...learner.Option) (*ExportedLearner, error) {
	l, ex, err := learner.LoadLearner(path, opts...)
	if err != nil {
		return nil, err
	}
	e := &ExportedLearner{Learner: l, Classes: ex.Classes, Channels: 3}
	if len(ex.Transforms) == 0 {
		return e, nil
	}
	var s transformSpec
	if err := json.Unmarshal(ex.Transforms, &s); err != nil {
		return nil, fmt.Errorf("vision.LoadLearner: %s: transforms: %w", path, err)
	}
	if s.Channels != 0 {
		e.Channels = s.Channels
	}
	e.InputShape = s.InputShape
	for _, t := range s.ItemTfms {
		tf, err := parseItemTransform(t)
		if err != nil {
			return nil, fmt.Errorf("vision.LoadLearner: %s: %w", path, err)
		}
		e.ItemTfms = append(e.ItemTfms, tf)
	}
	return e, nil
}

// Prepare applies the item transforms, in their validation form, to an
// image [C,H,W] in [0,1].
func (e *ExportedLearner) Prepare(x *tensor.Tensor) *tensor.Tensor {
	for _, t := range e.ItemTfms {
		x = t.TransformItem(x, nil, false)
	}
	return x
}

// PredictImage classifies an image: it is converted to Channels channels,
// transformed as the validation set was, and passed to Predict.
func (e *ExportedLearner) PredictImage(img image.Image) (learner.Prediction, error) {
	x, err := FromImage(img, e.Channels)
	if err != nil {
		return learner.Prediction{}, err
	}
	return e.predict(x)
}

// PredictFile classifies an image file (PNG, JPEG, GIF, BMP, TIFF, WebP),
// as PredictImage.
func (e *ExportedLearner) PredictFile(path string) (learner.Prediction, error) {
	x, err := LoadImage(path, e.Channels)
	if err != nil {
		return learner.Prediction{}, err
	}
	return e.predict(x)
}

func (e *ExportedLearner) predict(x *tensor.Tensor) (learner.Prediction, error) {
	x = e.Prepare(x)
	if e.InputShape != nil && !tensor.SameShape(x.Shape(), e.InputShape) {
		return learner.Prediction{}, fmt.Errorf("vision: the image becomes %v after the item transforms; the model was exported for %v", x.Shape(), e.InputShape)
	}
	return e.Learner.Predict(x)
}
