package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/tensor/safetensors"
	"github.com/fastgo-ml/fastgo/vision"
	"github.com/fastgo-ml/fastgo/vision/models"
)

const fmnistDir = "/usr/share/datasets/fashion-mnist"

// runCLI runs the fastgo command line and returns its exit code and output.
func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// evalResultOf parses the RESULT line of eval's output.
func evalResultOf(t *testing.T, stdout string) evalResult {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	last := lines[len(lines)-1]
	js, ok := strings.CutPrefix(last, "RESULT ")
	if !ok {
		t.Fatalf("last line %q is not a RESULT line", last)
	}
	var r evalResult
	if err := json.Unmarshal([]byte(js), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// saveSmallCNN writes a seeded SmallCNN, with non-trivial BatchNorm
// buffers, to dir and returns the path and the model.
func saveSmallCNN(t *testing.T, dir string, seed uint64) (string, *models.SmallCNNModel) {
	t.Helper()
	m := models.NewSmallCNN(10, tensor.NewRNG(seed))
	rng := tensor.NewRNG(seed + 1)
	for _, bn := range []*layers.BatchNorm{m.BN1, m.BN2} {
		layers.UniformInit(bn.RunningMean, -0.1, 0.1, rng)
		layers.UniformInit(bn.RunningVar, 0.5, 1.5, rng)
		bn.NumBatchesTracked = 7
	}
	p := filepath.Join(dir, "w.safetensors")
	if err := layers.SaveFile(m, p, safetensors.Metadata(map[string]string{"format": "pt"})); err != nil {
		t.Fatal(err)
	}
	return p, m
}

// predictions returns m's predicted classes on x, in eval mode.
func predictions(m layers.Module, x *tensor.Tensor) []int {
	layers.Eval(m)
	var pred []int
	autograd.NoGrad(func() {
		for i := 0; i < x.Dim(0); i += 500 {
			b := min(500, x.Dim(0)-i)
			pred = append(pred, tensor.ArgMax(layers.Call(m, autograd.Const(x.Narrow0(i, b))).Data(), 1)...)
		}
	})
	return pred
}

// writeIDX writes an IDX file of unsigned bytes with the given dims.
func writeIDX(t *testing.T, path string, dims []int, data []byte) {
	t.Helper()
	var b bytes.Buffer
	b.Write([]byte{0, 0, 8, byte(len(dims))})
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, uint32(d))
	}
	b.Write(data)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestEvalUsage(t *testing.T) {
	dir := t.TempDir()
	weights, _ := saveSmallCNN(t, dir, 1)
	cases := []struct {
		name string
		args []string
		code int
		want string // in stderr
	}{
		{"help", []string{"eval", "-h"}, 0, "Usage: fastgo eval -arch smallcnn -weights FILE [-data DIR]"},
		{"no weights", []string{"eval"}, 2, "-weights FILE is required"},
		{"unknown arch", []string{"eval", "-arch", "vgg", "-weights", weights}, 2, `unknown -arch "vgg" (have smallcnn)`},
		{"unknown flag", []string{"eval", "-weight", weights}, 2, "flag provided but not defined: -weight"},
		{"extra argument", []string{"eval", "-weights", weights, "more"}, 2, `unexpected argument "more"`},
		{"bad batch", []string{"eval", "-weights", weights, "-batch", "0"}, 2, "-batch 0 must be positive"},
		{"bad threads", []string{"eval", "-weights", weights, "-threads", "-1"}, 2, "-threads -1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(c.args...)
			if code != c.code {
				t.Errorf("exit code %d, want %d\nstderr: %s", code, c.code, stderr)
			}
			if !strings.Contains(stderr, c.want) {
				t.Errorf("stderr %q does not contain %q", stderr, c.want)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
		})
	}
	// -h lists every flag.
	_, _, stderr := runCLI("eval", "-h")
	for _, f := range []string{"-arch", "-weights", "-data", "-batch", "-threads"} {
		if !strings.Contains(stderr, f) {
			t.Errorf("-h does not describe %s:\n%s", f, stderr)
		}
	}
	// The command is listed by fastgo help.
	if _, _, stderr := runCLI("help"); !strings.Contains(stderr, "eval") {
		t.Errorf("fastgo help does not list eval:\n%s", stderr)
	}
}

func TestEvalFailuresNameTheFile(t *testing.T) {
	dir := t.TempDir()
	weights, m := saveSmallCNN(t, dir, 2)
	sd := layers.GetStateDict(m)
	// write saves a copy of the state dict edited by edit.
	write := func(name string, edit func(ts map[string]*tensor.Tensor, ints map[string]safetensors.Int64Tensor)) string {
		ts := map[string]*tensor.Tensor{}
		for k, v := range sd.Tensors {
			ts[k] = v
		}
		ints := map[string]safetensors.Int64Tensor{}
		for k, v := range sd.Ints {
			ints[k] = safetensors.Int64Tensor{Data: []int64{v}}
		}
		edit(ts, ints)
		p := filepath.Join(dir, name)
		if err := safetensors.Save(p, ts, safetensors.Ints(ints)); err != nil {
			t.Fatal(err)
		}
		return p
	}
	garbage := filepath.Join(dir, "garbage.safetensors")
	os.WriteFile(garbage, []byte("this is not a safetensors file at all"), 0o644)
	truncated := filepath.Join(dir, "truncated.safetensors")
	b, _ := os.ReadFile(weights)
	os.WriteFile(truncated, b[:len(b)/2], 0o644)
	missing := write("missing.safetensors", func(ts map[string]*tensor.Tensor, _ map[string]safetensors.Int64Tensor) { delete(ts, "fc2.bias") })
	extra := write("extra.safetensors", func(ts map[string]*tensor.Tensor, _ map[string]safetensors.Int64Tensor) {
		ts["fc3.weight"] = tensor.Zeros(2)
	})
	shaped := write("shaped.safetensors", func(ts map[string]*tensor.Tensor, _ map[string]safetensors.Int64Tensor) {
		ts["conv1.weight"] = tensor.Zeros(32, 1, 5, 5)
	})
	kind := write("kind.safetensors", func(ts map[string]*tensor.Tensor, ints map[string]safetensors.Int64Tensor) {
		delete(ints, "bn1.num_batches_tracked")
		ts["bn1.num_batches_tracked"] = tensor.Zeros()
	})
	noData := t.TempDir()
	badData := t.TempDir()
	os.WriteFile(filepath.Join(badData, "t10k-images-idx3-ubyte"), []byte{0, 0, 8, 3, 0, 0}, 0o644)
	os.WriteFile(filepath.Join(badData, "t10k-labels-idx1-ubyte"), []byte{0, 0, 8, 1, 0, 0, 0, 1, 3}, 0o644)
	smallData := t.TempDir()
	writeIDX(t, filepath.Join(smallData, "t10k-images-idx3-ubyte"), []int{2, 20, 20}, make([]byte, 800))
	writeIDX(t, filepath.Join(smallData, "t10k-labels-idx1-ubyte"), []int{2}, []byte{1, 2})
	badLabels := t.TempDir()
	writeIDX(t, filepath.Join(badLabels, "t10k-images-idx3-ubyte"), []int{2, 28, 28}, make([]byte, 2*784))
	writeIDX(t, filepath.Join(badLabels, "t10k-labels-idx1-ubyte"), []int{2}, []byte{1, 12})

	cases := []struct {
		name  string
		args  []string
		wants []string
	}{
		{"no such file", []string{"-weights", filepath.Join(dir, "nope.safetensors")}, []string{"nope.safetensors", "no such file"}},
		{"not safetensors", []string{"-weights", garbage}, []string{garbage, "header"}},
		{"truncated", []string{"-weights", truncated}, []string{truncated}},
		{"missing tensor", []string{"-weights", missing}, []string{missing, "missing fc2.bias"}},
		{"unexpected tensor", []string{"-weights", extra}, []string{extra, "unexpected fc3.weight"}},
		{"mis-shaped tensor", []string{"-weights", shaped}, []string{shaped, "conv1.weight", "[32 1 3 3]", "[32 1 5 5]"}},
		{"float for an integer buffer", []string{"-weights", kind}, []string{kind, "bn1.num_batches_tracked"}},
		{"no test files", []string{"-weights", weights, "-data", noData}, []string{filepath.Join(noData, "t10k-images-idx3-ubyte")}},
		{"corrupt test files", []string{"-weights", weights, "-data", badData}, []string{filepath.Join(badData, "t10k-")}},
		{"not 28x28", []string{"-weights", weights, "-data", smallData}, []string{filepath.Join(smallData, "t10k-images-idx3-ubyte"), "[2 1 20 20]"}},
		{"label out of range", []string{"-weights", weights, "-data", badLabels}, []string{filepath.Join(badLabels, "t10k-labels-idx1-ubyte"), "label 12"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(append([]string{"eval"}, c.args...)...)
			if code != 1 {
				t.Errorf("exit code %d, want 1\nstderr: %s", code, stderr)
			}
			if n := strings.Count(stderr, "\n"); n != 1 || !strings.HasPrefix(stderr, "fastgo eval: ") {
				t.Errorf("stderr is not one line starting with \"fastgo eval: \": %q", stderr)
			}
			for _, w := range c.wants {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not contain %q", stderr, w)
				}
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing on failure", stdout)
			}
		})
	}
}

