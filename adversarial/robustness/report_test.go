package robustness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fastgo-ml/fastgo/adversarial/attacks"
	"github.com/fastgo-ml/fastgo/adversarial/internal/testmodels"
	"github.com/fastgo-ml/fastgo/internal/atomicfile"
)

// sampleReport evaluates a small linear model with the quick suite, with
// class names.
func sampleReport(t testing.TB, n int) *Report {
	t.Helper()
	m := testmodels.NewLinear4(1, false)
	x, y := testmodels.EvalData(m, n, 2)
	rep, err := Evaluate(context.Background(), m, x, y, quickSuite(0.05, 0.1))
	if err != nil {
		t.Fatal(err)
	}
	rep.Classes = []string{"zero", "one", "two", "three"}
	return rep
}

func TestReportFiles(t *testing.T) {
	rep := sampleReport(t, 40)
	dir := filepath.Join(t.TempDir(), "out")
	if err := rep.Save(dir); err != nil {
		t.Fatal(err)
	}
	t.Run("JSON round trip", func(t *testing.T) {
		back, err := ReadReport(filepath.Join(dir, "report.json"))
		if err != nil {
			t.Fatal(err)
		}
		want := *rep
		want.Examples = nil
		if !reflect.DeepEqual(back, &want) {
			a, _ := json.Marshal(back)
			b, _ := json.Marshal(&want)
			t.Fatalf("the report read back differs:\n%s\n%s", a, b)
		}
	})
	t.Run("Markdown", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(dir, "report.md"))
		if err != nil {
			t.Fatal(err)
		}
		md := string(b)
		var rows int
		for _, l := range strings.Split(md, "\n") {
			if strings.HasPrefix(l, "| ") && !strings.HasPrefix(l, "| -") {
				rows++
				if strings.Count(l, " | ") != 8 {
					t.Errorf("table row with %d cells: %q", strings.Count(l, " | ")+1, l)
				}
			}
		}
		// header + 2 attacks x 2 eps + 3 stages x 2 eps + 2 worst cases
		if rows != 1+4+6+2 {
			t.Errorf("%d table rows:\n%s", rows, md)
		}
		for _, s := range []string{"# Robustness report", "## Gradient-masking checks", "| ---", "worst case", CheckUnbounded} {
			if !strings.Contains(md, s) {
				t.Errorf("the Markdown lacks %q", s)
			}
		}
	})
	for _, name := range []string{"accuracy.png", "examples.png"} {
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			img, err := png.Decode(f)
			if err != nil {
				t.Fatal(err)
			}
			b := img.Bounds()
			if b.Dx() < 200 || b.Dy() < 100 {
				t.Errorf("image of %v", b)
			}
			if name == "examples.png" && b.Dy() < len(rep.Examples)*100 {
				t.Errorf("%d examples in an image of height %d", len(rep.Examples), b.Dy())
			}
		})
	}
	matches, _ := filepath.Glob(filepath.Join(dir, ".*tmp*"))
	if len(matches) != 0 {
		t.Errorf("temporary files left: %v", matches)
	}
}

func TestExampleGridLayout(t *testing.T) {
	rep := sampleReport(t, 40)
	img, err := ExampleGrid(rep.Examples[:2], rep.Classes)
	if err != nil {
		t.Fatal(err)
	}
	// Two rows of three cells: the middle cell of a row holds the
	// perturbation, mid-grey where the images agree and not elsewhere.
	b := img.Bounds()
	if b.Dx() < 3*96 || b.Dy() < 2*96 {
		t.Fatalf("grid of %v", b)
	}
	if _, err := ExampleGrid(nil, nil); err == nil {
		t.Error("an empty grid was drawn")
	}
	bad := rep.Examples[:1]
	bad[0].Adv = bad[0].Adv.Reshape(1, 16, 1)
	if _, err := ExampleGrid(bad, nil); err == nil {
		t.Error("examples of different shapes were drawn")
	}
}

