package models

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
)

// The names the zoo's models are registered under (layers.RegisterArch), as
// exports record them.
const (
	// ArchCNN is a CNN (config: CNNConfig).
	ArchCNN = "fastgo.cnn"
	// ArchSmallCNN is a SmallCNN (config: {"classes": n}).
	ArchSmallCNN = "fastgo.smallcnn"
	// ArchResNet is a whole torchvision-layout ResNet (config: ResNetConfig).
	ArchResNet = "fastgo.resnet"
	// ArchCIFARResNet18 is a CIFARResNet18 (config: {"in_channels": c,
	// "classes": n}).
	ArchCIFARResNet18 = "fastgo.cifar_resnet18"
)

// The bounds a configuration read from a file must keep within before
// anything is allocated: an export is outside data.
const (
	maxArchParams = 3e8 // 1.2 GB of weights; ResNet-152 has 6e7
	maxInChannels = 64
	maxClasses    = 1 << 16
)

type smallCNNConfig struct {
	Classes int `json:"classes"`
}

type cifarConfig struct {
	InChannels int `json:"in_channels"`
	Classes    int `json:"classes"`
}

// builders build the zoo's models from an export's configuration; each
// checks the configuration first, so that a hostile file gets an error, not
// a panic or an unbounded allocation. With build false a builder only
// checks, and returns errCheckOnly when the configuration passes (the fuzz
// test checks without building).
var builders = map[string]func(raw json.RawMessage, build bool) (layers.Module, error){
	ArchCNN:           buildCNN,
	ArchSmallCNN:      buildSmallCNN,
	ArchResNet:        buildResNet,
	ArchCIFARResNet18: buildCIFARResNet18,
}

// errCheckOnly is returned by a builder asked only to check.
var errCheckOnly = errors.New("models: configuration checked, not built")

func init() {
	for name, b := range builders {
		layers.RegisterArch(name, func(raw json.RawMessage) (layers.Module, error) { return b(raw, true) })
	}
}

// describe returns the layers.Arch of a configuration.
func describe(name string, cfg any) (layers.Arch, error) {
	raw, err := json.Marshal(cfg)
	if err != nil {
		return layers.Arch{}, err
	}
	return layers.Arch{Name: name, Config: raw}, nil
}

// Arch describes the model for export (layers.Described).
func (m *CNN) Arch() (layers.Arch, error) { return describe(ArchCNN, m.Config) }

// Arch describes the model for export (layers.Described).
func (m *SmallCNNModel) Arch() (layers.Arch, error) {
	return describe(ArchSmallCNN, smallCNNConfig{Classes: m.FC2.Weight.Shape()[0]})
}

// Arch describes the model for export (layers.Described).
func (r *ResNet) Arch() (layers.Arch, error) { return describe(ArchResNet, r.Config) }

// Arch describes the model for export (layers.Described).
func (m *CIFARResNet18Model) Arch() (layers.Arch, error) {
	return describe(ArchCIFARResNet18, cifarConfig{InChannels: m.Conv1.Weight.Shape()[1], Classes: m.FC.Weight.Shape()[0]})
}

// buildCNN builds a CNN from an export's configuration, checked first.
func buildCNN(raw json.RawMessage, build bool) (layers.Module, error) {
	var c CNNConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	n, err := resNetParams(c.ResNet)
	if err != nil {
		return nil, err
	}
	if c.NOut <= 0 || c.NOut > maxClasses || len(c.Mean) != len(c.Std) || (len(c.Mean) != 0 && len(c.Mean) != max(c.ResNet.InChannels, 3)) {
		return nil, fmt.Errorf("%d outputs, %d means and %d stds for %d input channels", c.NOut, len(c.Mean), len(c.Std), c.ResNet.InChannels)
	}
	for _, s := range c.Std {
		if !(s > 0) {
			return nil, fmt.Errorf("normalisation std %g", s)
		}
	}
	if err := sizeErr(n+float64(c.NOut)*512, build); err != nil {
		return nil, err
	}
	return NewCNN(c, tensor.NewRNG(0)), nil
}

func buildSmallCNN(raw json.RawMessage, build bool) (layers.Module, error) {
	var c smallCNNConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	if c.Classes <= 0 || c.Classes > maxClasses {
		return nil, fmt.Errorf("%d classes", c.Classes)
	}
	if err := sizeErr(0, build); err != nil {
		return nil, err
	}
	return NewSmallCNN(c.Classes, tensor.NewRNG(0)), nil
}

func buildResNet(raw json.RawMessage, build bool) (layers.Module, error) {
	var c ResNetConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	n, err := resNetParams(c)
	if err != nil {
		return nil, err
	}
	if err := sizeErr(n, build); err != nil {
		return nil, err
	}
	return NewResNet(c, tensor.NewRNG(0)), nil
}

func buildCIFARResNet18(raw json.RawMessage, build bool) (layers.Module, error) {
	var c cifarConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	if c.InChannels <= 0 || c.InChannels > maxInChannels || c.Classes <= 0 || c.Classes > maxClasses {
		return nil, fmt.Errorf("%d input channels, %d classes", c.InChannels, c.Classes)
	}
	if err := sizeErr(0, build); err != nil {
		return nil, err
	}
	return NewCIFARResNet18(c.InChannels, c.Classes, tensor.NewRNG(0)), nil
}

// sizeErr refuses a model of more than maxArchParams parameters, and
// returns errCheckOnly when the builder only checks.
func sizeErr(n float64, build bool) error {
	if n > maxArchParams {
		return fmt.Errorf("a model of about %.3g parameters (the limit is %.3g)", n, float64(maxArchParams))
	}
	if !build {
		return errCheckOnly
	}
	return nil
}

// resNetParams checks a ResNet configuration read from a file and
// estimates its parameters.
func resNetParams(c ResNetConfig) (float64, error) {
	if c.Block != Basic && c.Block != Bottleneck {
		return 0, fmt.Errorf("unknown ResNet block %d", c.Block)
	}
	if c.InChannels < 0 || c.InChannels > maxInChannels || c.NumClasses < 0 || c.NumClasses > maxClasses {
		return 0, fmt.Errorf("ResNet with %d input channels and %d classes", c.InChannels, c.NumClasses)
	}
	widths := c.Widths
	if widths == [4]int{} {
		widths = [4]int{64, 128, 256, 512}
	}
	exp := 1.0
	if c.Block == Bottleneck {
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