// TestEvalMatchesModel evaluates a fastgo-saved SmallCNN through the command
// and checks the accuracy against the model's own predictions on the same
// data, and that -data DIR (when the files are installed) reads the same
// images and labels as the default, the embedded test split.
func TestEvalMatchesModel(t *testing.T) {
	if testing.Short() {
		t.Skip("evaluates 10,000 images twice")
	}
	weights, m := saveSmallCNN(t, t.TempDir(), 3)
	test, err := vision.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	pred := predictions(m, test.X)
	correct := 0
	for i, p := range pred {
		if p == test.Y[i] {
			correct++
		}
	}
	code, stdout, stderr := runCLI("eval", "-weights", weights, "-threads", "2", "-batch", "777")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r := evalResultOf(t, stdout)
	if r.N != 10000 || r.Correct != correct || r.TestAcc != float64(correct)/10000 || r.Arch != "smallcnn" || r.Weights != weights {
		t.Errorf("RESULT %+v, want %d/10000 correct", r, correct)
	}
	if !(r.Loss > 0) || math.IsInf(r.Loss, 0) {
		t.Errorf("test loss %v", r.Loss)
	}
	if !strings.Contains(stdout, "test accuracy "+strconv.FormatFloat(r.TestAcc, 'f', 4, 64)) {
		t.Errorf("stdout does not print the accuracy:\n%s", stdout)
	}
	// -data reads the official files, which hold exactly the embedded
	// split: the default and -data DIR evaluate the same images.
	if _, err := os.Stat(fmnistDir); err != nil {
		t.Logf("no %s: -data not compared with the embedded split", fmnistDir)
		return
	}
	files, _, err := evalTestSet(fmnistDir)
	if err != nil {
		t.Fatal(err)
	}
	if !tensor.SameShape(files.X.Shape(), test.X.Shape()) || len(files.Y) != len(test.Y) {
		t.Fatalf("-data %s: %v images, embedded %v", fmnistDir, files.X.Shape(), test.X.Shape())
	}
	for i, v := range files.X.Data() {
		if v != test.X.Data()[i] {
			t.Fatalf("-data %s differs from the embedded split at pixel %d", fmnistDir, i)
		}
	}
	for i, y := range files.Y {
		if y != test.Y[i] {
			t.Fatalf("-data %s differs from the embedded split at label %d", fmnistDir, i)
		}
	}
}

