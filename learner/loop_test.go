package learner

import (
	"context"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
)

// weights returns a copy of every float tensor of m's state dict.
func weights(m layers.Module) map[string][]float32 {
	out := map[string][]float32{}
	for n, t := range layers.GetStateDict(m).Tensors {
		out[n] = append([]float32(nil), t.Data()...)
	}
	return out
}

// at returns a callback that calls f at event e in training.
func at(e Event, f func(l *Learner) error) Callback {
	return CallbackFunc(func(l *Learner, ev Event) error {
		if ev == e {
			return f(l)
		}
		return nil
	})
}

func TestCancellationEffects(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"step", cancelStepEffects},
		{"backward", cancelBackwardEffects},
		{"train", cancelTrainEffects},
		{"validate", cancelValidateEffects},
		{"epoch", cancelEpochEffects},
		{"fit", cancelFitEffects},
		{"outside its stage", cancelOutsideStageEffects},
	} {
		t.Run(tc.name, tc.run)
	}
}

// cancelStepEffects is the "step" case of TestCancellationEffects.
func cancelStepEffects(t *testing.T) {
	ctx := context.Background()
	// Every step cancelled: the weights do not move and no gradient is
	// left pending for the next batch.
	m := newMLP(1)
	l := New(blobData(32, 8, 8), m)
	before := weights(m)
	sawGrad := false
	check := at(BeforeBatch, func(l *Learner) error {
		for _, p := range layers.Parameters(l.Model) {
			if p.Grad() != nil {
				return errors.New("a gradient was left from the previous batch")
			}
		}
		return nil
	})
	cancel := at(BeforeStep, func(l *Learner) error {
		sawGrad = sawGrad || m.fc1.Weight.Grad() != nil
		return CancelStep
	})
	if err := l.Fit(ctx, 1, Callbacks(check, cancel)); err != nil {
		t.Fatal(err)
	}
	if !sawGrad {
		t.Fatal("the backward pass did not run before the cancelled step")
	}
	after := weights(m)
	for n, w := range before {
		if n == "bn.running_mean" || n == "bn.running_var" {
			continue // the forward still updates BatchNorm statistics
		}
		if !reflect.DeepEqual(w, after[n]) {
			t.Fatalf("%s changed although every step was cancelled", n)
		}
	}
}

// cancelBackwardEffects is the "backward" case of TestCancellationEffects.
func cancelBackwardEffects(t *testing.T) {
	ctx := context.Background()
	// Every backward cancelled: no gradient, so the step (which still
	// runs, as in fastai) changes nothing.
	m := newMLP(1)
	l := New(blobData(32, 8, 8), m)
	before := weights(m)
	steps := 0
	cbs := Callbacks(at(BeforeBackward, func(*Learner) error { return CancelBackward }),
		at(AfterStep, func(*Learner) error { steps++; return nil }))
	if err := l.Fit(ctx, 1, cbs); err != nil {
		t.Fatal(err)
	}
	if steps != 4 {
		t.Fatalf("%d steps ran, want 4 (a cancelled backward still steps)", steps)
	}
	if after := weights(m); !reflect.DeepEqual(before["fc1.weight"], after["fc1.weight"]) {
		t.Fatal("weights changed without gradients")
	}
}

