package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/fastgo-ml/fastgo/adversarial"
	"github.com/fastgo-ml/fastgo/adversarial/attacks"
	"github.com/fastgo-ml/fastgo/callbacks"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/learner"
)

func init() {
	register(&command{
		name:  "train",
		short: "train a classifier on an image folder, a CSV file or a named data set and export it",
		run:   runTrain,
	})
}

// trainFlags are the flags of train that lr-find shares.
type trainFlags struct {
	dataFlags
	arch       string
	pretrained string
	wd         float64
	threads    int
	// weights is the pretrained weights file setup used, "" for none.
	weights string
}

func (t *trainFlags) register(fs *flag.FlagSet) {
	t.dataFlags.register(fs, "embedded")
	fs.StringVar(&t.arch, "arch", "auto", "architecture: auto (smallcnn for 1x28x28 images, else resnet18), "+strings.Join(trainArchs, ", "))
	fs.StringVar(&t.pretrained, "pretrained", pretrainedAuto, pretrainedUsage)
	fs.Float64Var(&t.wd, "wd", 0.01, "decoupled weight decay")
	fs.IntVar(&t.threads, "threads", 0, "GOMAXPROCS (0: the Go default)")
}

func (t *trainFlags) check() error {
	if err := t.dataFlags.check(); err != nil {
		return err
	}
	if err := firstErr(inRange("wd", t.wd, 0, 10), inRange("threads", t.threads, 0, maxWorkers)); err != nil {
		return err
	}
	return checkPretrained(t.pretrained)
}

// setup applies -threads and builds the data and the learner.
func (t *trainFlags) setup(ctx context.Context, stdout io.Writer, opts ...learner.Option) (*learner.Learner, string, func(), error) {
	undo := func() {}
	if t.threads > 0 {
		prev := runtime.GOMAXPROCS(t.threads)
		undo = func() { runtime.GOMAXPROCS(prev) }
	}
	arch := t.arch
	if arch == "auto" {
		arch = t.autoArch()
	}
	if arch != "smallcnn" && arch != "cifar-resnet18" && !isResNetArch(arch) {
		undo()
		return nil, "", nil, usagef("unknown -arch %q (have auto, %s)", arch, strings.Join(trainArchs, ", "))
	}
	w, err := pretrainedWeights(ctx, t.pretrained, arch, stdout)
	if err != nil {
		undo()
		return nil, "", nil, err
	}
	t.weights = w
	t.transfer = w != "" && t.itemTfms == nil && t.dataIsFiles()
	dls, desc, err := t.open(ctx)
	if err != nil {
		undo()
		return nil, "", nil, err
	}
	opts = append(opts, learner.WD(t.wd))
	l, err := buildLearner(ctx, dls, arch, w, t.seed, opts...)
	if err != nil {
		undo()
		return nil, "", nil, err
	}
	fmt.Fprintf(stdout, "data: %s: %d classes, %d training and %d validation batches of %d\n",
		desc, dls.C(), dls.Train.Len(), dls.Valid.Len(), t.bs)
	if t.transfer {
		size := t.size
		if size == 0 {
			size = 224
		}
		fmt.Fprintf(stdout, "transforms: RandomResizedCrop(%d) for training, Resize(%d) for validation (fastai's fine-tuning pipeline)\n", size, size)
	}
	return l, arch, undo, nil
}

func runTrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("train", stderr)
	var tf trainFlags
	tf.register(fs)
	epochs := fs.Int("epochs", 5, "epochs to train (after the frozen epoch, for fine-tune)")
	lr := fs.Float64("lr", 0, "peak learning rate (0: fastai's default for the method: 1e-3, or base_lr 2e-3 for fine-tune)")
	lrFind := fs.Bool("lr-find", false, "run the learning-rate finder first and train at its valley suggestion")
	method := fs.String("method", "", "one-cycle, flat-cos, fit or fine-tune (default: fine-tune from pretrained weights, else one-cycle)")
	out := fs.String("out", "export.safetensors", "the exported learner (fastai's export.pkl): architecture, weights, classes and transforms")
	ckpt := fs.String("checkpoint", "", "checkpoint saved after every epoch (default: OUT with .ckpt before its extension); removed after a successful export")
	resume := fs.Bool("resume", false, "continue from -checkpoint if it exists (same flags as the interrupted run)")
	csvLog := fs.String("csv", "", "also write the results table to this CSV file")
	plot := fs.String("plot", "", "also write the loss curve (PNG) to this file")
	defence := fs.String("defence", "none", "train with a defence: none, pgd-at (Madry's PGD adversarial training), fast-at (Wong et al.'s FGSM-RS with its overfitting guard), trades (Zhang et al.), noise (Gaussian noise, for fastgo certify)")
	defEps := fs.Float64("defence-eps", 0.1, "the Linf budget of pgd-at, fast-at and trades, in [0,1] pixels")
	defSteps := fs.Int("defence-steps", 7, "PGD steps of pgd-at and trades")
	beta := fs.Float64("trades-beta", 6, "TRADES's weight of the robust (KL) term")
	sigma := fs.Float64("sigma", 0.25, "the noise of -defence noise, in [0,1] pixels")
	setUsage(fs, "fastgo train [-data DIR|FILE.csv|embedded|fashion-mnist] [-arch ARCH] [-epochs N] [-out FILE]", `
Trains an image classifier the fastai way, showing a progress bar and the
results table, and exports it to -out for "fastgo eval -model", "fastgo attack
-model" and vision.LoadLearner. The ResNets start from torchvision's ImageNet
weights, as fastai's cnn_learner does (-pretrained auto): found in
$FASTGO_WEIGHTS, fastgo's cache or PyTorch's (~/.cache/torch/hub/checkpoints),
else downloaded once into fastgo's cache and checked by SHA-256; offline
(FASTGO_OFFLINE=1) or without network the run says so and trains from
scratch. Pretrained weights are fine-tuned (fine_tune: the head, then
everything), with fastai's RandomResizedCrop(224) for training images and
Resize(224) for validation when -data is image files; a model from scratch
is trained with fit_one_cycle. A checkpoint is saved after every epoch;
after Ctrl-C the run stops at the next batch and keeps it: run the same
command with -resume to continue.

Examples:
  fastgo train                                   # SmallCNN on the embedded Fashion-MNIST
  fastgo train -data fashion-mnist -epochs 3     # the full 60,000 images
  fastgo train -data ./photos -arch resnet34 -epochs 3   # fine-tunes torchvision's ResNet-34
  fastgo train -data ./photos -arch resnet18 -pretrained resnet18-f37072fd.pth -size 160
  fastgo train -defence pgd-at -defence-eps 0.1 -out robust.safetensors
  fastgo train -defence noise -sigma 0.25 -out smooth.safetensors   # then fastgo certify`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := tf.check(); err != nil {
		return err
	}
	if err := firstErr(inRange("epochs", *epochs, 1, 1_000_000), inRange("lr", *lr, 0, 10),
		inRange("defence-eps", *defEps, 0, 1), inRange("defence-steps", *defSteps, 1, 10_000),
		inRange("trades-beta", *beta, 0, 10_000), inRange("sigma", *sigma, 0, 10)); err != nil {
		return err
	}
	if *out == "" {
		return usagef("-out must name a file")
	}
	switch *method {
	case "", "one-cycle", "flat-cos", "fit", "fine-tune":
	default:
		return usagef("unknown -method %q (have one-cycle, flat-cos, fit, fine-tune)", *method)
	}
	if *resume && *method == "fine-tune" {
		return usagef("-resume does not support -method fine-tune (its two fits); use one-cycle")
	}
	if *ckpt == "" {
		*ckpt = withSuffix(*out, ".ckpt")
	}
	def, err := defenceCallback(*defence, *defEps, *defSteps, *beta, *sigma, tf.seed)
	if err != nil {
		return err
	}

	for _, p := range []string{*out, *ckpt} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
	}
	ctx, stop := interruptContext()
	defer stop()
	l, arch, undo, err := tf.setup(ctx, stdout, learner.Metrics(learner.Accuracy()))
	if err != nil {
		return interrupted(ctx, err, "")
	}
	defer undo()
	m := *method
	if m == "" {
		m = "one-cycle"
		if tf.weights != "" {
			m = "fine-tune"
		}
		if *resume && m == "fine-tune" {
			return usagef("-resume does not support fine-tune (its two fits), the method for pretrained weights: add -method one-cycle")
		}
	}
	fmt.Fprintf(stdout, "model: %s, %d parameters\n", arch, layers.NumParams(l.Model))

	start := 0
	if *resume {
		ok, err := fileExists(*ckpt)
		if err != nil {
			return err
		}
		if ok {
			if start, err = l.Resume(*ckpt); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "resuming from %s at epoch %d\n", *ckpt, start)
		} else {
			fmt.Fprintf(stdout, "no checkpoint %s: starting afresh\n", *ckpt)
		}
	}
	rate := *lr
	if *lrFind {
		res, err := l.LRFind(ctx)
		if err != nil {
			return interrupted(ctx, err, "")
		}
		rate = res.Valley
		fmt.Fprintf(stdout, "lr-find: valley %.3g (slide %.3g, minimum %.3g, steep %.3g)\n", res.Valley, res.Slide, res.Minimum, res.Steep)
	}
	if rate == 0 {
		rate = 1e-3
		if m == "fine-tune" {
			rate = 2e-3
		}
	}
	cbs := []learner.Callback{&learner.Checkpoint{Path: *ckpt}}
	if def != nil {
		cbs = append(cbs, def)
		fmt.Fprintf(stdout, "defence: %s\n", *defence)
	}
	if *csvLog != "" {
		cbs = append(cbs, &callbacks.CSVLogger{Path: *csvLog, Append: *resume && start > 0})
	}
	fo := []learner.Option{learner.Callbacks(cbs...), learner.StartEpoch(start), learner.ProgressTo(stdout), learner.LR(rate)}
	fmt.Fprintf(stdout, "training: %s, %d %s, lr %.3g\n", m, *epochs, plural(*epochs, "epoch", "epochs"), rate)
	switch m {
	case "one-cycle":
		err = l.FitOneCycle(ctx, *epochs, fo...)
	case "flat-cos":
		err = l.FitFlatCos(ctx, *epochs, fo...)
	case "fit":
		err = l.Fit(ctx, *epochs, fo...)
	case "fine-tune":
		err = l.FineTune(ctx, *epochs, learner.LR(rate), learner.Callbacks(cbs...), learner.ProgressTo(stdout))
	}
	if err != nil {
		kept := ""
		if ok, _ := fileExists(*ckpt); ok {
			kept = fmt.Sprintf("the last checkpoint is %s: run the same command with -resume to continue", *ckpt)
		}
		return interrupted(ctx, err, kept)
	}
	if *plot != "" {
		if err := l.Recorder.PlotLoss(*plot, learner.SkipStart(0)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "loss curve: %s\n", *plot)
	}
	if err := l.Export(*out); err != nil {
		return err
	}
	if acc, ok := l.Recorder.Last("accuracy"); ok {
		fmt.Fprintf(stdout, "validation accuracy %.4f\n", acc)
	}
	fmt.Fprintf(stdout, "exported %s (try: fastgo eval -model %s -data %s)\n", *out, *out, tf.data)
	os.Remove(*ckpt)
	return nil
}

