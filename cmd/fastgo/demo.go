package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/fastgo-ml/fastgo/adversarial"
	"github.com/fastgo-ml/fastgo/adversarial/attacks"
	"github.com/fastgo-ml/fastgo/adversarial/robustness"
	"github.com/fastgo-ml/fastgo/data"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/vision"
	"github.com/fastgo-ml/fastgo/vision/models"
)

func init() {
	register(&command{
		name:  "demo",
		short: "the whole story on the embedded Fashion-MNIST: train, attack, harden, measure (under 3 minutes)",
		run:   runDemo,
	})
}

// demoPlan sizes the demo's work. The full plan is measured to finish in
// well under 3 minutes on 2 shared cores; the quick one, for CI and tests,
// in seconds.
type demoPlan struct {
	// Epochs of one-cycle training and its peak learning rate.
	Epochs int     `json:"epochs"`
	LR     float64 `json:"lr"`
	// TrainBatches and ValidBatches, when not 0, limit every epoch to its
	// first batches (of 128 images).
	TrainBatches int `json:"train_batches,omitempty"`
	ValidBatches int `json:"valid_batches,omitempty"`
	// Eps is the threat model's budget (Linf, pixels) for the targeted
	// example, Square and adversarial training; EpsList the evaluation's.
	Eps     float64   `json:"eps"`
	EpsList []float64 `json:"eps_list"`
	// TargetSteps are the PGD steps of the targeted white-box example.
	TargetSteps int `json:"target_steps"`
	// EvalSamples validation images are evaluated; PGDSteps are the
	// evaluation's PGD steps; SquareQueries Square's budget per image;
	// UnboundedSteps the steps of the unbounded masking check.
	EvalSamples    int `json:"eval_samples"`
	PGDSteps       int `json:"pgd_steps"`
	SquareQueries  int `json:"square_queries"`
	UnboundedSteps int `json:"unbounded_steps"`
	// AdvEpochs of adversarial training (PGD-AT, AdvSteps steps) at AdvLR.
	AdvEpochs int     `json:"adv_epochs"`
	AdvSteps  int     `json:"adv_steps"`
	AdvLR     float64 `json:"adv_lr"`
	// Examples is the number of rows of the example grid.
	Examples int `json:"examples"`
}

// fullPlan and quickPlan are the demo's two sizes. Every run prints its
// stage times.
var (
	fullPlan = demoPlan{
		Epochs: 2, LR: 5e-3, Eps: 0.1, EpsList: []float64{0.05, 0.1, 0.15},
		TargetSteps: 40, EvalSamples: 200, PGDSteps: 10, SquareQueries: 250, UnboundedSteps: 10,
		AdvEpochs: 1, AdvSteps: 3, AdvLR: 2e-3, Examples: 6,
	}
	quickPlan = demoPlan{
		Epochs: 1, LR: 5e-3, TrainBatches: 10, ValidBatches: 2, Eps: 0.1, EpsList: []float64{0.05, 0.1},
		TargetSteps: 20, EvalSamples: 24, PGDSteps: 3, SquareQueries: 30, UnboundedSteps: 5,
		AdvEpochs: 1, AdvSteps: 2, AdvLR: 2e-3, Examples: 3,
	}
)