// TestEvalMatchesPyTorch has PyTorch train the SmallCNN of docs/performance.md's W2 for
// a few steps (testdata/eval_torch.py, the model and writer of
// shared/bench/torch_w2_w3.py), save its state dict as safetensors and report
// its test accuracy and predictions; fastgo eval must give the same accuracy
// to 0.001 from the file, and the same prediction on 99.9% of the images.
func TestEvalMatchesPyTorch(t *testing.T) {
	if testing.Short() {
		t.Skip("trains with PyTorch")
	}
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import torch, numpy").Run(); err != nil {
		t.Skipf("%s has no torch: %v", py, err)
	}
	if _, err := os.Stat(fmnistDir); err != nil {
		t.Skipf("no Fashion-MNIST at %s", fmnistDir)
	}
	weights := filepath.Join(t.TempDir(), "torch.safetensors")
	cmd := exec.Command(py, "testdata/eval_torch.py", "--data", fmnistDir, "--out", weights, "--steps", "40")
	// reference.sh's allocator settings: without them glibc returns and
	// re-faults PyTorch's large blocks, doubling the run time.
	cmd.Env = append(os.Environ(), "MALLOC_MMAP_THRESHOLD_=1000000000", "MALLOC_TRIM_THRESHOLD_=1000000000", "OMP_NUM_THREADS=1")
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("eval_torch.py: %v\n%s", err, stderr)
	}
	var ref struct {
		TestAcc float64 `json:"test_acc"`
		Correct int     `json:"correct"`
		Pred    []int   `json:"pred"`
	}
	if err := json.Unmarshal(out, &ref); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI("eval", "-arch", "smallcnn", "-weights", weights, "-data", fmnistDir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r := evalResultOf(t, stdout)
	t.Logf("PyTorch test accuracy %.4f, fastgo eval %.4f", ref.TestAcc, r.TestAcc)
	if math.Abs(r.TestAcc-ref.TestAcc) > 0.001 {
		t.Errorf("fastgo eval accuracy %.4f, PyTorch %.4f: differ by more than 0.001", r.TestAcc, ref.TestAcc)
	}
	m := evalArchs["smallcnn"]()
	if _, err := layers.LoadFile(m, weights); err != nil {
		t.Fatal(err)
	}
	test, err := vision.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	agree := 0
	for i, p := range predictions(m, test.X) {
		if p == ref.Pred[i] {
			agree++
		}
	}
	t.Logf("fastgo and PyTorch predict the same class for %d of 10000 images", agree)
	if agree < 9990 {
		t.Errorf("fastgo and PyTorch agree on %d of 10000 predictions, want at least 9990", agree)
	}
}

