package vision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"regexp"
	"strconv"
	"strings"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/vision/models"
)

// Architecture is what CNNLearner builds its model from: an architecture
// of the model zoo (models.ResNet34, models.SmallCNN...) or any function from
// the number of classes to a model, as fastai's vision_learner takes any
// model function.
type Architecture interface {
	models.Arch | func(nOut int) layers.Module
}

// cnnKey keys CNNLearner's options (learner.BuildOption).
type cnnKey int

const (
	keyWeights cnnKey = iota
	keyPretrained
	keyNIn
	keyNOut
	keySeed
)

// Weights gives the file of the pretrained weights of a ResNet
// architecture: a torchvision ResNet's state dict, as torch.save wrote it
// (.pth, .pt: torchvision's own files) or as safetensors, used as it is
// instead of the architecture's published weights (and for an
// architecture that publishes none). As with the published weights, the
// body gets them, the ImageNet normalisation (models.ImageNetStats for the
// input channels) becomes the model's first layer and the body is frozen;
// a stem saved for RGB is adapted to other input channels as fastai does
// (models.AdaptFirstConv). An option of CNNLearner.
func Weights(path string) learner.Option {
	return learner.BuildOption("vision.Weights", keyWeights, path)
}

// FromScratch is fastai's pretrained=False. By default CNNLearner starts a
// ResNet of the zoo from its published ImageNet weights (see CNNLearner),
// as fastai's cnn_learner does; FromScratch trains it from a random
// initialisation instead, with nothing looked for or downloaded. An option
// of CNNLearner.
func FromScratch() learner.Option {
	return learner.BuildOption("vision.FromScratch", keyPretrained, false)
}

// RequirePretrained makes the pretrained weights required: for an
// architecture that publishes none and is given no Weights file it is an
// error, where the default trains from scratch. An option of CNNLearner.
func RequirePretrained() learner.Option {
	return learner.BuildOption("vision.RequirePretrained", keyPretrained, true)
}

// NIn sets the number of input channels (fastai's n_in; default: the
// channels of the data's images). An option of CNNLearner.
func NIn(n int) learner.Option { return learner.BuildOption("vision.NIn", keyNIn, n) }

// NOut sets the number of outputs (default: the number of classes). An
// option of CNNLearner.
func NOut(n int) learner.Option { return learner.BuildOption("vision.NOut", keyNOut, n) }

// InitSeed seeds the model's initialisation and its dropout (default: the
// DataLoaders' seed). An option of CNNLearner.
func InitSeed(seed uint64) learner.Option {
	return learner.BuildOption("vision.InitSeed", keySeed, seed)
}

// CNNLearner is fastai's vision_learner (cnn_learner): a Learner over dls
// for a model of an architecture of the zoo or of a model function, with
// the learner's options (Metrics, Callbacks, LR...) and its own (Weights,
// FromScratch, RequirePretrained, NIn, NOut, InitSeed):
//
//	learn, err := vision.CNNLearner(dls, models.ResNet34, learner.Metrics(learner.Accuracy()))
//	err = learn.FineTune(ctx, 5)
//
// For a ResNet architecture (models.ResNet18, ResNet34, ResNet50) the model
// (a models.CNN) is the architecture's body, cut before its pooling, with
// its stem adapted to NIn input channels as fastai's _update_first_layer
// does, followed by fastai's head for NOut (dls.C()) classes:
// AdaptiveConcatPool2d, Flatten, BatchNorm1d, Dropout(0.25),
// Linear(2*features, 512), ReLU, BatchNorm1d, Dropout(0.5), Linear(512,
// NOut), initialised as fastai does. The Learner's splitter is fastai's for
// ResNets (models.Split: stem to layer2, layer3 and layer4, the head), so
// FineTune and Slice learning rates work as in fastai.
//
// As in fastai, the body is pretrained by default: it gets the
// architecture's published weights (torchvision's ImageNet weights for
// the zoo's ResNets), found on this machine or downloaded once and
// verified (see models.Arch.ResolveWeights: $FASTGO_WEIGHTS, fastgo's
// cache, PyTorch's cache, then https://download.pytorch.org), or the file
// given with Weights; an ImageNet Normalize becomes the model's first layer
// (the data stays in [0,1] pixels, so attacks measure eps in pixels) and
// the body is frozen, ready for FineTune. When the weights can be neither
// found nor downloaded (FASTGO_OFFLINE, no network) CNNLearner fails with
// an error wrapping fastgo.ErrNotFound that says where to put the file; it
// never trains from scratch unasked. FromScratch() trains from scratch,
// with no normalisation (its BatchNorms adapt) and nothing looked for; so
// does the default for an architecture that publishes no weights (a
// models.ResNetArch of your own). CNNLearner looks for (and downloads)
// the weights without a deadline; CNNLearnerContext takes a context that
// bounds the download.
//
// Any other architecture of the zoo (models.SmallCNN, CIFARResNet18) is
// built whole for NIn channels and NOut classes, and a model function is
// called with NOut; their Learners have one layer group and no pretrained
// weights. The zoo's models describe themselves, so that Export and
// LoadLearner work; a model function's model exports when it implements
// layers.Described.
func CNNLearner[A Architecture](dls *DataLoaders, arch A, opts ...learner.Option) (*learner.Learner, error) {
	return CNNLearnerContext(context.Background(), dls, arch, opts...)
}

