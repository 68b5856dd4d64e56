package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"time"

	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/optim"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/vision"
	"github.com/fastgo-ml/fastgo/vision/models"
)

func init() {
	benchWorkloads["w2"] = benchW2
	benchWorkloads["w3"] = benchW3
}

// w2Result is the RESULT line of the w2 workload.
type w2Result struct {
	Workload          string  `json:"workload"`
	Threads           int     `json:"threads"`
	Tier              string  `json:"tier"`
	LoadS             float64 `json:"load_s"`
	TrainEpochS       float64 `json:"train_epoch_s"`
	TrainImgPerS      float64 `json:"train_img_per_s"`
	TrainSteps        int     `json:"train_steps"`
	TrainMedianStepMs float64 `json:"train_median_step_ms"`
	TrainSteadyImgPS  float64 `json:"train_steady_img_per_s"`
	TrainMeanLoss     float64 `json:"train_mean_loss"`
	EvalImgPerS       float64 `json:"eval_img_per_s"`
	TestAcc           float64 `json:"test_acc"`
	PeakRSSMiB        float64 `json:"peak_rss_mib"`
}

// w3Result is the RESULT line of the w3 workload.
type w3Result struct {
	Workload     string  `json:"workload"`
	Threads      int     `json:"threads"`
	Tier         string  `json:"tier"`
	PGDS         float64 `json:"pgd_s"`
	PGDImgPerS   float64 `json:"pgd_img_per_s"`
	PGDCleanAcc  float64 `json:"pgd_clean_acc"`
	PGDRobustAcc float64 `json:"pgd_robust_acc"`
	PeakRSSMiB   float64 `json:"peak_rss_mib"`
}

// benchW2 runs workload W2 of docs/performance.md: one epoch of SmallCNN on Fashion-MNIST,
// all data preloaded (as its uint8 pixels, scaled to [0,1] as each batch
// is gathered).
func benchW2(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench w2", stderr)
	threads := fs.Int("threads", 2, "GOMAXPROCS for the run")
	data := fs.String("data", "", "Fashion-MNIST directory (default: the vision package's lookup)")
	save := fs.String("save", "", "write the trained weights to this safetensors file (PyTorch names)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *threads < 1 {
		return fmt.Errorf("%w: -threads must be >= 1, got %d", errUsage, *threads)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(*threads))
	res, m, _, err := runW2(*data, stdout)
	if err != nil {
		return err
	}
	res.Threads = *threads
	if *save != "" {
		if err := saveWeights(*save, m); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "saved %s\n", *save)
	}
	return printResult(stdout, res)
}

// loadFashionMNIST finds and reads the full Fashion-MNIST.
func loadFashionMNIST(dir string) (train, test *vision.TensorDataset, err error) {
	d, err := vision.FindData("fashion-mnist", dir)
	if err != nil {
		return nil, nil, err
	}
	return vision.ReadMNIST(d)
}

// rawSplit is an IDX split kept as its uint8 pixels (a quarter of the
// memory of float32 tensors); batches are scaled to [0,1] as they are
// gathered.
type rawSplit struct {
	pix    []byte
	labels []int
	n      int
}

// loadRaw reads one split of Fashion-MNIST's IDX files as bytes.
func loadRaw(dir, prefix string) (*rawSplit, error) {
	find := func(base string) string {
		p := filepath.Join(dir, base+".gz")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		return filepath.Join(dir, base)
	}
	idims, pix, err := vision.LoadIDX(find(prefix + "-images-idx3-ubyte"))
	if err != nil {
		return nil, err
	}
	ldims, lab, err := vision.LoadIDX(find(prefix + "-labels-idx1-ubyte"))
	if err != nil {
		return nil, err
	}
	if len(idims) != 3 || idims[1] != 28 || idims[2] != 28 || len(ldims) != 1 || ldims[0] != idims[0] {
		return nil, fmt.Errorf("%s: Fashion-MNIST %s split of dimensions %v with labels %v", dir, prefix, idims, ldims)
	}
	labels := make([]int, len(lab))
	for i, v := range lab {
		labels[i] = int(v)
	}
	return &rawSplit{pix: pix, labels: labels, n: idims[0]}, nil
}