func TestExamplesFromResult(t *testing.T) {
	m := testmodels.NewLinear4(1, false)
	x, y := testmodels.EvalData(m, 20, 3)
	r, err := attacks.Run(context.Background(), attacks.FGSM{}, m, x, attacks.Untargeted(y), attacks.ThreatModel{Norm: attacks.Linf, Eps: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	ex := ExamplesFromResult(r, x, testmodels.Predict(m, x), 5)
	if len(ex) != 5 {
		t.Fatalf("%d examples", len(ex))
	}
	for _, e := range ex {
		if !r.Success[e.Index] || e.AdvPred != r.Pred[e.Index] || e.Label != y[e.Index] || e.Attack != "FGSM" {
			t.Errorf("example %+v", e)
		}
	}
	if _, err := ExampleGrid(ex, nil); err != nil {
		t.Fatal(err)
	}
}

// TestReportWriteFails makes the JSON write fail half way: the previous
// report must stay, whole, and no temporary file remain.
func TestReportWriteFails(t *testing.T) {
	rep := sampleReport(t, 40)
	path := filepath.Join(t.TempDir(), "report.json")
	if err := rep.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(path)
	rep.CleanAccuracy = 0.5
	defer atomicfile.SetWriteHook(func(n int64) error {
		if n > int64(len(good))/2 {
			return errors.New("disk full")
		}
		return nil
	})()
	if err := rep.WriteJSON(path); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err = %v", err)
	}
	if now, _ := os.ReadFile(path); !bytes.Equal(now, good) {
		t.Fatal("a failed write changed the previous report")
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".report.json.tmp*")); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}
}

// The helper process of TestKilledReportWrite: it writes a report over the
// file named by FASTGO_REPORT_KILL_PATH and, half way through, says so and
// waits to be killed.
func TestHelperKilledReportWrite(t *testing.T) {
	path := os.Getenv("FASTGO_REPORT_KILL_PATH")
	if path == "" {
		t.Skip("helper process")
	}
	rep := sampleReport(t, 400)
	rep.CleanAccuracy = 0.5
	atomicfile.SetWriteHook(func(n int64) error {
		if n > 20<<10 {
			fmt.Println("HALF-WRITTEN")
			os.Stdout.Sync()
			time.Sleep(time.Minute)
		}
		return nil
	})
	rep.WriteJSON(path)
	t.Fatal("the helper was not killed")
}

func TestKilledReportWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "report.json")
	rep := sampleReport(t, 400)
	if err := rep.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(path)
	if len(good) < 40<<10 {
		t.Fatalf("the report is only %d bytes; the helper must be killed half way", len(good))
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperKilledReportWrite$", "-test.count=1")
	cmd.Env = append(os.Environ(), "FASTGO_REPORT_KILL_PATH="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	half := false
	for sc.Scan() {
		if sc.Text() == "HALF-WRITTEN" {
			half = true
			break
		}
	}
	if !half {
		cmd.Wait()
		t.Fatal("the helper never reached the middle of its write")
	}
	tmps, _ := filepath.Glob(filepath.Join(dir, ".report.json.tmp*"))
	cmd.Process.Kill()
	cmd.Wait()
	if len(tmps) != 1 {
		t.Fatalf("temporary files while writing: %v", tmps)
	}
	if st, err := os.Stat(tmps[0]); err != nil || st.Size() == 0 || st.Size() >= int64(len(good)) {
		t.Fatalf("the temporary file is not half written (%v, %v)", st, err)
	}
	if now, _ := os.ReadFile(path); !bytes.Equal(now, good) {
		t.Fatal("the killed write changed the previous report")
	}
	if _, err := ReadReport(path); err != nil {
		t.Fatalf("the previous report does not read after the kill: %v", err)
	}
}

func TestReadReportRejects(t *testing.T) {
	rep := sampleReport(t, 20)
	good, _ := json.Marshal(rep)
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		data string
	}{
		{"empty", ""},
		{"not JSON", "robust!"},
		{"truncated", string(good[:len(good)/2])},
		{"unknown field", strings.Replace(string(good), `"norm"`, `"nrom"`, 1)},
		{"accuracy", strings.Replace(string(good), `"clean_accuracy":`, `"clean_accuracy":7,"x":`, 1)},
		{"labels", strings.Replace(string(good), `"samples":20`, `"samples":21`, 1)},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".json")
			os.WriteFile(p, []byte(c.data), 0o644)
			_, err := ReadReport(p)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), p) {
				t.Errorf("the error does not name the file: %v", err)
			}
		})
	}
	if _, err := ReadReport(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("a missing file was read")
	}
}

func FuzzDecodeReport(f *testing.F) {
	rep := sampleReport(f, 8)
	good, _ := json.Marshal(rep)
	f.Add(good)
	f.Add([]byte(`{"norm":"Linf","samples":0,"labels":[],"clean_pred":[]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeReport(bytes.NewReader(data))
		if err != nil {
			return
		}
		// An accepted report is consistent and writes again.
		if len(r.Labels) != r.Samples {
			t.Fatal("inconsistent report accepted")
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatalf("accepted report does not encode: %v", err)
		}
		r.Table()
		r.Markdown()
	})
}