// CNNLearnerContext is CNNLearner with a context that bounds the look-up
// and download of the pretrained weights: cancelling it stops the
// download, which a later call resumes.
func CNNLearnerContext[A Architecture](ctx context.Context, dls *DataLoaders, arch A, opts ...learner.Option) (*learner.Learner, error) {
	vals, rest := learner.BuildOptions(opts)
	nIn, _ := vals[keyNIn].(int)
	nOut, _ := vals[keyNOut].(int)
	explicit, _ := vals[keyWeights].(string)
	pre, preSet := vals[keyPretrained].(bool)
	seed := dls.cfg.seed
	if s, ok := vals[keySeed].(uint64); ok {
		seed = s
	}
	if nIn == 0 {
		n, err := dataChannels(dls)
		if err != nil {
			return nil, fmt.Errorf("vision.CNNLearner: %w (set NIn)", err)
		}
		nIn = n
	}
	if nOut == 0 {
		nOut = dls.C()
	}
	if nIn < 1 || nIn > 64 || nOut < 1 {
		return nil, fmt.Errorf("vision.CNNLearner: %d input channels and %d outputs", nIn, nOut)
	}
	rng := tensor.NewRNG(seed)
	switch a := any(arch).(type) {
	case func(nOut int) layers.Module:
		if explicit != "" || (preSet && pre) {
			return nil, fmt.Errorf("vision.CNNLearner: pretrained weights apply to the zoo's ResNets, not to a model function")
		}
		m := a(nOut)
		if m == nil {
			return nil, fmt.Errorf("vision.CNNLearner: the model function returned no model")
		}
		return learner.New(dls, m, rest...), nil
	case models.Arch:
		path, err := pretrainedPath(ctx, a, explicit, pre, preSet)
		if err != nil {
			return nil, err
		}
		return resNetLearner(dls, a, nIn, nOut, path, rng, rest)
	}
	panic(fastgo.Errorf("vision.CNNLearner: an architecture of type %T", arch))
}

// pretrainedPath returns the file of a's pretrained weights, or "" to train
// from scratch: the explicit file, else the published weights resolved,
// unless FromScratch() says otherwise or a publishes none.
func pretrainedPath(ctx context.Context, a models.Arch, explicit string, pre, preSet bool) (string, error) {
	_, isResNet := a.ResNetConfig(3, 1)
	_, published := a.Published()
	switch {
	case preSet && !pre:
		if explicit != "" {
			return "", errors.New("vision.CNNLearner: Weights and FromScratch contradict each other")
		}
		return "", nil
	case !isResNet:
		if explicit != "" || pre {
			return "", fmt.Errorf("vision.CNNLearner: pretrained weights apply to the zoo's ResNets, not to %s", a.Name)
		}
		return "", nil
	case explicit != "":
		return explicit, nil
	case !published:
		if pre {
			return "", fmt.Errorf("vision.CNNLearner: %s publishes no pretrained weights: give their file with vision.Weights: %w", a.Name, fastgo.ErrNotFound)
		}
		return "", nil
	}
	path, err := a.ResolveWeights(ctx)
	if err != nil {
		return "", fmt.Errorf("vision.CNNLearner: %w (vision.FromScratch() trains from scratch)", err)
	}
	return path, nil
}

