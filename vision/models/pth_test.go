package models

import (
	"math"
	"testing"

	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor/safetensors"
)

// TestResNet18FromPth loads torchvision's resnet18(num_classes=10) saved by
// torch.save, every tensor a strided view of three small random storages
// (tensor/pth/testdata/make_fixtures.py), and checks the eval-mode logits
// against PyTorch 1.13's on the same input.
func TestResNet18FromPth(t *testing.T) {
	m := mustBuild(t, ResNet18, 3, 10)
	rep, err := layers.LoadFile(m, "../../tensor/pth/testdata/resnet18.pth")
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Clean() {
		t.Fatalf("load report: %s", rep)
	}
	if got := layers.GetStateDict(m).Ints["layer4.1.bn2.num_batches_tracked"]; got < 100 {
		t.Errorf("num_batches_tracked = %d, want the file's value (100 and up)", got)
	}
	io, err := safetensors.Load("../../tensor/pth/testdata/resnet18_io.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	layers.Eval(m)
	layers.SetRequiresGrad(m, false)
	out := layers.Call(m, autograd.Param(must(t, io, "x")))
	if err := closeTo(out.Data(), must(t, io, "logits")); err != nil {
		t.Fatalf("logits: %v\ngot  %v\nwant %v", err, out.Data().Data(), must(t, io, "logits").Data())
	}
	worst, scale := 0.0, 0.0
	for i, v := range out.Data().Data() {
		w := float64(must(t, io, "logits").Data()[i])
		worst, scale = math.Max(worst, math.Abs(float64(v)-w)), math.Max(scale, math.Abs(w))
	}
	t.Logf("logits within %.2g of PyTorch's (largest magnitude %.3g)", worst, scale)
}