// withSuffix inserts suffix before path's extension: ("a/m.safetensors",
// ".ckpt") gives "a/m.ckpt.safetensors".
func withSuffix(path, suffix string) string {
	ext := ""
	if i := strings.LastIndexByte(path, '.'); i > strings.LastIndexAny(path, `/\`) {
		ext = path[i:]
		path = path[:i]
	}
	return path + suffix + ext
}

// defenceCallback returns the training callback of -defence (nil for none).
func defenceCallback(name string, eps float64, steps int, beta, sigma float64, seed uint64) (learner.Callback, error) {
	if name == "none" || name == "" {
		return nil, nil
	}
	if !(eps > 0) || math.IsInf(eps, 0) {
		return nil, usagef("-defence-eps %v must be positive", eps)
	}
	if steps < 1 {
		return nil, usagef("-defence-steps %d must be positive", steps)
	}
	tm := attacks.ThreatModel{Norm: attacks.Linf, Eps: eps}
	switch name {
	case "pgd-at":
		a := attacks.PGD{Steps: steps, RandomStart: true, LastIterate: true}
		return adversarial.NewTrainer(adversarial.Attack(a), adversarial.Threat(tm), adversarial.Seed(seed)), nil
	case "fast-at":
		return adversarial.NewFastAT(adversarial.Threat(tm), adversarial.Seed(seed)), nil
	case "trades":
		if !(beta > 0) {
			return nil, usagef("-trades-beta %v must be positive", beta)
		}
		return &adversarial.TRADES{Threat: tm, Beta: beta, Steps: steps, Seed: seed}, nil
	case "noise":
		if !(sigma > 0) || math.IsInf(sigma, 0) {
			return nil, usagef("-sigma %v must be positive", sigma)
		}
		return &adversarial.GaussianNoise{Sigma: sigma, Seed: seed}, nil
	}
	return nil, usagef("unknown -defence %q (have none, pgd-at, fast-at, trades, noise)", name)
}