// TestEvalReferenceWeights evaluates a SmallCNN trained by
// `bash shared/bench/reference.sh w2w3 --save PREFIX` when
// FASTGO_EVAL_WEIGHTS names PREFIX.safetensors and FASTGO_EVAL_ACC the
// test accuracy the script printed; the two must agree to 0.001.
func TestEvalReferenceWeights(t *testing.T) {
	weights, want := os.Getenv("FASTGO_EVAL_WEIGHTS"), os.Getenv("FASTGO_EVAL_ACC")
	if weights == "" || want == "" {
		t.Skip("set FASTGO_EVAL_WEIGHTS=PREFIX.safetensors and FASTGO_EVAL_ACC=<PyTorch's test acc> from reference.sh w2w3 --save PREFIX")
	}
	acc, err := strconv.ParseFloat(want, 64)
	if err != nil {
		t.Fatalf("FASTGO_EVAL_ACC=%q: %v", want, err)
	}
	args := []string{"eval", "-arch", "smallcnn", "-weights", weights}
	if _, err := os.Stat(fmnistDir); err == nil {
		args = append(args, "-data", fmnistDir)
	}
	code, stdout, stderr := runCLI(args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r := evalResultOf(t, stdout)
	t.Logf("PyTorch %.4f, fastgo eval %.4f", acc, r.TestAcc)
	if math.Abs(r.TestAcc-acc) > 0.001 {
		t.Errorf("fastgo eval accuracy %.4f, PyTorch reported %.4f", r.TestAcc, acc)
	}
}
