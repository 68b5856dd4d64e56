package models

import (
	"context"
	"fmt"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/vision/models/weights"
)

// Arch is an architecture of the model zoo: what vision.CNNLearner builds
// its model from, as fastai's vision_learner takes resnet34. A ResNet
// architecture (ResNet18, ResNet34, ResNet50) is cut into a body to which
// CNNLearner adds fastai's head (transfer learning); the others (SmallCNN,
// CIFARResNet18) are built whole for the data's classes. An architecture
// may publish pretrained weights (Published): the zoo's ResNets publish
// torchvision's ImageNet weights, which CNNLearner uses by default.
type Arch struct {
	// Name names the architecture ("resnet34").
	Name string

	resnet    *ResNetConfig                                               // a torchvision ResNet: Block and Layers
	whole     func(nIn, nOut int, rng *tensor.RNG) (layers.Module, error) // a model built whole
	published *weights.File                                               // its pretrained weights, if any
}

// TorchvisionURL is the address torchvision downloads its pretrained
// weights from, followed by the file's name.
const TorchvisionURL = "https://download.pytorch.org/models/"

// torchvision returns the File of torchvision's weights named name, of
// size bytes and SHA-256 sha.
func torchvision(name, sha string, size int64) *weights.File {
	return &weights.File{Name: name, URL: TorchvisionURL + name, SHA256: sha, Size: size}
}

// The architectures of the zoo.
var (
	// ResNet18 is torchvision's resnet18 (BasicBlock, [2,2,2,2]), with its
	// ImageNet weights (ResNet18_Weights.IMAGENET1K_V1,
	// resnet18-f37072fd.pth).
	ResNet18 = Arch{Name: "resnet18", resnet: &ResNetConfig{Block: Basic, Layers: [4]int{2, 2, 2, 2}},
		published: torchvision("resnet18-f37072fd.pth", "f37072fd47e89c5e827621c5baffa7500819f7896bbacec160b1a16c560e07ec", 46830571)}
	// ResNet34 is torchvision's resnet34 (BasicBlock, [3,4,6,3]), with its
	// ImageNet weights (ResNet34_Weights.IMAGENET1K_V1,
	// resnet34-b627a593.pth).
	ResNet34 = Arch{Name: "resnet34", resnet: &ResNetConfig{Block: Basic, Layers: [4]int{3, 4, 6, 3}},
		published: torchvision("resnet34-b627a593.pth", "b627a593bcbe140c234610266fe4f8ae95ea42fc881d091c9b6052e6b1d0590f", 87319819)}
	// ResNet50 is torchvision's resnet50 (Bottleneck, [3,4,6,3]), with its
	// ImageNet weights (ResNet50_Weights.IMAGENET1K_V1,
	// resnet50-0676ba61.pth).
	ResNet50 = Arch{Name: "resnet50", resnet: &ResNetConfig{Block: Bottleneck, Layers: [4]int{3, 4, 6, 3}},
		published: torchvision("resnet50-0676ba61.pth", "0676ba61b6795bbe1773cffd859882e5e297624d384b6993f7c9e683e722fb8a", 102530333)}
	// SmallCNN is the benchmark CNN for 1x28x28 images (see NewSmallCNN).
	SmallCNN = Arch{Name: "smallcnn", whole: func(nIn, nOut int, rng *tensor.RNG) (layers.Module, error) {
		if nIn != 1 {
			return nil, fmt.Errorf("models.SmallCNN takes 1-channel 28x28 images, not %d channels", nIn)
		}
		return NewSmallCNN(nOut, rng), nil
	}}
	// CIFARResNet18 is the CIFAR variant of ResNet-18 for 32x32 images (see
	// NewCIFARResNet18).
	CIFARResNet18 = Arch{Name: "cifar_resnet18", whole: func(nIn, nOut int, rng *tensor.RNG) (layers.Module, error) {
		if nIn < 1 || nIn > maxInChannels {
			return nil, fmt.Errorf("models.CIFARResNet18: %d input channels", nIn)
		}
		return NewCIFARResNet18(nIn, nOut, rng), nil
	}}
)