// cancelTrainEffects is the "train" case of TestCancellationEffects.
func cancelTrainEffects(t *testing.T) {
	ctx := context.Background()
	l := New(blobData(32, 8, 8), newMLP(1), Metrics(Accuracy()))
	n := 0
	cbs := Callbacks(at(AfterBatch, func(l *Learner) error {
		if l.Training {
			n++
			if l.Iter == 1 {
				return CancelTrain
			}
		}
		return nil
	}))
	if err := l.Fit(ctx, 1, cbs); err != nil {
		t.Fatal(err)
	}
	// A cut phase keeps the figures of the batches it recorded (the
	// cancel comes from a callback ordered before the Recorder, so the
	// Recorder saw one of the two batches), and the epoch's note says
	// how far it went.
	row := l.Recorder.Values[0]
	if n != 2 || len(l.Recorder.Losses) != 1 || row[0] != l.Recorder.Losses[0] || math.IsNaN(row[1]) || math.IsNaN(row[2]) {
		t.Fatalf("%d training batches, row %v, losses %v: want 2, the recorded smoothed loss, validation done", n, row, l.Recorder.Losses)
	}
	if note := l.Recorder.EpochNotes[0]; note != "train cut after 1 of 4 batches" {
		t.Fatalf("note %q", note)
	}
}

// cancelValidateEffects is the "validate" case of TestCancellationEffects.
func cancelValidateEffects(t *testing.T) {
	ctx := context.Background()
	l := New(blobData(32, 8, 8), newMLP(1), Metrics(Accuracy()))
	cbs := Callbacks(at(AfterBatch, func(l *Learner) error {
		if !l.Training {
			return CancelValidate
		}
		return nil
	}))
	if err := l.Fit(ctx, 1, cbs); err != nil {
		t.Fatal(err)
	}
	// Cancelled by a callback ordered before the Recorder, the first
	// validation batch was never recorded: #na#, and the note says why.
	row := l.Recorder.Values[0]
	if math.IsNaN(row[0]) || !math.IsNaN(row[1]) || !math.IsNaN(row[2]) {
		t.Fatalf("row %v: want train_loss, then #na# for a validation cancelled before any batch was recorded", row)
	}
	if note := l.Recorder.EpochNotes[0]; note != "validation cancelled before any batch was recorded" {
		t.Fatalf("note %q", note)
	}
}

// cancelEpochEffects is the "epoch" case of TestCancellationEffects.
func cancelEpochEffects(t *testing.T) {
	ctx := context.Background()
	l := New(blobData(32, 8, 8), newMLP(1))
	var trained []int
	cbs := Callbacks(at(BeforeEpoch, func(l *Learner) error {
		if l.Epoch == 0 {
			return CancelEpoch
		}
		return nil
	}), at(AfterTrain, func(l *Learner) error { trained = append(trained, l.Epoch); return nil }))
	if err := l.Fit(ctx, 3, cbs); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(trained, []int{1, 2}) || len(l.Recorder.Values) != 3 {
		t.Fatalf("trained epochs %v, %d rows; want [1 2] and 3 rows", trained, len(l.Recorder.Values))
	}
}

// cancelFitEffects is the "fit" case of TestCancellationEffects.
func cancelFitEffects(t *testing.T) {
	ctx := context.Background()
	l := New(blobData(32, 8, 8), newMLP(1))
	epochs, fitEnded := 0, false
	cbs := Callbacks(at(AfterEpoch, func(l *Learner) error {
		epochs++
		if l.Epoch == 1 {
			return CancelFit
		}
		return nil
	}), at(AfterFit, func(*Learner) error { fitEnded = true; return nil }))
	if err := l.Fit(ctx, 5, cbs); err != nil {
		t.Fatalf("CancelFit is a normal end, got %v", err)
	}
	if epochs != 2 || !fitEnded {
		t.Fatalf("%d epochs, AfterFit %v; want 2 and true", epochs, fitEnded)
	}
}

// cancelOutsideStageEffects is the "outside its stage" case of TestCancellationEffects.
func cancelOutsideStageEffects(t *testing.T) {
	ctx := context.Background()
	l := New(blobData(32, 8, 8), newMLP(1))
	err := l.Fit(ctx, 1, Callbacks(at(BeforeFit, func(*Learner) error { return CancelBatch })))
	var fe *FitError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "batch cancelled raised outside its stage") {
		t.Fatalf("CancelBatch in BeforeFit: %v", err)
	}
}

