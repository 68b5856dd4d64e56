package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo/adversarial/robustness"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/tensor/safetensors"
	"github.com/fastgo-ml/fastgo/vision/models"
)

// randomWeights writes an untrained SmallCNN's state dict drawn with seed
// to path, its last layer scaled up and unbiased so that its answers
// depend on the image (some right, most of those easily fooled).
func randomWeights(t *testing.T, path string, seed uint64) {
	t.Helper()
	m := models.NewSmallCNN(10, tensor.NewRNG(seed))
	for i := range m.FC2.Weight.Data().Data() {
		m.FC2.Weight.Data().Data()[i] *= 30
	}
	m.FC2.Bias.Data().Fill(0)
	if err := layers.SaveFile(m, path, safetensors.Metadata(map[string]string{"format": "pt"})); err != nil {
		t.Fatal(err)
	}
}

// reportWithoutTimes reads a report.json and returns its JSON with the
// wall times and the command cleared.
func reportWithoutTimes(t *testing.T, path string) []byte {
	t.Helper()
	r, err := robustness.ReadReport(path)
	if err != nil {
		t.Fatal(err)
	}
	r.Seconds = 0
	for k := range r.Attacks {
		r.Attacks[k].Seconds = 0
	}
	for k := range r.AutoAttack {
		for j := range r.AutoAttack[k].Stages {
			r.AutoAttack[k].Stages[j].Seconds = 0
		}
	}
	for _, g := range [][]robustness.EntryOutcomes{r.Outcomes.Attacks, r.Outcomes.Cascade} {
		for k := range g {
			g[k].Seconds = 0
			for j := range g[k].Eps {
				g[k].Eps[j].Seconds = 0
			}
		}
	}
	if u := r.Outcomes.Unbounded; u != nil {
		u.Seconds, u.Eps[0].Seconds = 0, 0
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRobustnessShardsMerge runs an evaluation in one process and as 4
// shards in 4 processes of the built command (two with GOMAXPROCS=1),
// merges the parts and finds
// the single run's report; missing, duplicated and foreign parts are
// refused, naming the part.
func TestRobustnessShardsMerge(t *testing.T) {
	dir := t.TempDir()
	bin := buildFastgo(t)
	w := filepath.Join(dir, "w.safetensors")
	randomWeights(t, w, 3)
	args := []string{"robustness", "-weights", w, "-samples", "40", "-eps", "0.002,0.05", "-queries", "30"}
	single := filepath.Join(dir, "single")
	if code, _, stderr := runCLI(append(args, "-out", single)...); code != 0 {
		t.Fatalf("single run: exit %d: %s", code, stderr)
	}
	sr, err := robustness.ReadReport(filepath.Join(single, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if sr.Correct < 2 || sr.WorstCase[1].RobustAccuracy >= sr.CleanAccuracy {
		t.Fatalf("a trivial evaluation (%d correct, worst case %v): the comparison would prove nothing", sr.Correct, sr.WorstCase)
	}
	t.Logf("single run: clean %.4f, worst case %.4f and %.4f", sr.CleanAccuracy, sr.WorstCase[0].RobustAccuracy, sr.WorstCase[1].RobustAccuracy)
	var cmds []*exec.Cmd
	var errs []*bytes.Buffer
	for i := 0; i < 4; i++ {
		c := exec.Command(bin, append(args, "-shard", fmt.Sprintf("%d/4", i), "-out", filepath.Join(dir, fmt.Sprint("part", i)))...)
		var eb bytes.Buffer
		c.Stderr = &eb
		if i%2 == 1 {
			c.Env = append(os.Environ(), "GOMAXPROCS=1") // outcomes do not depend on the threads
		}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, errs = append(cmds, c), append(errs, &eb)
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("shard %d/4: %v: %s", i, err, errs[i])
		}
	}
	parts := []string{filepath.Join(dir, "part2"), filepath.Join(dir, "part0", "report.json"), filepath.Join(dir, "part3"), filepath.Join(dir, "part1")}
	merged := filepath.Join(dir, "merged")
	code, stdout, stderr := runCLI(append([]string{"robustness", "merge"}, append(parts, "-out", merged)...)...)
	if code != 0 {
		t.Fatalf("merge: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "merged 4 parts: 40 images") {
		t.Errorf("merge output:\n%s", stdout)
	}
	a, b := reportWithoutTimes(t, filepath.Join(single, "report.json")), reportWithoutTimes(t, filepath.Join(merged, "report.json"))
	if !bytes.Equal(a, b) {
		t.Errorf("the merged report differs from the single run:\n%s\n%s", a, b)
	}

	other := filepath.Join(dir, "other.safetensors")
	randomWeights(t, other, 4)
	foreign := filepath.Join(dir, "foreign")
	if code, _, stderr := runCLI("robustness", "-weights", other, "-samples", "40", "-eps", "0.002,0.05", "-queries", "30", "-shard", "1/4", "-out", foreign); code != 0 {
		t.Fatalf("foreign part: exit %d: %s", code, stderr)
	}
	p := func(i int) string { return filepath.Join(dir, fmt.Sprint("part", i), "report.json") }
	checkOneLine(t, []string{"robustness", "merge", p(0), p(1), p(3), "-out", merged}, 1, true, "missing shard 2/4")
	checkOneLine(t, []string{"robustness", "merge", p(0), p(1), p(1), p(2), p(3), "-out", merged}, 1, true, p(1)+" and "+p(1)+" are both shard 1/4")
	checkOneLine(t, []string{"robustness", "merge", p(0), filepath.Join(foreign, "report.json"), p(2), p(3), "-out", merged}, 1, true, filepath.Join(foreign, "report.json")+" is not a part", "weights")
	checkOneLine(t, []string{"robustness", "merge", filepath.Join(single, "report.json"), "-out", merged}, 1, true, "not a part of a sharded evaluation")
	checkOneLine(t, []string{"robustness", "merge", "-out", merged}, 2, false, "no parts")
}

// TestRobustnessVerify: -verify passes on an unchanged model and fails,
// naming the images, when the weights file changed.
func TestRobustnessVerify(t *testing.T) {
	dir := t.TempDir()
	w := filepath.Join(dir, "w.safetensors")
	randomWeights(t, w, 3)
	out := filepath.Join(dir, "report")
	if code, _, stderr := runCLI("robustness", "-weights", w, "-samples", "20", "-eps", "0.1", "-queries", "20", "-out", out); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	md := string(readFile(t, filepath.Join(out, "report.md")))
	for _, want := range []string{"## Manifest", "weights SHA-256", "kernel tier", "`fastgo robustness -eps 0.1 ", "-weights " + w} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	code, stdout, stderr := runCLI("robustness", "-verify", out)
	if code != 0 || !strings.Contains(stdout, "verified "+filepath.Join(out, "report.json")) || !strings.Contains(stdout, "bit for bit") {
		t.Fatalf("verify of an unchanged model: exit %d\n%s\n%s", code, stdout, stderr)
	}
	randomWeights(t, w, 4)
	code, stdout, stderr = runCLI("robustness", "-verify", filepath.Join(out, "report.json"))
	if code != 1 || !strings.Contains(stderr, "the outcomes of images ") || !strings.Contains(stdout, "differs: weights") {
		t.Fatalf("verify of a changed model: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !regexp.MustCompile(`images \d+(, \d+)* differ`).MatchString(stderr) || !regexp.MustCompile(`image \d+: `).MatchString(stdout) {
		t.Errorf("the differing images are not named:\n%s\n%s", stdout, stderr)
	}
	checkOneLine(t, []string{"robustness", "-verify", out, "-samples", "3"}, 2, false, "-verify takes no other flag")
	os.WriteFile(filepath.Join(dir, "old.json"), []byte(`{"norm":"Linf","samples":0,"labels":[],"clean_pred":[],"attacks":[],"worst_case":[],"checks":[],"correct":0,"clean_accuracy":0,"lo":0,"hi":1,"eps":[0.1],"seconds":0}`), 0o644)
	checkOneLine(t, []string{"robustness", "-verify", filepath.Join(dir, "old.json")}, 1, true, "no manifest")
	// A crafted manifest cannot make -verify run itself.
	r, err := robustness.ReadReport(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	self := filepath.Join(dir, "self.json")
	r.Manifest.Command = []string{"robustness", "-verify", self}
	if err := r.WriteJSON(self); err != nil {
		t.Fatal(err)
	}
	checkOneLine(t, []string{"robustness", "-verify", self}, 1, true, "holds -verify")
}

func TestRobustnessVersionFlags(t *testing.T) {
	checkOneLine(t, []string{"robustness", "-model", "m", "-version", "strong"}, 2, false, `unknown -version "strong"`)
	checkOneLine(t, []string{"robustness", "-model", "m", "-version", "plus", "-suite", "quick"}, 2, false, "-suite or -version")
	checkOneLine(t, []string{"robustness", "-model", "m", "-shard", "4/4"}, 2, false, `-shard "4/4"`)
	checkOneLine(t, []string{"robustness", "-model", "m", "-passes", "1"}, 2, false, "-passes 1")
}
