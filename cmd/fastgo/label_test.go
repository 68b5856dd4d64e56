package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo/adversarial/attacks"
)

// resultLine decodes the RESULT line of a command's output.
func resultLine(t *testing.T, stdout string, v any) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if err := json.Unmarshal([]byte(strings.TrimPrefix(lines[len(lines)-1], "RESULT ")), v); err != nil {
		t.Fatalf("RESULT: %v\n%s", err, stdout)
	}
}

// TestCertifyLabel: the constant model certifies Dress (class 3) on every
// image; whether that is right depends on the true label only.
func TestCertifyLabel(t *testing.T) {
	dir := t.TempDir()
	w := constantWeights(t, dir, 3)
	img := filepath.Join(dir, "grey.png")
	writePNG(t, img, 28, 28, func(x, y int) uint8 { return uint8(4 * (x + y)) })
	args := []string{"certify", "-weights", w, "-sigma", "0.5", "-n0", "10", "-n", "200", "-predict"}

	t.Run("no label", func(t *testing.T) {
		code, stdout, stderr := runCLI(append(args, "-image", img)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if !strings.Contains(stdout, "true label:  unknown") || !strings.Contains(stdout, "accuracy not available") {
			t.Errorf("output:\n%s", stdout)
		}
		if strings.Contains(stdout, "label is Dress") || strings.Contains(stdout, "accuracy 1.0") {
			t.Errorf("the model's prediction is reported as the label:\n%s", stdout)
		}
		var r certifyResult
		resultLine(t, stdout, &r)
		if r.CertifiedAccuracy != nil || r.PredictAccuracy != nil || r.Note != noLabelNote {
			t.Errorf("RESULT without a label: %+v", r)
		}
	})
	for _, tc := range []struct {
		label, want string
		acc         float64
	}{{"Dress", "the certified class is right", 1}, {"1", "the certified class is WRONG", 0}} {
		t.Run("label "+tc.label, func(t *testing.T) {
			code, stdout, stderr := runCLI(append(args, "-image", img, "-label", tc.label)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if !strings.Contains(stdout, tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, stdout)
			}
			var r certifyResult
			resultLine(t, stdout, &r)
			if len(r.CertifiedAccuracy) == 0 || r.CertifiedAccuracy[0] != tc.acc || r.PredictAccuracy == nil || *r.PredictAccuracy != tc.acc {
				t.Errorf("RESULT %+v, want accuracy %v", r, tc.acc)
			}
		})
	}
	t.Run("label without image", func(t *testing.T) {
		checkOneLine(t, []string{"certify", "-weights", w, "-label", "3"}, 2, false, "-label goes with -image")
	})
	t.Run("unknown label", func(t *testing.T) {
		checkOneLine(t, append(args, "-image", img, "-label", "Hat"), 2, false, `no class "Hat"`)
	})
}

func TestAttackLabel(t *testing.T) {
	dir := t.TempDir()
	w := constantWeights(t, dir, 3)
	img := filepath.Join(dir, "grey.png")
	writePNG(t, img, 28, 28, func(x, y int) uint8 { return uint8(4 * (x + y)) })
	base := []string{"attack", "-weights", w, "-attack", "fgsm", "-eps", "0.05", "-out", dir}

	t.Run("untargeted without label", func(t *testing.T) {
		checkOneLine(t, append(base, "-image", img), 2, false, "give it with -label")
	})
	t.Run("already misclassified", func(t *testing.T) {
		// The constant model says Dress for everything; call the image a
		// Trouser.
		code, stdout, stderr := runCLI(append(base, "-image", img, "-label", "Trouser")...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		for _, want := range []string{"true label:  Trouser", "already misclassifies this image (true label Trouser, predicted Dress)"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("output lacks %q:\n%s", want, stdout)
			}
		}
		if strings.Contains(stdout, "the attack succeeded") {
			t.Errorf("an attack on a misclassified image is called a success:\n%s", stdout)
		}
	})
	t.Run("targeted needs no label", func(t *testing.T) {
		code, stdout, stderr := runCLI(append(base, "-image", img, "-target", "Bag")...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if !strings.Contains(stdout, "true label:  unknown") || !strings.Contains(stdout, "targeted: to Bag") {
			t.Errorf("output:\n%s", stdout)
		}
	})
}

func TestEpsOutsidePixelRange(t *testing.T) {
	checkOneLine(t, []string{"attack", "-model", "m", "-image", "x.png", "-eps", "8"}, 2, false, "-eps 8 is outside [0,1]", "[0,1] pixel units", "8/255 is 0.0314")
	checkOneLine(t, []string{"attack", "-model", "m", "-image", "x.png", "-eps", "-0.1"}, 2, false, "[0,1] pixel units")
	checkOneLine(t, []string{"train", "-defence", "pgd-at", "-defence-eps", "8"}, 2, false, "-defence-eps 8 is outside [0,1]", "8/255 is 0.0314")
	// An L2 radius may exceed 1: refused only for Linf.
	if err := checkEps("-eps", 2, attacks.L2); err != nil {
		t.Errorf("L2 eps 2 refused: %v", err)
	}
}
