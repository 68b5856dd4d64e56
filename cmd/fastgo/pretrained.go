package main

// How train and lr-find choose a model's starting weights (-pretrained):
// torchvision's ImageNet weights for the zoo's ResNets by default, found
// on this machine or downloaded once (package vision/models/weights), with
// fastai's transfer-learning item transforms for image files.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/vision/models"
	"github.com/fastgo-ml/fastgo/vision/models/weights"
)

// The values of -pretrained besides a file.
const (
	pretrainedAuto = "auto"
	pretrainedNone = "none"
)

// pretrainedUsage is the help of -pretrained.
const pretrainedUsage = "the ResNets' starting weights: auto (torchvision's ImageNet weights, as fastai's pretrained=True: found in $FASTGO_WEIGHTS, " +
	"fastgo's cache or PyTorch's, else downloaded once; trains from scratch, saying so, when they cannot be had), " +
	"none (from scratch), or a file (torchvision's .pth, or the same as .safetensors)"

// isResNetArch reports whether arch names one of the zoo's ImageNet ResNets.
func isResNetArch(arch string) bool {
	return slices.Contains([]string{"resnet18", "resnet34", "resnet50"}, arch)
}

// checkPretrained checks -pretrained before anything runs.
func checkPretrained(p string) error {
	switch p {
	case pretrainedAuto, pretrainedNone:
		return nil
	case "":
		return usagef("-pretrained must be auto, none or a file")
	}
	return checkReadable(p)
}

// autoArch is -arch auto: smallcnn for 1x28x28 images (the built-in
// Fashion-MNIST and MNIST, an IDX folder, or image files with -channels 1
// -size 28), resnet18 for any other.
func (d *dataFlags) autoArch() string {
	size := d.size
	files := true
	switch d.data {
	case "embedded", "fashion-mnist-embedded", "fashion-mnist", "mnist":
		files = false
	case "cifar-10", "cifar-100":
		return "resnet18"
	default:
		if ok, _ := hasIDX(d.data, "train-images-idx3-ubyte"); ok {
			files = false
		}
	}
	if (!files && (size == 0 || size == 28)) || (files && d.channels == 1 && size == 28) {
		return "smallcnn"
	}
	return "resnet18"
}

// pretrainedWeights resolves -pretrained for arch: the path of the weights
// file, or "" to train from scratch. With auto, weights that cannot be had
// (offline, no network, a failed download) are reported on out and the
// model is trained from scratch: the command opts in to that fallback,
// vision.CNNLearner never falls back on its own.
func pretrainedWeights(ctx context.Context, p, arch string, out io.Writer) (string, error) {
	switch {
	case p == pretrainedNone:
		return "", nil
	case p != pretrainedAuto && !isResNetArch(arch):
		return "", usagef("-pretrained needs a ResNet -arch (resnet18, resnet34, resnet50), not %s", arch)
	case p != pretrainedAuto:
		return p, nil
	case !isResNetArch(arch):
		return "", nil // no published weights: from scratch, as fastai's models without them
	}
	a, _ := models.ArchByName(arch)
	path, err := a.ResolveWeights(ctx, weights.ProgressTo(out))
	switch {
	case err == nil:
		fmt.Fprintf(out, "pretrained: %s\n", path)
		return path, nil
	case ctx.Err() != nil || !errors.Is(err, fastgo.ErrNotFound):
		return "", err
	}
	fmt.Fprintf(out, "pretrained: %v\n", err)
	fmt.Fprintf(out, "pretrained: training %s from scratch instead (-pretrained none does so without looking; -pretrained FILE names the weights)\n", arch)
	return "", nil
}

// dataIsFiles reports whether -data names image files (a folder or a CSV
// file), for which fine-tuning uses fastai's transfer-learning transforms.
func (d *dataFlags) dataIsFiles() bool {
	if slices.Contains(namedData, d.data) || d.data == "fashion-mnist-embedded" {
		return false
	}
	st, err := os.Stat(d.data)
	if err != nil {
		return false
	}
	if !st.IsDir() {
		return strings.EqualFold(filepath.Ext(d.data), ".csv")
	}
	ok, _ := hasIDX(d.data, "train-images-idx3-ubyte")
	return !ok
}
