package models

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/vision/models/weights"
)

const fixturePth = "../../tensor/pth/testdata/resnet18.pth"

// TestPublished: the zoo's ResNets publish torchvision's IMAGENET1K_V1
// files, each named with the first 8 digits of its full SHA-256, at
// torchvision's address; the others publish none.
func TestPublished(t *testing.T) {
	for _, c := range []struct {
		arch Arch
		name string
	}{{ResNet18, "resnet18-f37072fd.pth"}, {ResNet34, "resnet34-b627a593.pth"}, {ResNet50, "resnet50-0676ba61.pth"}} {
		f, ok := c.arch.Published()
		if !ok {
			t.Fatalf("%s publishes no weights", c.arch.Name)
		}
		if err := f.Check(); err != nil {
			t.Error(err)
		}
		prefix := strings.TrimSuffix(strings.SplitN(f.Name, "-", 2)[1], ".pth")
		if f.Name != c.name || f.URL != "https://download.pytorch.org/models/"+c.name || !f.FullHash() || !strings.HasPrefix(f.SHA256, prefix) || f.Size <= 0 {
			t.Errorf("%s: %+v", c.arch.Name, f)
		}
	}
	for _, a := range []Arch{SmallCNN, CIFARResNet18, ResNetArch("tiny", ResNetConfig{Block: Basic, Layers: [4]int{1, 1, 1, 1}})} {
		if _, ok := a.Published(); ok {
			t.Errorf("%s publishes weights", a.Name)
		}
		if _, err := a.ResolveWeights(context.Background()); !errors.Is(err, fastgo.ErrNotFound) {
			t.Errorf("%s.ResolveWeights: %v, want fastgo.ErrNotFound", a.Name, err)
		}
	}
}

// TestResolveWeights resolves an architecture given its own published
// file, found in $FASTGO_WEIGHTS under its name and verified.
func TestResolveWeights(t *testing.T) {
	root := t.TempDir()
	t.Setenv(weights.EnvCache, filepath.Join(root, "cache"))
	t.Setenv(weights.EnvTorchHome, filepath.Join(root, "torch"))
	t.Setenv(weights.EnvOffline, "1")
	b, err := os.ReadFile(fixturePth)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "weights")
	os.MkdirAll(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, "fixture.pth"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(weights.EnvWeights, dir)
	f := weights.File{Name: "fixture.pth", SHA256: sha256Hex(b)}
	a := ResNet18.WithWeights(f)
	if got, ok := a.Published(); !ok || got != f {
		t.Fatalf("Published() = %+v, %v", got, ok)
	}
	if p, ok := ResNet18.Published(); !ok || p.Name != "resnet18-f37072fd.pth" {
		t.Errorf("WithWeights changed ResNet18 itself: %+v", p)
	}
	path, err := a.ResolveWeights(context.Background())
	if err != nil || path != filepath.Join(dir, "fixture.pth") {
		t.Fatalf("ResolveWeights: %q, %v", path, err)
	}
	// Offline and nowhere: the error names the file and wraps ErrNotFound.
	t.Setenv(weights.EnvWeights, "")
	if _, err := ResNet34.ResolveWeights(context.Background()); !errors.Is(err, fastgo.ErrNotFound) || !strings.Contains(err.Error(), "resnet34-b627a593.pth") {
		t.Errorf("ResNet34 offline: %v", err)
	}
	if err := fastgo.Maybe(func() { ResNet18.WithWeights(weights.File{Name: "a/b.pth", SHA256: "0123abcd"}) }); err == nil {
		t.Error("WithWeights accepted a file name with a directory")
	}
}

// TestLoadPretrainedPth loads torchvision's ResNet-18 state dict saved by
// torch.save into a body: the same tensors as the whole model's load, the
// fc left out; for one input channel the stem is the sum of the RGB
// filters, as fastai's _load_pretrained_weights makes it.
func TestLoadPretrainedPth(t *testing.T) {
	whole := mustBuild(t, ResNet18, 3, 10)
	if _, err := layers.LoadFile(whole, fixturePth); err != nil {
		t.Fatal(err)
	}
	want := layers.GetStateDict(whole)
	for _, nIn := range []int{3, 1} {
		c, _ := ResNet18.ResNetConfig(nIn, 1)
		r := NewResNet(c, tensor.NewRNG(9))
		if err := LoadPretrained(r, fixturePth); err != nil {
			t.Fatal(err)
		}
		got := layers.GetStateDict(r)
		for name, w := range want.Tensors {
			if strings.HasPrefix(name, "fc.") {
				continue
			}
			g := got.Tensors[name]
			if name == "conv1.weight" && nIn == 1 {
				w, _ = AdaptFirstConv(w, 1)
			}
			if !tensor.SameShape(g.Shape(), w.Shape()) || !slices.Equal(g.Data(), w.Data()) {
				t.Fatalf("nIn %d: %s differs from the file's", nIn, name)
			}
		}
		if got.Ints["layer4.1.bn2.num_batches_tracked"] != want.Ints["layer4.1.bn2.num_batches_tracked"] {
			t.Errorf("nIn %d: num_batches_tracked not loaded", nIn)
		}
	}
	// A ResNet-34 body does not take ResNet-18 weights: the error names
	// the file and what is missing.
	c, _ := ResNet34.ResNetConfig(3, 1)
	err := LoadPretrained(NewResNet(c, tensor.NewRNG(1)), fixturePth)
	if err == nil || !strings.Contains(err.Error(), fixturePth) || !strings.Contains(err.Error(), "missing") {
		t.Errorf("ResNet-34 from ResNet-18 weights: %v", err)
	}
}

// sha256Hex returns the hexadecimal SHA-256 of b.
func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
