package vision

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"image"
	"image/color"
	"image/png"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/vision/models"
	"github.com/fastgo-ml/fastgo/vision/models/weights"
)

// fixturePth is torchvision's resnet18(num_classes=10) state dict saved by
// torch.save (tensor/pth/testdata/make_fixtures.py): "pretrained" weights
// in torchvision's own file format.
const fixturePth = "../tensor/pth/testdata/resnet18.pth"

// fixtureArch is ResNet-18 publishing the fixture as its weights, under
// name, downloadable from url ("" for none).
func fixtureArch(t *testing.T, name, url string) (models.Arch, []byte) {
	t.Helper()
	b, err := os.ReadFile(fixturePth)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	f := weights.File{Name: name, URL: url, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(b))}
	return models.ResNet18.WithWeights(f), b
}

// weightsEnv gives each test empty caches of its own and the network.
func weightsEnv(t *testing.T) (cache string) {
	root := t.TempDir()
	t.Setenv(weights.EnvCache, filepath.Join(root, "fastgo"))
	t.Setenv(weights.EnvTorchHome, filepath.Join(root, "torch"))
	t.Setenv(weights.EnvWeights, "")
	t.Setenv(weights.EnvOffline, "")
	return filepath.Join(root, "fastgo", "weights")
}

// TestCNNLearnerPretrainedByDefault: an architecture's published weights
// are downloaded (once: then the cache answers), verified and loaded, the
// model normalised and frozen; FromScratch() looks for nothing;
// offline with nothing cached is ErrNotFound naming the file.
func TestCNNLearnerPretrainedByDefault(t *testing.T) {
	cache := weightsEnv(t)
	var hits atomic.Int32
	var served []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.ServeContent(w, r, "w.pth", time.Time{}, bytes.NewReader(served))
	}))
	defer srv.Close()
	arch, b := fixtureArch(t, "resnet18-test.pth", srv.URL+"/resnet18-test.pth")
	served = b
	dls := tinyData(t, 24, 3, 32, 32)
	l, err := CNNLearner(dls, arch)
	if err != nil {
		t.Fatal(err)
	}
	m := l.Model.(*models.CNN)
	if m.Norm == nil || !reflect.DeepEqual(m.Norm.Mean, layers.ImageNetMean) || l.FrozenTo() != 2 {
		t.Fatalf("pretrained by default: norm %+v, frozen to %d", m.Norm, l.FrozenTo())
	}
	whole, _ := models.ResNet18.Build(3, 10, tensor.NewRNG(1))
	if _, err := layers.LoadFile(whole, fixturePth); err != nil {
		t.Fatal(err)
	}
	want := layers.GetStateDict(whole).Tensors["layer2.1.conv2.weight"].Data()
	if got := layers.GetStateDict(m).Tensors["0.5.1.conv2.weight"].Data(); !reflect.DeepEqual(got, want) {
		t.Fatal("the body does not hold the published weights")
	}
	if _, err := os.Stat(filepath.Join(cache, "resnet18-test.pth")); err != nil || hits.Load() != 1 {
		t.Fatalf("the download is not in the cache (%v) after %d requests", err, hits.Load())
	}
	if _, err := CNNLearner(dls, arch); err != nil || hits.Load() != 1 {
		t.Fatalf("again: %v after %d requests, want the cache's copy", err, hits.Load())
	}

	// FromScratch(): from scratch, nothing asked.
	scratch := weightsEnv(t)
	l, err = CNNLearner(dls, arch, FromScratch())
	if err != nil || l.Model.(*models.CNN).Norm != nil || l.FrozenTo() != 0 || hits.Load() != 1 {
		t.Fatalf("FromScratch(): %v, frozen to %d, %d requests", err, l.FrozenTo(), hits.Load())
	}
	if _, err := os.Stat(scratch); !os.IsNotExist(err) {
		t.Errorf("FromScratch() made the cache directory (%v)", err)
	}

	// Offline and nowhere: an error, at once, wrapping ErrNotFound.
	t.Setenv(weights.EnvOffline, "1")
	_, err = CNNLearner(dls, arch)
	if !errors.Is(err, fastgo.ErrNotFound) || !strings.Contains(err.Error(), "resnet18-test.pth") || !strings.Contains(err.Error(), "FromScratch()") {
		t.Fatalf("offline: %v", err)
	}
	// A file under torchvision's name that is not torchvision's is refused.
	torch, _ := weights.TorchCacheDir()
	os.MkdirAll(torch, 0o755)
	fake := filepath.Join(torch, "resnet18-f37072fd.pth")
	if err := os.WriteFile(fake, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := CNNLearner(dls, models.ResNet18); !errors.Is(err, fastgo.ErrFormat) || !strings.Contains(err.Error(), fake) {
		t.Fatalf("a file that is not torchvision's under its name: %v", err)
	}
	// Contradictions and architectures without weights.
	for name, c := range map[string]struct {
		arch models.Arch
		opts []learner.Option
	}{
		"Weights and FromScratch()": {models.ResNet18, []learner.Option{Weights(fixturePth), FromScratch()}},
		"SmallCNN pretrained":       {models.SmallCNN, []learner.Option{RequirePretrained()}},
		"no published weights":      {tinyResNet, []learner.Option{RequirePretrained()}},
	} {
		if _, err := CNNLearner(dls, c.arch, c.opts...); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// rgbFashionFolder writes a folder of three classes of RGB photographs,
// train/ and valid/: embedded Fashion-MNIST items (trousers, sneakers,
// bags) upscaled to 64x64 or 64x48, tinted with a random colour.
func rgbFashionFolder(t *testing.T, perClass, valid int) string {
	t.Helper()
	ds, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	classes := map[int]string{1: "trouser", 7: "sneaker", 8: "bag"}
	count := map[int]int{}
	rng := tensor.NewRNG(4)
	for i := 0; i < ds.Len() && len(count) < 3 || count[1]+count[7]+count[8] < 3*perClass; i++ {
		y := ds.Y[i]
		name, ok := classes[y]
		if !ok || count[y] >= perClass {
			continue
		}
		split := "train"
		if count[y] < valid {
			split = "valid"
		}
		count[y]++
		x, _ := ds.Image(i)
		h := 64
		if count[y]%2 == 0 {
			h = 48
		}
		big := Resize(h, 64, Squish).TransformItem(x, nil, ValidSplit)
		tint := [3]float64{0.5 + rng.Float64()/2, 0.5 + rng.Float64()/2, 0.5 + rng.Float64()/2}
		img := image.NewNRGBA(image.Rect(0, 0, 64, h))
		for py := 0; py < h; py++ {
			for px := 0; px < 64; px++ {
				g := float64(big.Data()[py*64+px])
				c := func(k int) uint8 { return uint8(math.Round(255 * g * tint[k])) }
				img.SetNRGBA(px, py, color.NRGBA{c(0), c(1), c(2), 255})
			}
		}
		d := filepath.Join(dir, split, name)
		os.MkdirAll(d, 0o755)
		f, err := os.Create(filepath.Join(d, name+"-"+string(rune('a'+count[y]%26))+string(rune('a'+count[y]/26))+".png"))
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	return dir
}

// TestFineTunePretrainedRGBFolder is fastai's transfer learning end to end
// on a folder of RGB photographs of two sizes: CNNLearner(dls, ResNet-18)
// finds the published weights (the fixture, in $FASTGO_WEIGHTS), puts the
// ImageNet normalisation first and freezes the body; FineTune(1) trains the
// head with the body frozen (the stem unchanged), then everything (the stem
// changes), and the validation loss goes down. The fixture's weights are
// strided views of three small storages, not ImageNet features, so the
// accuracy after these 8 batches stays near chance and is only logged.
func TestFineTunePretrainedRGBFolder(t *testing.T) {
	weightsEnv(t)
	t.Setenv(weights.EnvOffline, "1")
	arch, b := fixtureArch(t, "resnet18-fixture.pth", "https://example.invalid/resnet18-fixture.pth")
	wdir := t.TempDir()
	if err := os.WriteFile(filepath.Join(wdir, "resnet18-fixture.pth"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(weights.EnvWeights, wdir)
	dir := rgbFashionFolder(t, 24, 8)
	dls, err := ImageFolder(dir, BatchSize(12), Seed(5),
		ItemTfms(BySplit(RandomResizedCrop(64, 64, 0.35), Resize(64, 64, Crop))))
	if err != nil {
		t.Fatal(err)
	}
	if dls.Train.Dataset().Len() != 48 || dls.Valid.Dataset().Len() != 24 || !reflect.DeepEqual(dls.Vocab, []string{"bag", "sneaker", "trouser"}) {
		t.Fatalf("the folder: %d + %d images of %v", dls.Train.Dataset().Len(), dls.Valid.Dataset().Len(), dls.Vocab)
	}
	ctx := context.Background()
	l, err := CNNLearner(dls, arch, learner.Metrics(learner.Accuracy()), learner.NoProgress())
	if err != nil {
		t.Fatal(err)
	}
	m := l.Model.(*models.CNN)
	if m.Norm == nil || !reflect.DeepEqual(m.Norm.Std, layers.ImageNetStd) || l.FrozenTo() != 2 {
		t.Fatalf("norm %+v, frozen to %d", m.Norm, l.FrozenTo())
	}
	stem := m.Body.At(0).(*layers.Conv2d).Weight
	stemBefore := append([]float32(nil), stem.Data().Data()...)
	before, err := l.Validate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var frozenStem []float32
	snap := learner.CallbackFunc(func(l *learner.Learner, e learner.Event) error {
		if e == learner.AfterFit && frozenStem == nil {
			frozenStem = append([]float32(nil), stem.Data().Data()...)
		}
		return nil
	})
	start := time.Now()
	if err := l.FineTune(ctx, 1, learner.Callbacks(snap)); err != nil {
		t.Fatal(err)
	}
	after, err := l.Validate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("FineTune(1) of a pretrained ResNet-18 on 48 RGB images: valid loss %.4f -> %.4f, accuracy %.3f -> %.3f (%v)",
		before[0], after[0], before[1], after[1], time.Since(start).Round(100*time.Millisecond))
	if !reflect.DeepEqual(frozenStem, stemBefore) {
		t.Error("the frozen epoch changed the stem")
	}
	if reflect.DeepEqual(stem.Data().Data(), stemBefore) {
		t.Error("the unfrozen epoch did not train the stem")
	}
	if len(l.Recorder.Values) != 2 || !(after[0] < before[0]) {
		t.Fatalf("%d epochs recorded, valid loss %.4f -> %.4f, accuracy %.3f", len(l.Recorder.Values), before[0], after[0], after[1])
	}
}
