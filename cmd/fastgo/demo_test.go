package main

import (
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo/vision"
)

// TestDemoQuick runs "fastgo demo -quick" end to end in a temporary
// directory, without -out, and checks what it prints and every file it
// says it wrote.
func TestDemoQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("trains and attacks twice (a few seconds)")
	}
	t.Chdir(t.TempDir())
	code, stdout, stderr := runCLI("demo", "-quick")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if stderr != "" {
		t.Errorf("stderr: %q", stderr)
	}
	dirs, _ := filepath.Glob(filepath.Join("fastgo-out", "demo-*"))
	if len(dirs) != 1 {
		t.Fatalf("want one fastgo-out/demo-<timestamp> folder, have %v", dirs)
	}
	dir := dirs[0]
	checkDemoStdout(t, stdout, dir)
	checkDemoFiles(t, stdout, dir)
	checkDemoReportJSON(t, dir)
	checkDemoReportMD(t, dir)
	checkDemoLearners(t, dir)
}

// checkDemoStdout checks that the demo's output walks through every stage
// and names its folder dir.
func checkDemoStdout(t *testing.T, stdout, dir string) {
	t.Helper()
	for _, w := range []string{
		"1. Data", "2. Train a SmallCNN", "train_loss", "valid_loss", "accuracy",
		"3. A targeted white-box attack", "target ", "4. Attack the validation set", "Square",
		"5. Adversarial training", "6. Attack the adversarially trained model", "7. Before and after",
		"standard  adversarially trained", "worst case eps 0.1", "stage times: data", "wrote " + dir,
	} {
		if !strings.Contains(stdout, w) {
			t.Errorf("the output lacks %q", w)
		}
	}
}

// checkDemoFiles checks the files the demo wrote into dir: present, not
// empty, pictures that decode, the main reports named in stdout, no
// checkpoint left behind.
func checkDemoFiles(t *testing.T, stdout, dir string) {
	t.Helper()
	files := []string{"report.md", "report.json", "loss.png", "robustness.png", "examples.png",
		"standard/report.md", "standard/report.json", "standard/report.html", "standard/accuracy.png",
		"adversarial/report.md", "adversarial/report.json", "adversarial/report.html", "adversarial/accuracy.png",
		"learner-standard.safetensors", "learner-adversarial.safetensors"}
	for _, f := range files {
		p := filepath.Join(dir, f)
		st, err := os.Stat(p)
		if err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if strings.HasSuffix(f, ".png") {
			fh, _ := os.Open(p)
			img, err := png.Decode(fh)
			fh.Close()
			if err != nil || img.Bounds().Dx() < 100 {
				t.Errorf("%s is not a picture: %v", p, err)
			}
		}
		if strings.HasPrefix(f, "report") || strings.HasSuffix(f, "report.md") {
			if !strings.Contains(stdout, filepath.Join(dir, f)) && (f == "report.md" || f == "report.json") {
				t.Errorf("the output does not name %s", filepath.Join(dir, f))
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "checkpoint.safetensors")); err == nil {
		t.Errorf("the checkpoint was left behind after a complete run")
	}
}

// checkDemoReportJSON checks dir/report.json: the stages, the training
// table, both models' reports and the targeted example.
func checkDemoReportJSON(t *testing.T, dir string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Quick        bool        `json:"quick"`
		Stages       []stageTime `json:"stages"`
		TotalSeconds float64     `json:"total_seconds"`
		Training     struct {
			Columns []string     `json:"columns"`
			Rows    [][]*float64 `json:"rows"`
		} `json:"training"`
		Targeted demoTargeted `json:"targeted_example"`
		Standard struct {
			Samples       int     `json:"samples"`
			CleanAccuracy float64 `json:"clean_accuracy"`
			Attacks       []struct {
				Name string `json:"name"`
			} `json:"attacks"`
			WorstCase []struct {
				Eps            float64 `json:"eps"`
				RobustAccuracy float64 `json:"robust_accuracy"`
			} `json:"worst_case"`
		} `json:"standard"`
		Adversarial json.RawMessage `json:"adversarial"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("report.json: %v", err)
	}
	if !s.Quick || s.TotalSeconds <= 0 {
		t.Errorf("report.json: quick %v, total %v s", s.Quick, s.TotalSeconds)
	}
	var names []string
	for _, st := range s.Stages {
		names = append(names, st.Name)
	}
	if got := strings.Join(names, ","); got != "data,train,targeted attack,evaluate standard model,adversarial training,evaluate adversarial model,report" {
		t.Errorf("stages %s", got)
	}
	if len(s.Training.Rows) != quickPlan.Epochs || s.Training.Rows[0][0] == nil {
		t.Errorf("training table %+v", s.Training)
	}
	if s.Standard.Samples != quickPlan.EvalSamples || len(s.Standard.Attacks) != 3 || !strings.HasPrefix(s.Standard.Attacks[2].Name, "Square") {
		t.Errorf("standard report: %d samples, attacks %+v", s.Standard.Samples, s.Standard.Attacks)
	}
	for _, w := range s.Standard.WorstCase {
		if w.RobustAccuracy > s.Standard.CleanAccuracy {
			t.Errorf("worst-case accuracy %v at eps %v above the clean %v", w.RobustAccuracy, w.Eps, s.Standard.CleanAccuracy)
		}
	}
	if len(s.Adversarial) < 10 {
		t.Errorf("no adversarial report in report.json")
	}
	if s.Targeted.Linf > quickPlan.Eps+1e-6 || s.Targeted.Target == s.Targeted.Label {
		t.Errorf("targeted example %+v", s.Targeted)
	}
}

// checkDemoReportMD checks that dir/report.md has its sections and
// pictures.
func checkDemoReportMD(t *testing.T, dir string) {
	t.Helper()
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	for _, w := range []string{"# fastgo demo", "-quick", "![loss](loss.png)", "![examples](examples.png)", "![robust accuracy against eps](robustness.png)", "| clean accuracy |", "standard/report.md"} {
		if !strings.Contains(string(md), w) {
			t.Errorf("report.md lacks %q", w)
		}
	}
}

// checkDemoLearners checks that both saved learners load, with the ten
// classes.
func checkDemoLearners(t *testing.T, dir string) {
	t.Helper()
	for _, f := range []string{"learner-standard.safetensors", "learner-adversarial.safetensors"} {
		l, err := vision.LoadLearner(filepath.Join(dir, f))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if len(l.Classes) != 10 {
			t.Errorf("%s: %d classes", f, len(l.Classes))
		}
	}
}
