package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/vision"
	"github.com/fastgo-ml/fastgo/vision/models"
)

// fixturePth is torchvision's resnet18 state dict saved by torch.save.
var fixturePth = filepath.Join("..", "..", "tensor", "pth", "testdata", "resnet18.pth")

// TestTrainPretrainedFile fine-tunes a ResNet-18 from a torchvision .pth on
// an image folder: fine_tune by default, fastai's RandomResizedCrop and
// Resize item transforms, an export that records the validation transform
// and the ImageNet normalisation.
func TestTrainPretrainedFile(t *testing.T) {
	dir := t.TempDir()
	data := tinyFolder(t, filepath.Join(dir, "data"), 24)
	export := filepath.Join(dir, "export.safetensors")
	code, stdout, stderr := runCLI("train", "-data", data, "-arch", "resnet18", "-pretrained", fixturePth, "-size", "32",
		"-epochs", "1", "-bs", "16", "-workers", "1", "-out", export)
	if code != 0 {
		t.Fatalf("train: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, w := range []string{"training: fine-tune", "RandomResizedCrop(32) for training, Resize(32) for validation", "exported " + export} {
		if !strings.Contains(stdout, w) {
			t.Errorf("train output lacks %q:\n%s", w, stdout)
		}
	}
	e, err := vision.LoadLearner(export)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.ItemTfms) != 1 || describe(e.ItemTfms[0]) != "Resize(32, 32, Crop)" || !reflect.DeepEqual(e.InputShape, []int{3, 32, 32}) {
		t.Errorf("the export's transforms %v, input %v", e.ItemTfms, e.InputShape)
	}
	if m, ok := e.Model.(*models.CNN); !ok || m.Norm == nil || !reflect.DeepEqual(m.Norm.Mean, layers.ImageNetMean) {
		t.Errorf("the exported model is not normalised for ImageNet weights: %T", e.Model)
	}
}

// describe returns a transform's constructor call.
func describe(t vision.ItemTransform) string {
	if s, ok := t.(interface{ String() string }); ok {
		return s.String()
	}
	return ""
}

// TestTrainPretrainedOffline: with the weights nowhere and no download
// allowed, -pretrained auto says so at once and trains from scratch with
// one cycle; -pretrained none does not look.
func TestTrainPretrainedOffline(t *testing.T) {
	dir := t.TempDir()
	data := tinyFolder(t, filepath.Join(dir, "data"), 12)
	args := []string{"train", "-data", data, "-arch", "resnet18", "-size", "32", "-epochs", "1", "-bs", "8", "-workers", "1", "-out", filepath.Join(dir, "e.safetensors")}
	code, stdout, stderr := runCLI(args...)
	if code != 0 {
		t.Fatalf("train: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, w := range []string{"resnet18-f37072fd.pth not found", "https://download.pytorch.org/models/resnet18-f37072fd.pth", "FASTGO_OFFLINE is set",
		"training resnet18 from scratch instead", "training: one-cycle"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("train output lacks %q:\n%s", w, stdout)
		}
	}
	code, stdout, _ = runCLI(append(args, "-pretrained", "none")...)
	if code != 0 || strings.Contains(stdout, "pretrained") {
		t.Errorf("-pretrained none: exit %d, output:\n%s", code, stdout)
	}
}

// TestTrainPretrainedCorrupt: a file under torchvision's name that is not
// torchvision's is an error naming it, not a silent fallback.
func TestTrainPretrainedCorrupt(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile(fixturePth)
	if err != nil {
		t.Fatal(err)
	}
	wdir := filepath.Join(dir, "weights")
	os.MkdirAll(wdir, 0o755)
	fake := filepath.Join(wdir, "resnet18-f37072fd.pth")
	if err := os.WriteFile(fake, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FASTGO_WEIGHTS", wdir)
	data := tinyFolder(t, filepath.Join(dir, "data"), 4)
	checkOneLine(t, []string{"train", "-data", data, "-arch", "resnet18", "-out", filepath.Join(dir, "e.safetensors")}, 1, true, fake, "SHA-256", "f37072fd47e89c5e")
	checkOneLine(t, []string{"train", "-data", data, "-arch", "smallcnn", "-pretrained", fake}, 2, true, "-pretrained needs a ResNet")
}
