package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/vision"
	"github.com/fastgo-ml/fastgo/vision/models"
)

// evalArchs are the architectures eval can build, by -arch name. Each takes
// 1x28x28 Fashion-MNIST images and has PyTorch's state-dict names.
var evalArchs = map[string]func() layers.Module{
	"smallcnn": func() layers.Module { return models.NewSmallCNN(10, tensor.NewRNG(0)) },
}

func init() {
	register(&command{
		name:  "eval",
		short: "print the Fashion-MNIST test accuracy of a model's weights (safetensors or .pth)",
		run:   runEval,
	})
}

// evalResult is eval's RESULT line.
type evalResult struct {
	Arch    string  `json:"arch"`
	Weights string  `json:"weights"`
	Data    string  `json:"data"`
	N       int     `json:"n"`
	Correct int     `json:"correct"`
	TestAcc float64 `json:"test_acc"`
	Loss    float64 `json:"test_loss"`
}

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("eval", stderr)
	model := fs.String("model", "", "an exported learner (fastgo train's output); evaluated on the validation set of -data")
	arch := fs.String("arch", "smallcnn", "architecture of -weights: "+strings.Join(evalArchNames(), ", "))
	weights := fs.String("weights", "", "state dict with PyTorch names (conv1, bn1, conv2, bn2, fc1, fc2 for smallcnn): safetensors, or torch.save's .pth/.pt")
	data := fs.String("data", "", "with -weights: directory holding Fashion-MNIST's t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (.gz or not), default the official test split embedded in fastgo; "+
		"with -model: the data as for fastgo train (default embedded), whose validation set is evaluated")
	batch := fs.Int("batch", 1000, "images per forward pass")
	threads := fs.Int("threads", 0, "GOMAXPROCS (0: the Go default)")
	seed := fs.Uint64("seed", 42, "with -model: the seed of the data's train/validation split (train's -seed)")
	validPct := fs.Float64("valid-pct", 0.2, "with -model: the fraction held out when the data has no split (train's -valid-pct)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: fastgo eval -arch smallcnn -weights FILE [-data DIR]\n"+
			"       fastgo eval -model FILE [-data DIR|FILE.csv|embedded|fashion-mnist]\n\n"+
			"With -weights: loads FILE strictly (an unknown, missing or mis-shaped tensor is an error naming it), puts the\n"+
			"model in eval mode and prints its top-1 accuracy on the 10,000 Fashion-MNIST test images,\n"+
			"then a RESULT line of JSON.\n\n"+
			"With -model: loads an exported learner and prints its accuracy and loss on the validation set of the\n"+
			"data it was trained on (the same -data, -seed and -valid-pct as fastgo train), read through the\n"+
			"learner's recorded transforms, then a RESULT line.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	build, ok := evalArchs[*arch]
	switch {
	case *model != "" && *weights != "":
		return fmt.Errorf("%w: give -model or -weights, not both", errUsage)
	case *model == "" && !ok:
		return fmt.Errorf("%w: unknown -arch %q (have %s)", errUsage, *arch, strings.Join(evalArchNames(), ", "))
	case *model == "" && *weights == "":
		return fmt.Errorf("%w: -model FILE or -weights FILE is required", errUsage)
	case *batch < 1:
		return fmt.Errorf("%w: -batch %d must be positive", errUsage, *batch)
	case *threads < 0:
		return fmt.Errorf("%w: -threads %d must not be negative", errUsage, *threads)
	case !(*validPct > 0 && *validPct < 1):
		return fmt.Errorf("%w: -valid-pct %v must be between 0 and 1", errUsage, *validPct)
	}
	if *threads > 0 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(*threads))
	}
	if *model != "" {
		return evalExported(*model, *data, *batch, *seed, *validPct, stdout)
	}

	m := build()
	if _, err := layers.LoadFile(m, *weights); err != nil {
		return err
	}
	test, source, err := evalTestSet(*data)
	if err != nil {
		return err
	}
	correct, loss := evalModel(m, test, *batch)
	res := evalResult{
		Arch: *arch, Weights: *weights, Data: source, N: test.Len(), Correct: correct,
		TestAcc: float64(correct) / float64(test.Len()), Loss: loss,
	}
	fmt.Fprintf(stdout, "%s %s: test accuracy %.4f (%d/%d), mean cross-entropy %.4f, on %s\n",
		res.Arch, res.Weights, res.TestAcc, res.Correct, res.N, res.Loss, res.Data)
	return printResult(stdout, res)
}