// Arches lists the architectures of the zoo.
var Arches = []Arch{ResNet18, ResNet34, ResNet50, SmallCNN, CIFARResNet18}

// ArchByName returns the zoo's architecture named name ("resnet34").
func ArchByName(name string) (Arch, bool) {
	for _, a := range Arches {
		if a.Name == name {
			return a, true
		}
	}
	return Arch{}, false
}

// ResNetConfig returns the torchvision ResNet configuration of a ResNet
// architecture for nIn input channels and nClasses outputs, and false for
// an architecture that is not one.
func (a Arch) ResNetConfig(nIn, nClasses int) (ResNetConfig, bool) {
	if a.resnet == nil {
		return ResNetConfig{}, false
	}
	c := *a.resnet
	c.InChannels, c.NumClasses = nIn, nClasses
	return c, true
}

// Build returns the whole model of the architecture for nIn input channels
// and nOut outputs, drawing its initial weights from rng: torchvision's
// ResNet (with its fc) for a ResNet architecture, the model itself for the
// others. vision.CNNLearner builds transfer-learning models instead.
func (a Arch) Build(nIn, nOut int, rng *tensor.RNG) (layers.Module, error) {
	if nIn < 1 || nIn > maxInChannels || nOut < 1 || nOut > maxClasses {
		return nil, fmt.Errorf("models.%s: %d input channels and %d outputs", a.Name, nIn, nOut)
	}
	switch {
	case a.resnet != nil:
		c, _ := a.ResNetConfig(nIn, nOut)
		return NewResNet(c, rng), nil
	case a.whole != nil:
		return a.whole(nIn, nOut, rng)
	}
	return nil, fmt.Errorf("models: the zero Arch has no model")
}

// ResNetArch returns an architecture named name for a torchvision-layout
// ResNet of any depth and widths (cfg's Block, Layers and Widths; its
// InChannels and NumClasses are set by whoever builds it), for CNNLearner.
func ResNetArch(name string, cfg ResNetConfig) Arch {
	cfg.InChannels, cfg.NumClasses = 0, 0
	return Arch{Name: name, resnet: &cfg}
}

// Published returns the architecture's published pretrained weights, and
// false when it has none (SmallCNN, CIFARResNet18, a ResNetArch not given
// any with WithWeights).
func (a Arch) Published() (weights.File, bool) {
	if a.published == nil {
		return weights.File{}, false
	}
	return *a.published, true
}

// WithWeights returns the architecture with f as its published weights
// (a state dict with the layout of its ResNet, such as another
// torchvision weights file), so that CNNLearner and ResolveWeights find or
// download them as they do the zoo's. f must be a valid description (see
// weights.File.Check); a mistake there is a programmer's and panics.
func (a Arch) WithWeights(f weights.File) Arch {
	if err := f.Check(); err != nil {
		panic(fastgo.Errorf("models.%s.WithWeights: %v", a.Name, err))
	}
	a.published = &f
	return a
}

// ResolveWeights returns the path of the architecture's published weights
// on this machine, found or downloaded and verified as weights.Resolve
// says (an explicit path, $FASTGO_WEIGHTS, the fastgo cache, PyTorch's
// cache, then a download into the fastgo cache): the face of package
// weights in the zoo. An architecture that publishes none is an error
// wrapping fastgo.ErrNotFound.
func (a Arch) ResolveWeights(ctx context.Context, opts ...weights.Option) (string, error) {
	f, ok := a.Published()
	if !ok {
		return "", fmt.Errorf("models.%s: no published pretrained weights: %w", a.Name, fastgo.ErrNotFound)
	}
	path, err := weights.Resolve(ctx, f, opts...)
	if err != nil {
		return "", fmt.Errorf("models.%s: %w", a.Name, err)
	}
	return path, nil
}
