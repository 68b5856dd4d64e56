package layers_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/tensor/safetensors"
)

// A small classifier as torch.nn.Sequential builds it: the children are
// named "0", "1", ..., so the state dict has PyTorch's names.
func ExampleNewSequential() {
	rng := tensor.NewRNG(0)
	m := layers.NewSequential(
		layers.NewConv2d(1, 4, 3, rng, layers.Padding(1)),
		layers.NewBatchNorm2d(4),
		&layers.ReLU{},
		&layers.AdaptiveAvgPool2d{H: 1, W: 1},
		layers.NewFlatten(),
		layers.NewLinear(4, 3, rng),
	)
	fmt.Println(layers.GetStateDict(m).Names)

	// A training step's forward and backward; frozen parameters would get
	// no gradient.
	x := autograd.Const(tensor.Uniform[float32](tensor.NewRNG(1), 0, 1, 2, 1, 5, 5))
	loss := autograd.CrossEntropy(layers.Call(m, x), []int{0, 2})
	loss.Backward()
	fmt.Println(m.At(5).(*layers.Linear).Weight.Grad().Shape())
	// Output:
	// [0.weight 0.bias 1.weight 1.bias 1.running_mean 1.running_var 1.num_batches_tracked 5.weight 5.bias]
	// [3 4]
}

// Weights move between fastgo and PyTorch as safetensors state dicts; a
// strict load names whatever does not match.
func ExampleLoadFile() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.safetensors")

	src := layers.NewSequential(layers.NewLinear(4, 2, tensor.NewRNG(1)))
	if err := layers.SaveFile(src, path, safetensors.Metadata(map[string]string{"format": "pt"})); err != nil {
		log.Fatal(err)
	}
	dst := layers.NewSequential(layers.NewLinear(4, 2, tensor.NewRNG(2)))
	if _, err := layers.LoadFile(dst, path); err != nil {
		log.Fatal(err)
	}
	fmt.Println(dst.At(0).(*layers.Linear).Weight.Data().At(1, 3) == src.At(0).(*layers.Linear).Weight.Data().At(1, 3))

	wrong := layers.NewSequential(layers.NewLinear(5, 2, nil))
	_, err = layers.LoadFile(wrong, path)
	fmt.Println(err != nil)
	rep, _ := layers.LoadFile(wrong, path, layers.NonStrict()) // lenient: load what matches
	fmt.Println(rep)
	// Output:
	// true
	// true
	// shape mismatch 0.weight: have [2 5], got [2 4]
}

// Summary prints each leaf's output shape and parameter count, as fastai's
// learn.summary() does.
func ExampleSummary() {
	m := layers.NewSequential(layers.NewLinear(8, 4, tensor.NewRNG(0)), &layers.ReLU{}, layers.NewLinear(4, 2, tensor.NewRNG(0), layers.NoBias()))
	layers.SetRequiresGrad(m.At(0), false)
	fmt.Print(layers.Summary(m, 16, 8))
	// Output:
	// Sequential (Input shape: [16 8])
	// ==============================================================================
	// Layer (type)                     Output Shape                Param # Trainable
	// ==============================================================================
	// 0 (Linear)                       [16 4]                           36     false
	// 1 (ReLU)                         [16 4]                            0
	// 2 (Linear)                       [16 2]                            8      true
	// ==============================================================================
	// Output shape: [16 2]
	// Total params: 44
	// Trainable params: 8
	// Non-trainable params: 36
}

// fastai's freeze: the parameters are split into a body and a head group;
// freezing all but the last group keeps the norm layers training.
func ExampleFreezeGroups() {
	body := layers.NewSequential(layers.NewConv2d(3, 8, 3, nil), layers.NewBatchNorm2d(8), &layers.ReLU{})
	head := layers.NewSequential(&layers.AdaptiveAvgPool2d{H: 1, W: 1}, layers.NewFlatten(), layers.NewLinear(8, 10, nil))
	m := layers.NewSequential(body, head)
	groups := layers.ParamGroups(m, body, head)
	layers.FreezeGroups(m, groups, -1)
	for _, np := range layers.NamedParameters(m) {
		fmt.Println(np.Name, np.Param.RequiresGrad())
	}
	// Output:
	// 0.0.weight false
	// 0.0.bias false
	// 0.1.weight true
	// 0.1.bias true
	// 1.2.weight true
	// 1.2.bias true
}