// evalExported evaluates an exported learner on the validation set of
// data (as fastgo train opens it), through the learner's transforms.
func evalExported(path, data string, batch int, seed uint64, validPct float64, stdout io.Writer) error {
	lm, err := (&modelFlags{model: path}).load()
	if err != nil {
		return err
	}
	ctx, stop := interruptContext()
	defer stop()
	dls, desc, err := lm.validData(ctx, dataFlags{data: data, bs: batch, seed: seed, validPct: validPct, csvHeader: true})
	if err != nil {
		return err
	}
	l := lm.Learner
	l.Metrics = []learner.Metric{learner.Accuracy()}
	vals, err := l.Validate(ctx, learner.OnLoader(dls.Valid))
	if err != nil {
		return interrupted(ctx, err, "")
	}
	n := dls.Valid.Dataset().Len()
	acc := vals[1]
	arch, err := layers.ArchOf(l.Model)
	if err != nil {
		return err
	}
	res := evalResult{
		Arch: arch.Name, Weights: path, Data: desc, N: n, Correct: int(math.Round(acc * float64(n))),
		TestAcc: acc, Loss: vals[0],
	}
	fmt.Fprintf(stdout, "%s %s: validation accuracy %.4f (%d/%d), mean cross-entropy %.4f, on %s\n",
		res.Arch, path, res.TestAcc, res.Correct, res.N, res.Loss, res.Data)
	return printResult(stdout, res)
}

func evalArchNames() []string {
	names := make([]string, 0, len(evalArchs))
	for n := range evalArchs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Fashion-MNIST's test files, without the optional .gz.
const (
	evalImages = "t10k-images-idx3-ubyte"
	evalLabels = "t10k-labels-idx1-ubyte"
)

// evalTestSet returns the Fashion-MNIST test split and a description of
// where it came from: the files in dir, or, for an empty dir, the copy
// embedded in fastgo (the same 10,000 images and labels as the official
// t10k files, checksummed by package vision). Data that cannot be used is
// an error naming the file.
func evalTestSet(dir string) (*vision.TensorDataset, string, error) {
	if dir == "" {
		ds, err := vision.Embedded()
		if err != nil {
			return nil, "", err
		}
		return ds, "the embedded Fashion-MNIST test split", nil
	}
	ip, err := evalFind(dir, evalImages)
	if err != nil {
		return nil, "", err
	}
	lp, err := evalFind(dir, evalLabels)
	if err != nil {
		return nil, "", err
	}
	ib, err := os.ReadFile(ip)
	if err != nil {
		return nil, "", err
	}
	lb, err := os.ReadFile(lp)
	if err != nil {
		return nil, "", err
	}
	ds, err := vision.IDXImages(ib, lb, ip, lp)
	if err != nil {
		return nil, "", err
	}
	if s := ds.X.Shape(); len(s) != 4 || s[1] != 1 || s[2] != 28 || s[3] != 28 || s[0] == 0 {
		return nil, "", fmt.Errorf("%s: images of shape %v, want [N 1 28 28] with N > 0 (Fashion-MNIST)", ip, s)
	}
	for i, y := range ds.Y {
		if y < 0 || y >= 10 {
			return nil, "", fmt.Errorf("%s: label %d of image %d is not a Fashion-MNIST class (0-9)", lp, y, i)
		}
	}
	return ds, "Fashion-MNIST test files in " + dir, nil
}

// evalFind returns dir/base.gz if it exists, else dir/base, else an error
// naming both.
func evalFind(dir, base string) (string, error) {
	p := filepath.Join(dir, base)
	for _, c := range []string{p + ".gz", p} {
		st, err := os.Stat(c)
		if err == nil && st.Mode().IsRegular() {
			return c, nil
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
	}
	return "", fmt.Errorf("%s: no such file (nor %s.gz)", p, p)
}

// evalModel returns the number of test images m classifies right and its
// mean cross-entropy, in eval mode (restored after) and without a graph.
func evalModel(m layers.Module, test *vision.TensorDataset, batch int) (correct int, loss float64) {
	training := m.Core().Training()
	layers.Eval(m)
	defer layers.SetTraining(m, training)
	n := test.Len()
	autograd.NoGrad(func() {
		for i := 0; i < n; i += batch {
			b := min(batch, n-i)
			y := test.Y[i : i+b]
			logits := layers.Call(m, autograd.Const(test.X.Narrow0(i, b)))
			for j, p := range tensor.ArgMax(logits.Data(), 1) {
				if p == y[j] {
					correct++
				}
			}
			l := autograd.CrossEntropy(logits, y, autograd.ReductionSum)
			loss += float64(l.Data().Item())
		}
	})
	return correct, loss / float64(n)
}