// panicky panics in its forward pass on its n-th call.
type panicky struct {
	*mlp
	calls, at int
}

func (p *panicky) Forward(x *autograd.Value) *autograd.Value {
	p.calls++
	if p.calls == p.at {
		panic("panicky.Forward: shape [3] does not fit")
	}
	return p.mlp.Forward(x)
}

func TestModelPanicBecomesError(t *testing.T) {
	m := &panicky{mlp: newMLP(1), at: 2}
	l := New(blobData(32, 8, 8), m)
	err := l.Fit(context.Background(), 1)
	var fe *FitError
	if !errors.As(err, &fe) || fe.Batch != 1 || fe.Phase != "train" || fe.Callback != "" ||
		!strings.Contains(err.Error(), "does not fit") || len(fe.Stack) == 0 {
		t.Fatalf("a panicking model: %v (%+v)", err, fe)
	}
	if !m.Core().Training() {
		t.Fatal("the model was left in eval mode")
	}
	for _, p := range layers.Parameters(m) {
		if p.Grad() != nil {
			t.Fatal("a gradient was left pending")
		}
	}
	if err := l.Fit(context.Background(), 1); err != nil {
		t.Fatalf("the model is not usable after the failure: %v", err)
	}
}

func TestPhasesModeAndGrad(t *testing.T) {
	l := New(blobData(32, 8, 8), newMLP(1))
	seen := map[string]bool{}
	cb := at(AfterPred, func(l *Learner) error {
		key := map[bool]string{true: "train", false: "valid"}[l.Training]
		if l.Model.Core().Training() != l.Training {
			return errors.New(key + ": model mode differs from the phase")
		}
		if autograd.GradEnabled() != l.Training {
			return errors.New(key + ": gradient recording differs from the phase")
		}
		seen[key] = true
		return nil
	})
	if err := l.Fit(context.Background(), 1, Callbacks(cb)); err != nil {
		t.Fatal(err)
	}
	if !seen["train"] || !seen["valid"] {
		t.Fatalf("phases seen: %v", seen)
	}
}

func TestCallbacksReplaceBatchPredAndLoss(t *testing.T) {
	ctx := context.Background()
	t.Run("batch", func(t *testing.T) {
		// Replace every training batch by one fixed item of class 2: the
		// model learns to predict 2 everywhere.
		l := New(blobData(64, 30, 8), newMLP(1), Metrics(Accuracy()))
		x := tensor.FromSlice([]float32{2, 0}, 1, 2)
		xx := tensor.FromSlice([]float32{2, 0, 2, 0}, 2, 2)
		cb := at(BeforeBatch, func(l *Learner) error {
			if l.Training {
				l.XB, l.YB = autograd.Const(xx), []int{2, 2}
			}
			return nil
		})
		if err := l.FitOneCycle(ctx, 3, LR(0.05), Callbacks(cb)); err != nil {
			t.Fatal(err)
		}
		p, err := l.Predict(x)
		if err != nil || p.Index != 2 {
			t.Fatalf("Predict = %+v, %v: the replaced batches were not the ones trained on", p, err)
		}
	})
	t.Run("pred and loss", func(t *testing.T) {
		m := newMLP(1)
		l := New(blobData(32, 8, 8), m, WD(0))
		before := weights(m)
		var preds []*autograd.Value
		cbs := Callbacks(
			at(AfterPred, func(l *Learner) error {
				l.Pred = autograd.MulScalar(l.Pred, 2)
				preds = append(preds, l.Pred)
				return nil
			}),
			at(AfterLoss, func(l *Learner) error {
				if l.Training {
					// A loss of 7 with no gradient: nothing may train.
					l.LossV = autograd.AddScalar(autograd.MulScalar(l.LossV, 0), 7)
				}
				return nil
			}))
		if err := l.Fit(ctx, 1, cbs); err != nil {
			t.Fatal(err)
		}
		for _, v := range l.Recorder.RawLosses {
			if v != 7 {
				t.Fatalf("recorded losses %v, want the replaced 7", l.Recorder.RawLosses)
			}
		}
		after := weights(m)
		if !reflect.DeepEqual(before["fc1.weight"], after["fc1.weight"]) || !reflect.DeepEqual(before["fc2.weight"], after["fc2.weight"]) {
			t.Fatal("a zero-gradient replacement loss still trained the model")
		}
		if len(preds) != 5 {
			t.Fatalf("%d predictions replaced, want 4 training and 1 validation batch", len(preds))
		}
	})
}

