package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/vision/models"
)

// TestBenchW5Runs runs the w5 workload through the command line on 32-pixel
// images and batches of 2 (untimed), so that the command cannot rot: it must
// print one RESULT line with every figure of docs/performance.md's workload.
func TestBenchW5Runs(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"bench", "w5", "-size", "32", "-batch", "2", "-eval-batch", "2", "-steps", "1", "-warmup", "0", "-threads", "2"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	last, ok := strings.CutPrefix(lines[len(lines)-1], "RESULT ")
	if !ok {
		t.Fatalf("last line %q is not a RESULT line", lines[len(lines)-1])
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(last), &res); err != nil {
		t.Fatalf("RESULT %q: %v", last, err)
	}
	if res["workload"] != "w5" || res["threads"] != 2.0 || res["size"] != 32.0 {
		t.Errorf("RESULT %v: want workload w5, threads 2, size 32", res)
	}
	for _, k := range []string{"train_img_per_s", "frozen_img_per_s", "eval_img_per_s", "peak_rss_mib"} {
		if v, ok := res[k].(float64); !ok || !(v > 0) {
			t.Errorf("RESULT %s = %v, want a positive number", k, res[k])
		}
	}
	// torchvision's resnet34 with a 37-class head has 21,303,653 parameters.
	if res["params"] != 21303653.0 {
		t.Errorf("params = %v, want 21303653", res["params"])
	}
	checkOneLine(t, []string{"bench", "w5", "-size", "8"}, 2, false, "-size")
}

// TestW5FreezeKeepsNormAndHead checks the frozen phase's freeze: every conv
// weight is frozen, BatchNorm's parameters and fc train.
func TestW5FreezeKeepsNormAndHead(t *testing.T) {
	cfg, _ := models.ResNet18.ResNetConfig(3, w5Classes)
	m := models.NewResNet(cfg, tensor.NewRNG(1))
	layers.FreezeGroups(m, w5Groups(m), -1)
	norm := layers.NormParams(m)
	for _, np := range layers.NamedParameters(m) {
		conv := len(np.Param.Shape()) == 4
		head := strings.HasPrefix(np.Name, "fc.")
		if want := !conv && (head || norm[np.Param]); np.Param.RequiresGrad() != want {
			t.Errorf("%s (shape %v) requires grad %v, want %v", np.Name, np.Param.Shape(), np.Param.RequiresGrad(), want)
		}
	}
}
