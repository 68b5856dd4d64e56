package models

import (
	"fmt"

	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Arch is an architecture of the model zoo: what vision.CNNLearner builds
// its model from, as fastai's vision_learner takes resnet34. A ResNet
// architecture (ResNet18, ResNet34, ResNet50) is cut into a body to which
// CNNLearner adds fastai's head (transfer learning); the others (SmallCNN,
// CIFARResNet18) are built whole for the data's classes.
type Arch struct {
	// Name names the architecture ("resnet34").
	Name string

	resnet *ResNetConfig                                               // a torchvision ResNet: Block and Layers
	whole  func(nIn, nOut int, rng *tensor.RNG) (layers.Module, error) // a model built whole
}

// The architectures of the zoo.
var (
	// ResNet18 is torchvision's resnet18 (BasicBlock, [2,2,2,2]).
	ResNet18 = Arch{Name: "resnet18", resnet: &ResNetConfig{Block: Basic, Layers: [4]int{2, 2, 2, 2}}}
	// ResNet34 is torchvision's resnet34 (BasicBlock, [3,4,6,3]).
	ResNet34 = Arch{Name: "resnet34", resnet: &ResNetConfig{Block: Basic, Layers: [4]int{3, 4, 6, 3}}}
	// ResNet50 is torchvision's resnet50 (Bottleneck, [3,4,6,3]).
	ResNet50 = Arch{Name: "resnet50", resnet: &ResNetConfig{Block: Bottleneck, Layers: [4]int{3, 4, 6, 3}}}
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