func TestFitSetsLRAndWD(t *testing.T) {
	ctx := context.Background()
	l := New(blobData(32, 8, 8), newMLP(1), WithSplitter(mlpSplitter), WD(0))
	if err := l.FitOneCycle(ctx, 1, LR(0.01)); err != nil {
		t.Fatal(err)
	}
	// The cycle leaves the lr on its way down; Fit starts again at LR, as
	// fastai's fit does.
	if got := l.Hyper("lr"); got[1] == 1e-3 {
		t.Fatalf("lr after one-cycle %v", got)
	}
	var lrs []float64
	rec := at(BeforeBatch, func(l *Learner) error { lrs = l.Hyper("lr"); return nil })
	if err := l.Fit(ctx, 1, Callbacks(rec)); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(lrs, []float64{1e-3, 1e-3}) {
		t.Fatalf("Fit trained at %v, want the learner's LR", lrs)
	}
	if err := l.Fit(ctx, 1, Callbacks(rec), LR(Slice(1e-4, 1e-2)), WD(0.1)); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(lrs, []float64{1e-4, 1e-2}) {
		t.Fatalf("Fit with FitLR trained at %v", lrs)
	}
	// FitWD reaches the decaying groups even though WD was 0, and spares
	// biases and the BatchNorm.
	for j, g := range l.Opt.ParamGroups() {
		want := 0.0
		if l.optDecay[j] {
			want = 0.1
		}
		if got := g.Get("wd"); got != want {
			t.Errorf("optimizer group %d (decay %v): wd %g, want %g", j, l.optDecay[j], got, want)
		}
	}
	if len(l.Opt.ParamGroups()) != 4 {
		t.Fatalf("%d optimizer groups, want 2 layer groups x (decay, no decay)", len(l.Opt.ParamGroups()))
	}
}