// gather writes images idx (scaled to [0,1]) into x and their labels into y.
func (r *rawSplit) gather(x []float32, y []int, idx []int) {
	const item = 28 * 28
	for j, k := range idx {
		src := r.pix[k*item : (k+1)*item]
		dst := x[j*item : (j+1)*item]
		for i, v := range src {
			dst[i] = float32(v) / 255
		}
		y[j] = r.labels[k]
	}
}

// runW2 trains the W2 SmallCNN for one epoch and evaluates it; it returns the
// result, the model (in eval mode) and the test set.
func runW2(dataDir string, stdout io.Writer) (*w2Result, *models.SmallCNNModel, *vision.TensorDataset, error) {
	t0 := time.Now()
	dir, err := vision.FindData("fashion-mnist", dataDir)
	if err != nil {
		return nil, nil, nil, err
	}
	train, err := loadRaw(dir, "train")
	if err != nil {
		return nil, nil, nil, err
	}
	testRaw, err := loadRaw(dir, "t10k")
	if err != nil {
		return nil, nil, nil, err
	}
	res := &w2Result{Workload: "w2", Tier: kernelTier(), LoadS: time.Since(t0).Seconds()}

	const batch = 128
	m := models.NewSmallCNN(10, tensor.NewRNG(0))
	opt := optim.NewAdam(optim.Params(layers.Parameters(m)...), optim.LR(1e-3), optim.Betas(0.9, 0.999), optim.Eps(1e-8))
	n := train.n
	perm := tensor.NewRNG(0).Perm(n)
	layers.Train(m)
	xb := tensor.Zeros(batch, 1, 28, 28)
	yb := make([]int, batch)
	var steps []float64
	lossSum := 0.0
	start := time.Now()
	for i := 0; i < n; i += batch {
		ts := time.Now()
		b := min(batch, n-i)
		x := xb.Narrow0(0, b)
		train.gather(x.Data(), yb, perm[i:i+b])
		opt.ZeroGrad()
		loss := autograd.CrossEntropy(layers.Call(m, autograd.Const(x)), yb[:b])
		loss.Backward()
		opt.Step()
		lossSum += float64(loss.Data().Item()) * float64(b)
		steps = append(steps, time.Since(ts).Seconds())
	}
	res.TrainEpochS = time.Since(start).Seconds()
	res.TrainImgPerS = float64(n) / res.TrainEpochS
	res.TrainSteps = len(steps)
	med := median(steps[:len(steps)-1])
	res.TrainMedianStepMs = med * 1e3
	res.TrainSteadyImgPS = batch / med
	res.TrainMeanLoss = lossSum / float64(n)

	layers.Eval(m)
	// The training buffers are not needed at the evaluation's batch size.
	tensor.FreePool()
	runtime.GC()
	test := &vision.TensorDataset{X: tensor.Zeros(testRaw.n, 1, 28, 28), Y: make([]int, testRaw.n)}
	all := make([]int, testRaw.n)
	for i := range all {
		all[i] = i
	}
	testRaw.gather(test.X.Data(), test.Y, all)
	t1 := time.Now()
	res.TestAcc = accuracy(m, test.X, test.Y, 1000)
	res.EvalImgPerS = float64(test.Len()) / time.Since(t1).Seconds()
	res.PeakRSSMiB = peakRSSMiB()
	fmt.Fprintf(stdout, "W2 threads=%d tier=%s epoch %.2f s  %.0f img/s (steady %.0f)  loss %.4f  test acc %.4f  eval %.0f img/s  peak RSS %.0f MiB\n",
		runtime.GOMAXPROCS(0), res.Tier, res.TrainEpochS, res.TrainImgPerS, res.TrainSteadyImgPS, res.TrainMeanLoss, res.TestAcc, res.EvalImgPerS, res.PeakRSSMiB)
	return res, m, test, nil
}

// accuracy returns the top-1 accuracy of m on x [N,...] with labels y, in
// batches, under NoGrad.
func accuracy(m layers.Module, x *tensor.Tensor, y []int, batch int) float64 {
	correct := 0
	autograd.NoGrad(func() {
		for i := 0; i < len(y); i += batch {
			b := min(batch, len(y)-i)
			pred := tensor.ArgMax(layers.Call(m, autograd.Const(x.Narrow0(i, b))).Data(), 1)
			for j, p := range pred {
				if p == y[i+j] {
					correct++
				}
			}
		}
	})
	return float64(correct) / float64(len(y))
}

