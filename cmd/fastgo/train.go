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
	fmt.Fprintf(stdout, "data: %s: %d classes, %d training and %d validation %s of %d\n",
		desc, dls.C(), dls.Train.Len(), dls.Valid.Len(), plural(dls.Valid.Len(), "batch", "batches"), t.bs)
	if t.transfer {
		size := t.size
		if size == 0 {
			size = 224
		}
		fmt.Fprintf(stdout, "transforms: RandomResizedCrop(%d) for training, Resize(%d) for validation (fastai's fine-tuning pipeline)\n", size, size)
	}
	return l, arch, undo, nil
}

// trainRun is one run of train: its flags, then the learner and its
// settings.
type trainRun struct {
	tf                        trainFlags
	epochs, defSteps          int
	lr, defEps, beta, sigma   float64
	lrFind, resume            bool
	method, out, ckpt, csvLog string
	plot, defence             string
	def                       learner.Callback
	start                     int
	stdout                    io.Writer
}

func runTrain(args []string, stdout, stderr io.Writer) error {
	r := &trainRun{stdout: stdout}
	if err := r.parse(args, stderr); err != nil {
		return err
	}
	for _, p := range []string{r.out, r.ckpt} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
	}
	ctx, stop := interruptContext()
	defer stop()
	l, arch, undo, err := r.tf.setup(ctx, stdout, learner.Metrics(learner.Accuracy()))
	if err != nil {
		return interrupted(ctx, err, "")
	}
	defer undo()
	m, err := r.resolveMethod()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "model: %s, %d parameters\n", arch, layers.NumParams(l.Model))
	if err := r.resumeFrom(l); err != nil {
		return err
	}
	rate, err := r.learningRate(ctx, l, m)
	if err != nil {
		return interrupted(ctx, err, "")
	}
	if err := r.fit(ctx, l, m, rate); err != nil {
		kept := ""
		if ok, _ := fileExists(r.ckpt); ok {
			kept = fmt.Sprintf("the last checkpoint is %s: run the same command with -resume to continue", r.ckpt)
		}
		return interrupted(ctx, err, kept)
	}
	return r.finish(l)
}

// parse reads and checks train's flags.
func (r *trainRun) parse(args []string, stderr io.Writer) error {
	fs := newFlagSet("train", stderr)
	r.tf.register(fs)
	fs.IntVar(&r.epochs, "epochs", 5, "epochs to train (after the frozen epoch, for fine-tune)")
	fs.Float64Var(&r.lr, "lr", 0, "peak learning rate (0: fastai's default for the method: 1e-3, or base_lr 2e-3 for fine-tune)")
	fs.BoolVar(&r.lrFind, "lr-find", false, "run the learning-rate finder first and train at its valley suggestion")
	fs.StringVar(&r.method, "method", "", "one-cycle, flat-cos, fit or fine-tune (default: fine-tune from pretrained weights, else one-cycle)")
	fs.StringVar(&r.out, "out", "export.safetensors", "the exported learner (fastai's export.pkl): architecture, weights, classes and transforms")
	fs.StringVar(&r.ckpt, "checkpoint", "", "checkpoint saved after every epoch (default: OUT with .ckpt before its extension); removed after a successful export")
	fs.BoolVar(&r.resume, "resume", false, "continue from -checkpoint if it exists (same flags as the interrupted run)")
	fs.StringVar(&r.csvLog, "csv", "", "also write the results table to this CSV file")
	fs.StringVar(&r.plot, "plot", "", "also write the loss curve (PNG) to this file")
	fs.StringVar(&r.defence, "defence", "none", "train with a defence: none, pgd-at (Madry's PGD adversarial training), fast-at (Wong et al.'s FGSM-RS with its overfitting guard), trades (Zhang et al.), noise (Gaussian noise, for fastgo certify)")
	fs.Float64Var(&r.defEps, "defence-eps", 0.1, "the Linf budget of pgd-at, fast-at and trades, in [0,1] pixels")
	fs.IntVar(&r.defSteps, "defence-steps", 7, "PGD steps of pgd-at and trades")
	fs.Float64Var(&r.beta, "trades-beta", 6, "TRADES's weight of the robust (KL) term")
	fs.Float64Var(&r.sigma, "sigma", 0.25, "the noise of -defence noise, in [0,1] pixels")
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
	if err := r.tf.check(); err != nil {
		return err
	}
	if err := checkEps("-defence-eps", r.defEps, attacks.Linf); err != nil {
		return err
	}
	if err := firstErr(inRange("epochs", r.epochs, 1, 1_000_000), inRange("lr", r.lr, 0, 10),
		inRange("defence-eps", r.defEps, 0, 1), inRange("defence-steps", r.defSteps, 1, 10_000),
		inRange("trades-beta", r.beta, 0, 10_000), inRange("sigma", r.sigma, 0, 10)); err != nil {
		return err
	}
	if r.out == "" {
		return usagef("-out must name a file")
	}
	switch r.method {
	case "", "one-cycle", "flat-cos", "fit", "fine-tune":
	default:
		return usagef("unknown -method %q (have one-cycle, flat-cos, fit, fine-tune)", r.method)
	}
	if r.resume && r.method == "fine-tune" {
		return usagef("-resume does not support -method fine-tune (its two fits); use one-cycle")
	}
	if r.ckpt == "" {
		r.ckpt = withSuffix(r.out, ".ckpt")
	}
	var err error
	r.def, err = defenceCallback(r.defence, r.defEps, r.defSteps, r.beta, r.sigma, r.tf.seed)
	return err
}

