package archcheck

import (
	"bufio"
	"bytes"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const mod = "github.com/fastgo-ml/fastgo"

// layer orders the packages from the bottom up: a package may import only
// packages of a lower layer (or its own, for a package and its internal
// parts). Packages not listed (examples, internal test support) are not
// checked here.
var layer = map[string]int{
	"":                       0, // the root: error classes
	"internal/parallel":      1,
	"internal/kernels":       2,
	"internal/atomicfile":    1,
	"internal/race":          1,
	"tensor":                 3,
	"tensor/safetensors":     4,
	"tensor/pth":             5,
	"autograd":               5,
	"layers":                 6,
	"optim":                  7,
	"data":                   4,
	"render":                 4,
	"learner":                8,
	"callbacks":              9,
	"vision/models/weights":  6,
	"vision/models":          7,
	"vision":                 9,
	"adversarial/attacks":    7,
	"adversarial/robustness": 8,
	"adversarial":            10,
	"cmd/fastgo":             11,
}

// goList returns, for each package matched by pattern, its import path and
// the module packages and plot packages it imports (directly with deps
// false, transitively with deps true).
func goList(t *testing.T, deps bool, pattern string) map[string][]string {
	t.Helper()
	args := []string{"list", "-f", `{{.ImportPath}}:{{join .Imports " "}}`}
	if deps {
		args = []string{"list", "-f", `{{.ImportPath}}:{{join .Deps " "}}`}
	}
	cmd := exec.Command("go", append(args, pattern)...)
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pattern, err)
	}
	res := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		path, imps, _ := strings.Cut(sc.Text(), ":")
		res[path] = strings.Fields(imps)
	}
	return res
}

func rel(p string) (string, bool) {
	if p == mod {
		return "", true
	}
	r, ok := strings.CutPrefix(p, mod+"/")
	return r, ok
}

// TestImportsPointDown: every package imports only packages of a lower
// layer.
func TestImportsPointDown(t *testing.T) {
	for path, imps := range goList(t, false, "./...") {
		p, _ := rel(path)
		lp, checked := layer[p]
		if !checked {
			continue
		}
		for _, imp := range imps {
			q, ours := rel(imp)
			if !ours {
				continue
			}
			lq, known := layer[q]
			if !known {
				// An internal package serves the tree it sits in.
				if i := strings.Index(q, "internal/"); i >= 0 {
					if parent := strings.TrimSuffix(q[:i], "/"); parent == "" || p == parent || strings.HasPrefix(p, parent+"/") {
						continue
					}
				}
				t.Errorf("%s imports %s, which has no place in the layers of this test", p, q)
				continue
			}
			if lq >= lp {
				t.Errorf("%s (layer %d) imports %s (layer %d): imports must point down", p, lp, q, lq)
			}
		}
	}
}

// TestAttacksStandAlone: the attacks and threat models need no training
// loop, no data sets and no plots.
func TestAttacksStandAlone(t *testing.T) {
	for path, deps := range goList(t, true, "./adversarial/attacks") {
		for _, d := range deps {
			q, _ := rel(d)
			if slices.Contains([]string{"learner", "vision", "render", "callbacks", "data"}, q) || strings.HasPrefix(d, "gonum.org/v1/plot") {
				t.Errorf("%s depends on %s", path, d)
			}
		}
	}
}

// TestRobustnessWithoutLoop: the robustness evaluation needs no training
// loop and no data sets.
func TestRobustnessWithoutLoop(t *testing.T) {
	for path, deps := range goList(t, true, "./adversarial/robustness") {
		for _, d := range deps {
			if q, _ := rel(d); slices.Contains([]string{"learner", "vision", "callbacks"}, q) {
				t.Errorf("%s depends on %s", path, d)
			}
		}
	}
}

// TestVisionDataWithoutLoop: vision's data side (everything but the files
// that build Learners) does not import the training loop.
func TestVisionDataWithoutLoop(t *testing.T) {
	cmd := exec.Command("go", "list", "-f", `{{join .GoFiles " "}}`, "./vision")
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strings.Fields(string(out)) {
		if strings.HasPrefix(f, "learner") {
			continue
		}
		src, err := exec.Command("grep", "-l", `"`+mod+`/learner"`, filepath.Join("..", "..", "vision", f)).Output()
		if err == nil && len(src) > 0 {
			t.Errorf("vision/%s imports the learner package; only vision's learner*.go files build Learners", f)
		}
	}
}

// TestLowLayersWithoutPlots: tensors, autograd and layers draw nothing.
func TestLowLayersWithoutPlots(t *testing.T) {
	for _, pkg := range []string{"./tensor/...", "./autograd", "./layers", "./optim", "./data"} {
		for path, deps := range goList(t, true, pkg) {
			for _, d := range deps {
				if strings.HasPrefix(d, "gonum.org/v1/plot") || strings.HasPrefix(d, "github.com/vbauerster/mpb") {
					t.Errorf("%s depends on %s", path, d)
				}
			}
		}
	}
}