func TestOneCycleAtChosenPoints(t *testing.T) {
	// fastai's combined_cos(0.25, 0.01/25, 0.01, 0.01/1e5) and
	// combined_cos(0.25, 0.95, 0.85, 0.95), evaluated by hand:
	// sched_cos(a, b, p) = a + (1 + cos(pi*(1-p)))*(b-a)/2.
	lr := CombinedCos(0.25, 0.01/25, 0.01, 0.01/1e5)
	mom := CombinedCos(0.25, 0.95, 0.85, 0.95)
	for _, tc := range []struct{ pos, lr, mom float64 }{
		{0, 0.0004, 0.95},
		{0.125, 0.0052, 0.90},     // half-way up: (0.0004+0.01)/2
		{0.25, 0.01, 0.85},        // the peak
		{0.625, 0.00500005, 0.90}, // half-way down: (0.01+1e-7)/2
		{1, 1e-7, 0.95},           // the end: 0.01/1e5
		{0.0625, 0.001805887450304, 0.935355339059327},
	} {
		if got := lr(tc.pos); math.Abs(got-tc.lr) > 1e-12 {
			t.Errorf("one-cycle lr at %g = %.15g, want %.15g", tc.pos, got, tc.lr)
		}
		if got := mom(tc.pos); math.Abs(got-tc.mom) > 1e-12 {
			t.Errorf("one-cycle mom at %g = %.15g, want %.15g", tc.pos, got, tc.mom)
		}
	}
	// The same values through a fit: 2 epochs of 8 batches, batch i at
	// pct_train i/16.
	l := New(blobData(64, 8, 8), newMLP(1))
	if err := l.FitOneCycle(context.Background(), 2, LR(0.01)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		batch   int
		lr, mom float64
	}{{0, 0.0004, 0.95}, {2, 0.0052, 0.90}, {4, 0.01, 0.85}, {10, 0.00500005, 0.90}} {
		if got := l.Recorder.LRs[tc.batch]; math.Abs(got-tc.lr) > 1e-12 {
			t.Errorf("batch %d lr %.15g, want %.15g", tc.batch, got, tc.lr)
		}
		if got := l.Recorder.Moms[tc.batch]; math.Abs(got-tc.mom) > 1e-12 {
			t.Errorf("batch %d mom %.15g, want %.15g", tc.batch, got, tc.mom)
		}
	}
	// Flat-cos: flat at 0.02 until 0.75, then half a cosine to 0.02/1e5.
	fc := New(blobData(64, 8, 8), newMLP(1))
	if err := fc.FitFlatCos(context.Background(), 2, LR(0.02)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		batch int
		lr    float64
	}{{0, 0.02}, {8, 0.02}, {12, 0.02}, {14, 0.0100001}} {
		if got := fc.Recorder.LRs[tc.batch]; math.Abs(got-tc.lr) > 1e-12 {
			t.Errorf("flat-cos batch %d lr %.15g, want %.15g", tc.batch, got, tc.lr)
		}
	}
	if _, ok := fc.hyperIfAny("mom"); !ok || len(fc.Recorder.Moms) != 16 {
		t.Fatal("flat-cos recorded no momentum")
	}
	// SGDR, 2 cycles of 1 epoch with cycle_mult 2: epochs 1 + 2, each cycle
	// annealing 0.1 -> 0.
	sg := New(blobData(64, 8, 8), newMLP(1))
	if err := sg.FitSGDR(context.Background(), 2, 1, LR(0.1)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		batch int
		lr    float64
	}{{0, 0.1}, {4, 0.05}, {8, 0.1}, {16, 0.05}} {
		if got := sg.Recorder.LRs[tc.batch]; math.Abs(got-tc.lr) > 1e-12 {
			t.Errorf("SGDR batch %d lr %.15g, want %.15g", tc.batch, got, tc.lr)
		}
	}
}

