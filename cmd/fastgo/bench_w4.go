package main

import (
	"fmt"
	"io"
	"runtime"

	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/internal/kernels"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/optim"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/vision/models"
)

func init() { benchWorkloads["w4"] = benchW4 }

// kernelTier names the SIMD tier in use.
func kernelTier() string { return kernels.Tier() }

// w4Result is the RESULT line of the w4 workload.
type w4Result struct {
	Workload          string  `json:"workload"`
	Threads           int     `json:"threads"`
	Tier              string  `json:"tier"`
	Params            int     `json:"params"`
	TrainBatch        int     `json:"train_batch"`
	TrainMedianStepS  float64 `json:"train_median_step_s"`
	TrainImgPerS      float64 `json:"train_img_per_s"`
	TrainImgPerSBest  float64 `json:"train_img_per_s_best"`
	TrainImgPerSWorst float64 `json:"train_img_per_s_worst"`
	EvalBatch         int     `json:"eval_batch"`
	EvalMedianS       float64 `json:"eval_median_s"`
	EvalImgPerS       float64 `json:"eval_img_per_s"`
	EvalImgPerSBest   float64 `json:"eval_img_per_s_best"`
	EvalImgPerSWorst  float64 `json:"eval_img_per_s_worst"`
	PeakRSSMiB        float64 `json:"peak_rss_mib"`
}

// benchW4 runs workload W4 of docs/performance.md: ResNet-18 (CIFAR variant) training steps
// and inference on random data.
func benchW4(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench w4", stderr)
	threads := fs.Int("threads", 2, "GOMAXPROCS for the run")
	steps := fs.Int("steps", 10, "timed steps")
	warmup := fs.Int("warmup", 3, "untimed warm-up steps")
	batch := fs.Int("batch", 64, "training batch size")
	evalBatch := fs.Int("eval-batch", 256, "inference batch size")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *threads < 1 || *steps < 1 || *warmup < 0 || *batch < 1 || *evalBatch < 1 {
		return fmt.Errorf("%w: -threads, -steps, -batch and -eval-batch must be positive", errUsage)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(*threads))

	rng := tensor.NewRNG(0)
	m := models.NewCIFARResNet18(3, 10, rng)
	opt := optim.NewSGD(optim.Params(layers.Parameters(m)...), optim.LR(0.01), optim.Momentum(0.9))
	x := tensor.Normal[float32](rng, 0, 1, *batch, 3, 32, 32)
	y := randomLabels(rng, *batch, 10)
	layers.Train(m)
	train := timeSteps(*warmup, *steps, func() {
		opt.ZeroGrad()
		autograd.CrossEntropy(layers.Call(m, autograd.Const(x)), y).Backward()
		opt.Step()
	})

	layers.Eval(m)
	xe := tensor.Normal[float32](rng, 0, 1, *evalBatch, 3, 32, 32)
	var ev []float64
	autograd.NoGrad(func() {
		ev = timeSteps(*warmup, *steps, func() { layers.Call(m, autograd.Const(xe)) })
	})
	res := w4Result{
		Workload: "w4", Threads: *threads, Tier: kernelTier(), Params: layers.NumParams(m),
		TrainBatch: *batch, TrainMedianStepS: median(train),
		TrainImgPerS: float64(*batch) / median(train), TrainImgPerSBest: float64(*batch) / minOf(train), TrainImgPerSWorst: float64(*batch) / maxOf(train),
		EvalBatch: *evalBatch, EvalMedianS: median(ev),
		EvalImgPerS: float64(*evalBatch) / median(ev), EvalImgPerSBest: float64(*evalBatch) / minOf(ev), EvalImgPerSWorst: float64(*evalBatch) / maxOf(ev),
		PeakRSSMiB: peakRSSMiB(),
	}
	fmt.Fprintf(stdout, "W4 threads=%d tier=%s train b%d: %.1f img/s (best %.1f, worst %.1f)  eval b%d: %.1f img/s (best %.1f, worst %.1f)  peak RSS %.0f MiB\n",
		res.Threads, res.Tier, res.TrainBatch, res.TrainImgPerS, res.TrainImgPerSBest, res.TrainImgPerSWorst,
		res.EvalBatch, res.EvalImgPerS, res.EvalImgPerSBest, res.EvalImgPerSWorst, res.PeakRSSMiB)
	return printResult(stdout, res)
}

func minOf(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = min(m, x)
	}
	return m
}

func maxOf(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = max(m, x)
	}
	return m
}
