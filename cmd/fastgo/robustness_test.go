package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommandsListed checks that the commands of the issue exist.
func TestCommandsListed(t *testing.T) {
	for _, n := range []string{"demo", "train", "eval", "lr-find", "attack", "robustness", "certify", "bench"} {
		if commands[n] == nil {
			t.Errorf("no %q command", n)
		}
	}
}

func TestRobustnessBadInput(t *testing.T) {
	checkOneLine(t, []string{"robustness", "-model", "m", "-eps", "0.1,x"}, 2, false, `"x" is not a number`)
	checkOneLine(t, []string{"robustness", "-model", "m", "-suite", "all"}, 2, false, `unknown -suite "all"`)
	checkOneLine(t, []string{"robustness", "-model", "m", "-norm", "l3"}, 2, false, `unknown -norm "l3"`)
	checkOneLine(t, []string{"robustness", "-model", "m", "-eps", "2"}, 2, false, "-eps 2")
	checkOneLine(t, []string{"robustness", "-model", "m", "-norm", "l1", "-suite", "black-box"}, 2, false, "no L1 attack")
	checkOneLine(t, []string{"robustness"}, 2, false, "-model FILE")
	checkOneLine(t, []string{"demo", "extra"}, 2, false, `unexpected argument "extra"`)

	dir := t.TempDir()
	export := exportUntrained(t, dir)
	garbage := filepath.Join(dir, "garbage.safetensors")
	os.WriteFile(garbage, []byte("not a model"), 0o644)
	b := readFile(t, export)
	truncated := filepath.Join(dir, "truncated.safetensors")
	os.WriteFile(truncated, b[:len(b)/3], 0o644)
	nope := filepath.Join(dir, "nope.safetensors")
	out := filepath.Join(dir, "out")
	for _, c := range []struct {
		name  string
		args  []string
		wants []string
	}{
		{"no model", []string{"robustness", "-model", nope, "-out", out}, []string{nope, "no such file"}},
		{"truncated model", []string{"robustness", "-model", truncated, "-out", out}, []string{truncated}},
		{"garbage weights", []string{"robustness", "-weights", garbage, "-out", out}, []string{garbage}},
		{"no such data", []string{"robustness", "-model", export, "-data", filepath.Join(dir, "nodata"), "-out", out}, []string{filepath.Join(dir, "nodata")}},
	} {
		t.Run(c.name, func(t *testing.T) { checkOneLine(t, c.args, 1, true, c.wants...) })
	}
}

// TestRobustnessReport evaluates the constant classifier with the quick
// suite: its robust accuracy equals its clean accuracy at every eps (no
// input changes its answer), the unbounded check is flagged (no attack can
// fool it), and the report files are written and readable.
func TestRobustnessReport(t *testing.T) {
	dir := t.TempDir()
	w := constantWeights(t, dir, 0)
	out := filepath.Join(dir, "report")
	code, stdout, stderr := runCLI("robustness", "-weights", w, "-samples", "20", "-eps", "0.05,0.1", "-queries", "20", "-out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, w := range []string{"quick suite", "FGSM", "PGD-20", "Square-20", "worst case", "FLAGGED  unbounded attack", "wrote " + filepath.Join(out, "report.html"), filepath.Join(out, "report.md")} {
		if !strings.Contains(stdout, w) {
			t.Errorf("output lacks %q:\n%s", w, stdout)
		}
	}
	var r struct {
		Samples       int     `json:"samples"`
		CleanAccuracy float64 `json:"clean_accuracy"`
		Classes       []string
		WorstCase     []struct {
			Eps            float64 `json:"eps"`
			RobustAccuracy float64 `json:"robust_accuracy"`
		} `json:"worst_case"`
	}
	if err := json.Unmarshal(readFile(t, filepath.Join(out, "report.json")), &r); err != nil {
		t.Fatal(err)
	}
	if r.Samples != 20 || len(r.WorstCase) != 2 || len(r.Classes) != 10 || r.Classes[0] != "T-shirt/top" {
		t.Fatalf("report %+v", r)
	}
	for _, w := range r.WorstCase {
		if w.RobustAccuracy != r.CleanAccuracy {
			t.Errorf("a constant classifier lost accuracy at eps %v: %v of %v", w.Eps, w.RobustAccuracy, r.CleanAccuracy)
		}
	}
	for _, f := range []string{"report.md", "accuracy.png"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
}