// resNetLearner is CNNLearner for an architecture of the zoo.
func resNetLearner(dls *DataLoaders, a models.Arch, nIn, nOut int, weights string, rng *tensor.RNG, opts []learner.Option) (*learner.Learner, error) {
	rc, isResNet := a.ResNetConfig(nIn, 1)
	if !isResNet {
		m, err := a.Build(nIn, nOut, rng)
		if err != nil {
			return nil, fmt.Errorf("vision.CNNLearner: %w", err)
		}
		return learner.New(dls, m, opts...), nil
	}
	// models.NewCNN builds the same model from the configuration that
	// Export records: keep the two in step.
	r := models.NewResNet(rc, rng)
	if nIn != 3 {
		layers.KaimingUniform(r.Conv1.Weight.Data(), rng)
	}
	var mean, std []float32
	if weights != "" {
		if err := models.LoadPretrained(r, weights); err != nil {
			return nil, fmt.Errorf("vision.CNNLearner: %w", err)
		}
		mean, std = models.ImageNetStats(nIn)
	}
	model := models.CNNFromResNet(r, nOut, mean, std, rng)
	l := learner.New(dls, model, append([]learner.Option{learner.WithSplitter(models.Split)}, opts...)...)
	if weights != "" {
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
		s.ItemTfms = append(s.ItemTfms, describe(inferenceForm(t)))
	}
	for _, t := range d.cfg.batchTfms {
		s.BatchTfms = append(s.BatchTfms, describe(t))
	}
	if d.Valid != nil && d.Valid.Dataset().Len() > 0 {
		x, err := d.Valid.Dataset().Image(0)
		if err == nil {
			for _, t := range d.cfg.itemTfms {
				x = t.TransformItem(x, nil, ValidSplit)
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
		// The transforms' constructors refuse more pixels than an image may
		// have; a file gets an error instead.
		if n >= 2 && out[0] > MaxImagePixels/out[1] {
			return nil, fmt.Errorf("item transform %q: %dx%d is more than MaxImagePixels (%d): %w", s, out[0], out[1], MaxImagePixels, fastgo.ErrFormat)
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

// LoadLearner reads a file written by learner.Export (for a model of the
// zoo, or any model of a registered architecture) and returns it ready for
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
		return nil, fmt.Errorf("vision.LoadLearner: %s: field %s: %v: %w", path, "fastgo.transforms", err, fastgo.ErrFormat)
	}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("vision.LoadLearner: %s: field %s: %w", path, "fastgo.transforms", err)
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
	if e.InputShape != nil {
		if err := e.checkOutputs(); err != nil {
			return nil, fmt.Errorf("vision.LoadLearner: %s: %w", path, err)
		}
	}
	return e, nil
}

// Bounds of an export's data pipeline: the decode budget of the image
// readers (MaxImagePixels) bounds the input too.
const (
	maxInChannels = 64
	maxItemTfms   = 16
)

// check validates a transform spec read from a file before anything is
// sized by it.
func (s transformSpec) check() error {
	if s.Channels < 0 || s.Channels > maxInChannels {
		return fmt.Errorf("%d channels, want 1 to %d: %w", s.Channels, maxInChannels, fastgo.ErrFormat)
	}
	if len(s.ItemTfms) > maxItemTfms || len(s.BatchTfms) > maxItemTfms {
		return fmt.Errorf("%d item and %d batch transforms, want at most %d: %w", len(s.ItemTfms), len(s.BatchTfms), maxItemTfms, fastgo.ErrFormat)
	}
	if s.InputShape == nil {
		return nil
	}
	if len(s.InputShape) != 3 {
		return fmt.Errorf("input_shape %v, want [C, H, W]: %w", s.InputShape, fastgo.ErrFormat)
	}
	c, h, w := s.InputShape[0], s.InputShape[1], s.InputShape[2]
	if c < 1 || c > maxInChannels || h < 1 || w < 1 || h > MaxImagePixels/w || (s.Channels != 0 && c != s.Channels) {
		return fmt.Errorf("input_shape %v for %d channels: want positive sizes, at most %d channels and %d pixels: %w", s.InputShape, s.Channels, maxInChannels, MaxImagePixels, fastgo.ErrFormat)
	}
	return nil
}

// checkOutputs runs the model once on a blank input of InputShape and
// checks it gives one score per class: an export whose class list does
// not match its model is refused here, not at the first prediction.
func (e *ExportedLearner) checkOutputs() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the model fails on its input_shape %v: %v: %w", e.InputShape, r, fastgo.ErrShape)
		}
	}()
	p, err := e.Learner.Predict(tensor.Zeros(e.InputShape...))
	if err != nil {
		return err
	}
	if len(p.Probs) != len(e.Classes) {
		return fmt.Errorf("the model gives %d scores for %d classes (field fastgo.classes): %w", len(p.Probs), len(e.Classes), fastgo.ErrShape)
	}
	return nil
}

// Prepare applies the item transforms, in their validation form, to an
// image [C,H,W] in [0,1].
func (e *ExportedLearner) Prepare(x *tensor.Tensor) *tensor.Tensor {
	for _, t := range e.ItemTfms {
		x = t.TransformItem(x, nil, ValidSplit)
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
