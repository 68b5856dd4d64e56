package main

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo/data"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/tensor/safetensors"
	"github.com/fastgo-ml/fastgo/vision/models"
)

// constantWeights saves a SmallCNN whose output is the same for every
// input (fc2's weights zero, its bias favouring class c).
func constantWeights(t *testing.T, dir string, c int) string {
	t.Helper()
	m := models.NewSmallCNN(10, tensor.NewRNG(1))
	for i := range m.FC2.Weight.Data().Data() {
		m.FC2.Weight.Data().Data()[i] = 0
	}
	for i := range m.FC2.Bias.Data().Data() {
		m.FC2.Bias.Data().Data()[i] = 0
	}
	m.FC2.Bias.Data().Data()[c] = 5
	p := filepath.Join(dir, "constant.safetensors")
	if err := layers.SaveFile(m, p, safetensors.Metadata(map[string]string{"format": "pt"})); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCertifyConstantModel certifies a constant classifier: every noisy
// copy votes for its class, so pA is alpha^(1/n) and the radius sigma *
// PhiInv(alpha^(1/n)), 2.4633 sigma for n = 1000 and alpha = 0.001.
func TestCertifyConstantModel(t *testing.T) {
	dir := t.TempDir()
	w := constantWeights(t, dir, 3)
	code, stdout, stderr := runCLI("certify", "-weights", w, "-image", "embedded:5", "-sigma", "0.5", "-n0", "20", "-n", "1000",
		"-alpha", "0.001", "-predict", "-json", filepath.Join(dir, "c.json"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := 0.5 * 2.4633
	if !strings.Contains(stdout, "certified Dress within L2 radius 1.23") {
		t.Errorf("output:\n%s", stdout)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var r certifyResult
	if err := json.Unmarshal([]byte(strings.TrimPrefix(lines[len(lines)-1], "RESULT ")), &r); err != nil {
		t.Fatal(err)
	}
	if r.Samples != 1 || r.Abstained != 0 || r.PredictAccuracy == nil {
		t.Errorf("RESULT %+v", r)
	}
	// The label of embedded:5 is not 3 unless it is a Dress: the radius is
	// checked through the certificates file either way.
	var f struct {
		Certificates []struct {
			Class  int
			Radius float64
			Count  int
		} `json:"certificates"`
	}
	b := readFile(t, filepath.Join(dir, "c.json"))
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	c := f.Certificates[0]
	if c.Class != 3 || c.Count != 1000 || math.Abs(c.Radius-want) > 1e-3 {
		t.Errorf("certificate %+v, want class 3, 1000 votes, radius %.4f", c, want)
	}
}

// TestCertifyValidationSet certifies a few validation images of the
// constant model: the certified accuracy at radius 0 is the share of the
// class among them, and no radius beyond the largest certifiable is listed.
func TestCertifyValidationSet(t *testing.T) {
	w := constantWeights(t, t.TempDir(), 0)
	code, stdout, stderr := runCLI("certify", "-weights", w, "-samples", "20", "-sigma", "0.25", "-n0", "5", "-n", "100")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var r certifyResult
	if err := json.Unmarshal([]byte(strings.TrimPrefix(lines[len(lines)-1], "RESULT ")), &r); err != nil {
		t.Fatal(err)
	}
	dls, _, err := (&loadedModel{Channels: 1, InputShape: []int{1, 28, 28}, Classes: make([]string, 10)}).validData(t.Context(), dataFlags{data: "embedded", bs: 20, seed: 42, validPct: 0.2, csvHeader: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := data.First(t.Context(), dls.Valid, 20)
	if err != nil {
		t.Fatal(err)
	}
	y := b.Y
	zeros := 0
	for _, v := range y {
		if v == 0 {
			zeros++
		}
	}
	maxR := 0.25 * normalQuantile(math.Pow(0.001, 1.0/100))
	if r.Samples != 20 || r.CertifiedAccuracy[0] != float64(zeros)/20 {
		t.Errorf("RESULT %+v, want certified accuracy %v at 0", r, float64(zeros)/20)
	}
	for k, rad := range r.Radii {
		if rad > maxR {
			t.Errorf("radius %v listed beyond the certifiable %v", rad, maxR)
		}
		if r.CertifiedAccuracy[k] != r.CertifiedAccuracy[0] {
			t.Errorf("a constant model's certified accuracy changes with the radius: %v", r.CertifiedAccuracy)
		}
	}
}