// benchW3 runs workload W3 of docs/performance.md: PGD-20 L-inf on the W2 model.
func benchW3(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench w3", stderr)
	threads := fs.Int("threads", 2, "GOMAXPROCS for the run")
	data := fs.String("data", "", "Fashion-MNIST directory (default: the vision package's lookup)")
	weights := fs.String("weights", "", "SmallCNN safetensors weights (default: train W2 first, untimed)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *threads < 1 {
		return fmt.Errorf("%w: -threads must be >= 1, got %d", errUsage, *threads)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(*threads))
	var m *models.SmallCNNModel
	var test *vision.TensorDataset
	if *weights != "" {
		m = models.NewSmallCNN(10, tensor.NewRNG(0))
		if err := loadWeights(*weights, m); err != nil {
			return err
		}
		_, t, err := loadFashionMNIST(*data)
		if err != nil {
			return err
		}
		test = t
	} else {
		var err error
		if _, m, test, err = runW2(*data, stdout); err != nil {
			return err
		}
	}
	res := runW3(m, test)
	res.Threads = *threads
	fmt.Fprintf(stdout, "W3 threads=%d tier=%s PGD %.2f s  %.1f img/s  clean %.3f  robust %.3f  peak RSS %.0f MiB\n",
		res.Threads, res.Tier, res.PGDS, res.PGDImgPerS, res.PGDCleanAcc, res.PGDRobustAcc, res.PeakRSSMiB)
	return printResult(stdout, res)
}

// runW3 attacks the first 1000 test images with PGD-20 exactly as the
// reference does: eval mode, frozen parameters, x0 = clip(x + U(-eps, eps)),
// then x = clip(clip(x + alpha*sign(grad), x-eps, x+eps), 0, 1).
func runW3(m layers.Module, test *vision.TensorDataset) *w3Result {
	const (
		eps, alpha   = 0.1, 0.01
		steps, n, pb = 20, 1000, 250
		seed         = 0
	)
	layers.Eval(m)
	layers.SetRequiresGrad(m, false)
	defer layers.SetRequiresGrad(m, true)
	xs, ys := test.X.Narrow0(0, n), test.Y[:n]
	res := &w3Result{Workload: "w3", Tier: kernelTier()}
	res.PGDCleanAcc = accuracy(m, xs, ys, pb)
	rng := tensor.NewRNG(seed)
	robust := 0
	start := time.Now()
	for i := 0; i < n; i += pb {
		x, y := xs.Narrow0(i, pb), ys[i:i+pb]
		xd := x.Data()
		xa := tensor.New[float32](x.Shape()...)
		ad := xa.Data()
		for j, v := range xd {
			ad[j] = clamp32(v+float32(rng.Float64()*2*eps-eps), 0, 1)
		}
		for range steps {
			v := autograd.Param(xa)
			loss := autograd.CrossEntropy(layers.Call(m, v), y)
			g := autograd.Grads(loss, v)[0].Data()
			for j, gj := range g {
				s := float32(0)
				if gj > 0 {
					s = 1
				} else if gj < 0 {
					s = -1
				}
				xj := xd[j]
				ad[j] = clamp32(clamp32(ad[j]+alpha*s, xj-eps, xj+eps), 0, 1)
			}
		}
		autograd.NoGrad(func() {
			pred := tensor.ArgMax(layers.Call(m, autograd.Const(xa)).Data(), 1)
			for j, p := range pred {
				if p == y[j] {
					robust++
				}
			}
		})
	}
	res.PGDS = time.Since(start).Seconds()
	res.PGDImgPerS = n / res.PGDS
	res.PGDRobustAcc = float64(robust) / n
	res.PeakRSSMiB = peakRSSMiB()
	return res
}

// clamp32 returns v limited to [lo, hi] (float32 comparisons, as the
// reference's torch.clamp; NaN-free inputs).
func clamp32(v, lo, hi float32) float32 {
	return min(max(v, lo), hi)
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}