func TestFreezeClearsOptimizerState(t *testing.T) {
	l := New(blobData(32, 8, 8), newMLP(1), WithSplitter(mlpSplitter))
	if err := l.Fit(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	l.SetHyper("lr", 0.123, 0.456)
	hasState := func() bool {
		for _, g := range l.Opt.StateDict().Groups {
			for _, p := range g.Params {
				if p.Step != 0 || len(p.Buffers) != 0 {
					return true
				}
			}
		}
		return false
	}
	if !hasState() {
		t.Fatal("no optimizer state after a fit")
	}
	l.Freeze()
	if hasState() {
		t.Fatal("Freeze kept Adam's moments (fastai clears them)")
	}
	if got := l.Hyper("lr"); !reflect.DeepEqual(got, []float64{0.123, 0.456}) {
		t.Fatalf("Freeze lost the hyper-parameters: lr %v", got)
	}
	if l.FrozenTo() != 1 {
		t.Fatalf("FrozenTo %d after Freeze of 2 groups", l.FrozenTo())
	}
}

func TestRecorderSmoothing(t *testing.T) {
	l := New(blobData(32, 8, 8), newMLP(1))
	i := 0
	vals := []float64{1, 2, 4, 3, 5, 1, 2, 6}
	fixed := at(AfterLoss, func(l *Learner) error {
		if l.Training {
			l.LossV = autograd.AddScalar(autograd.MulScalar(l.LossV, 0), float32(vals[i]))
			i++
		}
		return nil
	})
	if err := l.Fit(context.Background(), 2, Callbacks(fixed)); err != nil {
		t.Fatal(err)
	}
	// fastai's AvgSmoothLoss: val = lerp(loss, val, 0.98), value =
	// val/(1-0.98^count); the second value is (0.98*0.02*1 + 0.02*2)/(1-0.98^2).
	if got := l.Recorder.Losses[1]; math.Abs(got-0.0596/0.0396) > 1e-12 || l.Recorder.Losses[0] != 1 {
		t.Fatalf("smoothed losses %v", l.Recorder.Losses[:2])
	}
	avg := 0.0
	for k, v := range vals {
		avg = 0.98*avg + 0.02*v
		if want := avg / (1 - math.Pow(0.98, float64(k+1))); math.Abs(l.Recorder.Losses[k]-want) > 1e-12 {
			t.Fatalf("smoothed loss %d = %v, want %v", k, l.Recorder.Losses[k], want)
		}
	}
	// train_loss is the smoothed loss at the end of each epoch's training.
	if got := l.Recorder.Column("train_loss"); got[0] != l.Recorder.Losses[3] || got[1] != l.Recorder.Losses[7] {
		t.Fatalf("train_loss column %v, smoothed %v", got, l.Recorder.Losses)
	}
	if !reflect.DeepEqual(l.Recorder.EpochIters, []int{4, 8}) || !reflect.DeepEqual(l.Recorder.Iters, []int{8}) {
		t.Fatalf("EpochIters %v Iters %v", l.Recorder.EpochIters, l.Recorder.Iters)
	}
	if names := strings.Join(l.Recorder.MetricNames, " "); names != "epoch train_loss valid_loss time" {
		t.Fatalf("metric names %q", names)
	}
}

func TestGroupRatesReachTheirParameters(t *testing.T) {
	// Each layer group trains at its own rate: with rates 0 for the body
	// and 1e-2 for the head, the body does not move (decoupled weight decay
	// scales with the rate too) and the head does.
	m := newMLP(1)
	l := New(blobData(32, 8, 8), m, WithSplitter(mlpSplitter))
	before := weights(m)
	if err := l.Fit(context.Background(), 1, LR(PerGroup{0, 1e-2})); err != nil {
		t.Fatal(err)
	}
	after := weights(m)
	for _, n := range []string{"fc1.weight", "fc1.bias", "bn.weight", "bn.bias"} {
		if !reflect.DeepEqual(before[n], after[n]) {
			t.Errorf("%s moved at rate 0", n)
		}
	}
	for _, n := range []string{"fc2.weight", "fc2.bias"} {
		if reflect.DeepEqual(before[n], after[n]) {
			t.Errorf("%s did not move at rate 1e-2", n)
		}
	}
}

// TestFitRefusesDataThatCannotTrain: a training set smaller than one batch
// (the partial batch dropped) or a single class is an error before any
// epoch runs, not a silent fit reporting an untrained model's figures.
func TestFitRefusesDataThatCannotTrain(t *testing.T) {
	small := blobData(5, 8, 8) // 5 training items, batches of 8, shuffled: no batch
	l := New(small, newMLP(1), Metrics(Accuracy()))
	if err := l.FitOneCycle(context.Background(), 1); !errors.Is(err, ErrNoTrainingBatch) || !strings.Contains(err.Error(), "lower the batch size") {
		t.Fatalf("a training set smaller than one batch: %v", err)
	}
	if len(l.Recorder.Values) != 0 {
		t.Fatalf("an epoch was recorded: %v", l.Recorder.Values)
	}
	one := blobData(32, 8, 8)
	one.Vocab = []string{"only"}
	if err := New(one, newMLP(1)).Fit(context.Background(), 1); !errors.Is(err, ErrOneClass) || !strings.Contains(err.Error(), `"only"`) {
		t.Fatalf("one class: %v", err)
	}
}
