package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/optim"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/vision/models"
)

func init() { benchWorkloads["w5"] = benchW5 }

// w5Classes is the size of W5's head (Oxford-IIIT Pets has 37 classes).
const w5Classes = 37

// w5Result is the RESULT line of the w5 workload.
type w5Result struct {
	Workload         string  `json:"workload"`
	Threads          int     `json:"threads"`
	Tier             string  `json:"tier"`
	Params           int     `json:"params"`
	Size             int     `json:"size"`
	TrainBatch       int     `json:"train_batch"`
	TrainMedianStepS float64 `json:"train_median_step_s"`
	TrainImgPerS     float64 `json:"train_img_per_s"`
	FrozenMedianS    float64 `json:"frozen_median_step_s"`
	FrozenImgPerS    float64 `json:"frozen_img_per_s"`
	EvalBatch        int     `json:"eval_batch"`
	EvalMedianS      float64 `json:"eval_median_s"`
	EvalImgPerS      float64 `json:"eval_img_per_s"`
	PeakRSSMiB       float64 `json:"peak_rss_mib"`
}

// benchW5 runs workload W5 of docs/performance.md: torchvision's ResNet-34 with a 37-class
// head on 224-pixel random images: a training step of the whole network, a
// step with the body's convolutions frozen (fine-tuning's first phase), and
// inference.
func benchW5(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench w5", stderr)
	threads := fs.Int("threads", 2, "GOMAXPROCS for the run")
	steps := fs.Int("steps", 5, "timed steps of each phase")
	warmup := fs.Int("warmup", 2, "untimed warm-up steps of each phase")
	batch := fs.Int("batch", 32, "training batch size")
	evalBatch := fs.Int("eval-batch", 64, "inference batch size")
	size := fs.Int("size", 224, "image height and width")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *threads < 1 || *steps < 1 || *warmup < 0 || *batch < 1 || *evalBatch < 1 || *size < 32 || *size > 1024 {
		return fmt.Errorf("%w: -threads, -steps, -batch and -eval-batch must be positive and -size in [32, 1024]", errUsage)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(*threads))

	rng := tensor.NewRNG(0)
	cfg, _ := models.ResNet34.ResNetConfig(3, w5Classes)
	m := models.NewResNet(cfg, rng)
	x := tensor.Uniform[float32](rng, 0, 1, *batch, 3, *size, *size)
	y := randomLabels(rng, *batch, w5Classes)
	trainPhase := func(opt optim.Optimizer) []float64 {
		return timeSteps(*warmup, *steps, func() {
			opt.ZeroGrad()
			autograd.CrossEntropy(layers.Call(m, autograd.Const(x)), y).Backward()
			opt.Step()
		})
	}

	layers.Train(m)
	train := trainPhase(optim.NewSGD(optim.Params(layers.Parameters(m)...), optim.LR(0.01), optim.Momentum(0.9)))

	// Fine-tuning's frozen phase: the learner's freeze (FreezeGroups keeps
	// the norm layers trainable) with the body and the head as the groups.
	layers.FreezeGroups(m, w5Groups(m), -1)
	var trainable []*autograd.Value
	for _, p := range layers.Parameters(m) {
		if p.RequiresGrad() {
			trainable = append(trainable, p)
		}
	}
	frozen := trainPhase(optim.NewSGD(optim.Params(trainable...), optim.LR(0.01), optim.Momentum(0.9)))
	layers.FreezeGroups(m, w5Groups(m), 0)
	settleMemory()

	layers.Eval(m)
	xe := tensor.Uniform[float32](rng, 0, 1, *evalBatch, 3, *size, *size)
	var ev []float64
	autograd.NoGrad(func() {
		ev = timeSteps(*warmup, *steps, func() { layers.Call(m, autograd.Const(xe)) })
	})
	res := w5Result{
		Workload: "w5", Threads: *threads, Tier: kernelTier(), Params: layers.NumParams(m), Size: *size,
		TrainBatch: *batch, TrainMedianStepS: median(train), TrainImgPerS: float64(*batch) / median(train),
		FrozenMedianS: median(frozen), FrozenImgPerS: float64(*batch) / median(frozen),
		EvalBatch: *evalBatch, EvalMedianS: median(ev), EvalImgPerS: float64(*evalBatch) / median(ev),
		PeakRSSMiB: peakRSSMiB(),
	}
	fmt.Fprintf(stdout, "W5 resnet34 %dpx threads=%d tier=%s: train b%d %.2f img/s, frozen body %.2f img/s, eval b%d %.2f img/s, peak RSS %.0f MiB\n",
		res.Size, res.Threads, res.Tier, res.TrainBatch, res.TrainImgPerS, res.FrozenImgPerS,
		res.EvalBatch, res.EvalImgPerS, res.PeakRSSMiB)
	return printResult(stdout, res)
}

// settleMemory lets the tensor pool drop the buffers the finished phase
// left idle (the pool keeps a buffer until two garbage collections pass
// without its use, and collects nothing between two steps of the same
// shapes) and returns their memory to the operating system, so that the
// inference phase, whose batch has other sizes, does not pile its buffers
// on the training ones: PyTorch frees each tensor as it dies and its
// allocator reuses the memory for the next sizes.
func settleMemory() {
	for i := 0; i < 4; i++ {
		runtime.GC()
		time.Sleep(10 * time.Millisecond) // the pool trims in a GC cleanup
	}
	debug.FreeOSMemory()
}

// w5Groups splits a ResNet's parameters into its body and its head (fc),
// the two layer groups of fine-tuning.
func w5Groups(m *models.ResNet) [][]layers.NamedParam {
	groups := make([][]layers.NamedParam, 2)
	for _, np := range layers.NamedParameters(m) {
		g := 0
		if strings.HasPrefix(np.Name, "fc.") {
			g = 1
		}
		groups[g] = append(groups[g], np)
	}
	return groups
}

// timeSteps runs step warmup+steps times and returns the wall times of the
// last steps runs, in seconds.
func timeSteps(warmup, steps int, step func()) []float64 {
	var ts []float64
	for i := 0; i < warmup+steps; i++ {
		t0 := time.Now()
		step()
		if i >= warmup {
			ts = append(ts, time.Since(t0).Seconds())
		}
	}
	return ts
}

// randomLabels returns n class indices drawn uniformly from [0, classes).
func randomLabels(rng *tensor.RNG, n, classes int) []int {
	y := make([]int, n)
	for i := range y {
		y[i] = rng.IntN(classes)
	}
	return y
}