func runDemo(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", stderr)
	out := fs.String("out", "", "the folder to write (default ./fastgo-out/demo-<timestamp>)")
	quick := fs.Bool("quick", false, "a much smaller run (a fraction of an epoch, a few dozen images), for CI and tests")
	seed := fs.Uint64("seed", 42, "seed of the data order, the model's initialisation and the attacks")
	setUsage(fs, "fastgo demo [-out DIR] [-quick]", `
The main job, on the 10,000 Fashion-MNIST images embedded in fastgo (nothing to
download or install): it trains a SmallCNN with the one-cycle policy (progress
bar and fastai's results table), attacks it (a targeted white-box example on one
image, then PGD and the black-box Square attack on validation images),
adversarially trains it (PGD adversarial training), and prints a before/after
robustness table. It writes into -out the report (report.md, report.json), the
loss curve (loss.png), robust accuracy against eps (robustness.png), the
clean/perturbation/adversarial grid (examples.png), each model's own
robustness report (standard/ and adversarial/: report.html to open in a
browser, report.md, report.json) and both exported learners, and
says where. It prints each stage's time; the whole run takes under 3 minutes
on 2 cores. Ctrl-C stops it cleanly.`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	plan := fullPlan
	if *quick {
		plan = quickPlan
	}
	dir := *out
	if dir == "" {
		dir = filepath.Join("fastgo-out", "demo-"+time.Now().Format("20060102-150405"))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ctx, stop := interruptContext()
	defer stop()
	d := &demo{plan: plan, dir: dir, seed: *seed, out: stdout, quick: *quick}
	if err := d.run(ctx); err != nil {
		kept := ""
		if ok, _ := fileExists(d.ckpt()); ok {
			kept = "the last checkpoint is " + d.ckpt()
		}
		return interrupted(ctx, err, kept)
	}
	return nil
}

// demo is one run of the demo.
type demo struct {
	plan  demoPlan
	dir   string
	seed  uint64
	out   io.Writer
	quick bool
	t     *stageTimer

	// stdEpochs and advStart are the epochs and batches of the standard
	// training: where adversarial training starts in the recorder.
	stdEpochs, advStart int

	summary demoSummary
}

func (d *demo) path(name string) string { return filepath.Join(d.dir, name) }
func (d *demo) ckpt() string            { return d.path("checkpoint.safetensors") }

func (d *demo) threat() attacks.ThreatModel {
	return attacks.ThreatModel{Norm: attacks.Linf, Eps: d.plan.Eps}
}

// fitCallbacks are the callbacks of both fits: the checkpoint and extra.
func (d *demo) fitCallbacks(extra ...learner.Callback) learner.Option {
	return learner.Callbacks(append([]learner.Callback{&learner.Checkpoint{Path: d.ckpt()}}, extra...)...)
}

// run runs the demo's seven stages, each timed, then writes the files.
func (d *demo) run(ctx context.Context) error {
	d.t = newStageTimer(d.out)
	d.summary = demoSummary{Command: "fastgo demo", Quick: d.quick, Seed: d.seed, GOMAXPROCS: runtime.GOMAXPROCS(0), Plan: d.plan}
	mode := ""
	if d.quick {
		mode = " (-quick: a much smaller run)"
	}
	fmt.Fprintf(d.out, "fastgo demo%s: writing to %s\n", mode, d.dir)
	dls, err := d.loadData()
	if err != nil {
		return err
	}
	l, err := d.trainStandard(ctx, dls)
	if err != nil {
		return err
	}
	adv := adversarial.NewLearner(l)
	ex, err := d.targetedStage(ctx, adv, dls)
	if err != nil {
		return err
	}
	before, err := d.evaluateStage(ctx, adv, fmt.Sprintf("4. Attack the validation set: FGSM, PGD-%d and Square-%d (black-box) on %d images",
		d.plan.PGDSteps, d.plan.SquareQueries, d.plan.EvalSamples), "evaluate standard model")
	if err != nil {
		return err
	}
	if err := d.adversarialTraining(ctx, adv); err != nil {
		return err
	}
	after, err := d.evaluateStage(ctx, adv, "6. Attack the adversarially trained model the same way", "evaluate adversarial model")
	if err != nil {
		return err
	}
	return d.finish(l, ex, before, after)
}

// loadData is stage 1: the embedded Fashion-MNIST.
func (d *demo) loadData() (*vision.DataLoaders, error) {
	d.t.begin("1. Data: the Fashion-MNIST images embedded in fastgo")
	dls, err := vision.EmbeddedFashionMNIST(vision.BatchSize(128), vision.Seed(d.seed))
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(d.out, "%d training and %d validation images, 1x28x28, %d classes: %s\n",
		dls.Train.Dataset().Len(), dls.Valid.Dataset().Len(), dls.C(), strings.Join(dls.Vocab, ", "))
	d.t.done("data")
	return dls, nil
}

// trainStandard is stage 2: a SmallCNN trained with the one-cycle policy,
// exported.
func (d *demo) trainStandard(ctx context.Context, dls *vision.DataLoaders) (*learner.Learner, error) {
	p := d.plan
	d.t.begin(fmt.Sprintf("2. Train a SmallCNN: fit_one_cycle(%d, lr_max=%g)", p.Epochs, p.LR))
	l, err := vision.CNNLearner(dls, models.SmallCNN, learner.Metrics(learner.Accuracy()), learner.ProgressTo(d.out), vision.InitSeed(d.seed))
	if err != nil {
		return nil, err
	}
	if p.TrainBatches > 0 || p.ValidBatches > 0 {
		l.Data = data.TakeData(dls, p.TrainBatches, p.ValidBatches)
	}
	if err := l.FitOneCycle(ctx, p.Epochs, learner.LR(p.LR), d.fitCallbacks()); err != nil {
		return nil, err
	}
	d.summary.Training = recorderTable(l.Recorder, 0)
	d.stdEpochs, d.advStart = len(l.Recorder.Values), len(l.Recorder.Losses)
	if err := l.Export(d.path("learner-standard.safetensors")); err != nil {
		return nil, err
	}
	d.t.done("train")
	return l, nil
}

// targetedStage is stage 3: one targeted white-box example.
func (d *demo) targetedStage(ctx context.Context, adv *adversarial.AdversarialLearner, dls *vision.DataLoaders) ([]robustness.Example, error) {
	d.t.begin(fmt.Sprintf("3. A targeted white-box attack on one image (PGD-%d, Linf eps %g)", d.plan.TargetSteps, d.plan.Eps))
	ex, err := d.targeted(ctx, adv, dls)
	if err != nil {
		return nil, err
	}
	d.t.done("targeted attack")
	return ex, nil
}

// evaluateStage is stages 4 and 6: the robustness table of the model as
// it is.
func (d *demo) evaluateStage(ctx context.Context, adv *adversarial.AdversarialLearner, title, stage string) (*robustness.Report, error) {
	d.t.begin(title)
	r, err := d.evaluate(ctx, adv)
	if err != nil {
		return nil, err
	}
	fmt.Fprint(d.out, r.Table())
	d.t.done(stage)
	return r, nil
}

// adversarialTraining is stage 5: PGD adversarial training of the same
// model, exported.
func (d *demo) adversarialTraining(ctx context.Context, adv *adversarial.AdversarialLearner) error {
	p := d.plan
	d.t.begin(fmt.Sprintf("5. Adversarial training: PGD-AT (PGD-%d, Linf eps %g), fit_one_cycle(%d, lr_max=%g)", p.AdvSteps, p.Eps, p.AdvEpochs, p.AdvLR))
	trainer := adversarial.NewTrainer(adversarial.Attack(attacks.PGD{Steps: p.AdvSteps, RandomStart: true, LastIterate: true}),
		adversarial.Threat(d.threat()), adversarial.Seed(d.seed))
	if err := adv.FitOneCycle(ctx, p.AdvEpochs, learner.LR(p.AdvLR), d.fitCallbacks(trainer)); err != nil {
		return err
	}
	l := adv.Learner
	d.summary.AdvTraining = recorderTable(l.Recorder, d.stdEpochs)
	if err := l.Export(d.path("learner-adversarial.safetensors")); err != nil {
		return err
	}
	d.t.done("adversarial training")
	return nil
}

// finish is stage 7: the before/after table, the files and where they are.
func (d *demo) finish(l *learner.Learner, ex []robustness.Example, before, after *robustness.Report) error {
	d.t.begin("7. Before and after")
	fmt.Fprint(d.out, beforeAfterTable(before, after))
	d.summary.Standard, d.summary.Adversarial = before, after
	if err := d.write(l, ex, before, after); err != nil {
		return err
	}
	os.Remove(d.ckpt())
	d.t.done("report")
	d.summary.Stages = d.t.stages
	d.summary.TotalSeconds = d.t.total().Seconds()
	// report.json again, with the last stage's time.
	if err := d.writeJSON(); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "\nstage times: %s; total %.1fs\n", stageList(d.t.stages), d.t.total().Seconds())
	fmt.Fprintf(d.out, "wrote %s:\n", d.dir)
	for _, f := range d.summary.Files {
		fmt.Fprintf(d.out, "  %s\n", filepath.Join(d.dir, f))
	}
	fmt.Fprintf(d.out, "next: fastgo attack -model %s -image embedded:0 -target Bag\n", d.path("learner-standard.safetensors"))
	return nil
}

// targeted attacks the first validation images toward their runner-up
// class, as one batch, and shows the first that the model classified
// correctly and the attack moved to its target (or, if none, the first
// correct one), printing both predictions.
func (d *demo) targeted(ctx context.Context, adv *adversarial.AdversarialLearner, dls *vision.DataLoaders) ([]robustness.Example, error) {
	ds := dls.Valid.Dataset()
	n := min(32, ds.Len())
	xs := make([]*tensor.Tensor, n)
	ys := make([]int, n)
	for i := range n {
		x, err := ds.Image(i)
		if err != nil {
			return nil, err
		}
		xs[i], ys[i] = x.Reshape(append([]int{1}, x.Shape()...)...), ds.Label(i)
	}
	xb := tensor.Concat(0, xs...)
	atk := attacks.PGD{Steps: d.plan.TargetSteps, RandomStart: true, Seed: d.seed}
	res, err := adv.AttackBatch(ctx, xb, attacks.TrueLabels(ys...), attacks.TargetRunnerUp(),
		attacks.Using(atk), attacks.Within(d.threat()))
	if err != nil {
		return nil, err
	}
	pick := -1
	for i := range n {
		clean, err := adv.Predict(xs[i])
		if err != nil {
			return nil, err
		}
		if clean.Index != ys[i] {
			continue
		}
		if pick < 0 {
			pick = i
		}
		if res.Success[i] {
			pick = i
			break
		}
	}
	if pick < 0 {
		return nil, fmt.Errorf("the model classifies none of the first %d validation images correctly", n)
	}
	i := pick
	x := xs[i].Reshape(xs[i].Shape()[1:]...)
	clean, err := adv.Predict(x)
	if err != nil {
		return nil, err
	}
	target := res.Criterion.Classes()[i]
	advX := res.Adv.Narrow0(i, 1).Reshape(x.Shape()...)
	ap, err := adv.Predict(advX)
	if err != nil {
		return nil, err
	}
	one := res.Adv.Narrow0(i, 1)
	t := demoTargeted{
		Index: i, Label: dls.Vocab[ys[i]], Clean: clean.Class, CleanProb: float64(clean.Probs[clean.Index]),
		Target: dls.Vocab[target], Adversarial: ap.Class, TargetProb: float64(ap.Probs[target]), Success: res.Success[i],
		Linf:   attacks.ThreatModel{Norm: attacks.Linf}.Norms(xs[i], one)[0],
		L2:     attacks.ThreatModel{Norm: attacks.L2}.Norms(xs[i], one)[0],
		Attack: res.Attack,
	}
	d.summary.Targeted = t
	fmt.Fprintf(d.out, "validation image %d, a %s: predicted %s (p=%.3f)\n", i, t.Label, t.Clean, t.CleanProb)
	fmt.Fprintf(d.out, "target %s (its runner-up class): after %s the model says %s (p(%s)=%.3f); Linf %.3f, L2 %.3f: %s\n",
		t.Target, t.Attack, t.Adversarial, t.Target, t.TargetProb, t.Linf, t.L2, map[bool]string{true: "target reached", false: "target not reached"}[t.Success])
	ex := robustness.Example{Index: i, Label: ys[i], CleanPred: clean.Index, AdvPred: ap.Index, Attack: res.Attack + " to " + t.Target, Eps: res.Eps, Clean: x, Adv: advX}
	return []robustness.Example{ex}, nil
}

// evaluate runs the demo's robustness suite on the learner's first
// EvalSamples validation images.
func (d *demo) evaluate(ctx context.Context, adv *adversarial.AdversarialLearner) (*robustness.Report, error) {
	p := d.plan
	s := robustness.NewSuite(attacks.ThreatModel{Norm: attacks.Linf}, p.EpsList...).With(
		robustness.WhiteBox(attacks.FGSM{}),
		robustness.WhiteBox(attacks.PGD{Steps: p.PGDSteps, RandomStart: true, Seed: d.seed}),
		robustness.BlackBox(attacks.Square{Queries: p.SquareQueries, Seed: d.seed}, attacks.ScoreAccess, p.SquareQueries).AtEps(p.Eps),
	).WithChecks(attacks.UnboundedPGD{Steps: p.UnboundedSteps})
	s.Examples = p.Examples
	return adv.EvaluateRobustness(ctx, adversarial.WithSuite(s), adversarial.Samples(p.EvalSamples))
}