// resolveMethod returns -method, or its default: fine-tune from pretrained
// weights, else one-cycle.
func (r *trainRun) resolveMethod() (string, error) {
	if r.method != "" {
		return r.method, nil
	}
	if r.tf.weights == "" {
		return "one-cycle", nil
	}
	if r.resume {
		return "", usagef("-resume does not support fine-tune (its two fits), the method for pretrained weights: add -method one-cycle")
	}
	return "fine-tune", nil
}

// resumeFrom loads -checkpoint with -resume, when it exists.
func (r *trainRun) resumeFrom(l *learner.Learner) error {
	if !r.resume {
		return nil
	}
	ok, err := fileExists(r.ckpt)
	if err != nil {
		return err
	}
	if !ok {
		fmt.Fprintf(r.stdout, "no checkpoint %s: starting afresh\n", r.ckpt)
		return nil
	}
	if r.start, err = l.Resume(r.ckpt); err != nil {
		return err
	}
	fmt.Fprintf(r.stdout, "resuming from %s at epoch %d\n", r.ckpt, r.start)
	return nil
}

// learningRate returns -lr, lr-find's valley with -lr-find, or fastai's
// default for the method.
func (r *trainRun) learningRate(ctx context.Context, l *learner.Learner, method string) (float64, error) {
	rate := r.lr
	if r.lrFind {
		res, err := l.LRFind(ctx)
		if err != nil {
			return 0, err
		}
		rate = res.Valley
		fmt.Fprintf(r.stdout, "lr-find: valley %.3g (slide %.3g, minimum %.3g, steep %.3g)\n", res.Valley, res.Slide, res.Minimum, res.Steep)
	}
	if rate == 0 {
		rate = 1e-3
		if method == "fine-tune" {
			rate = 2e-3
		}
	}
	return rate, nil
}

// fit trains with the method, the checkpoint, the defence and the CSV log.
func (r *trainRun) fit(ctx context.Context, l *learner.Learner, method string, rate float64) error {
	cbs := []learner.Callback{&learner.Checkpoint{Path: r.ckpt}}
	if r.def != nil {
		cbs = append(cbs, r.def)
		fmt.Fprintf(r.stdout, "defence: %s\n", r.defence)
	}
	if r.csvLog != "" {
		cbs = append(cbs, &callbacks.CSVLogger{Path: r.csvLog, Append: r.resume && r.start > 0})
	}
	fo := []learner.Option{learner.Callbacks(cbs...), learner.StartEpoch(r.start), learner.ProgressTo(r.stdout), learner.LR(rate)}
	fmt.Fprintf(r.stdout, "training: %s, %d %s, lr %.3g\n", method, r.epochs, plural(r.epochs, "epoch", "epochs"), rate)
	switch method {
	case "one-cycle":
		return l.FitOneCycle(ctx, r.epochs, fo...)
	case "flat-cos":
		return l.FitFlatCos(ctx, r.epochs, fo...)
	case "fit":
		return l.Fit(ctx, r.epochs, fo...)
	default: // fine-tune
		return l.FineTune(ctx, r.epochs, learner.LR(rate), learner.Callbacks(cbs...), learner.ProgressTo(r.stdout))
	}
}

// finish writes -plot and the export, and says what to do next.
func (r *trainRun) finish(l *learner.Learner) error {
	if r.plot != "" {
		if err := l.Recorder.PlotLoss(r.plot, learner.SkipStart(0)); err != nil {
			return err
		}
		fmt.Fprintf(r.stdout, "loss curve: %s\n", r.plot)
	}
	if err := l.Export(r.out); err != nil {
		return err
	}
	if acc, ok := l.Recorder.Last("accuracy"); ok {
		fmt.Fprintf(r.stdout, "validation accuracy %.4f\n", acc)
	}
	fmt.Fprintf(r.stdout, "exported %s (try: fastgo eval -model %s -data %s)\n", r.out, r.out, r.tf.data)
	os.Remove(r.ckpt)
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
