package adversarial

import (
	"context"
	"math"
	"reflect"
	"slices"
	"testing"

	"github.com/fastgo-ml/fastgo/adversarial/attacks"
	"github.com/fastgo-ml/fastgo/adversarial/internal/testmodels"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/tensor"
)

// spy is a callback at a given order that calls f on every event.
type spy struct {
	order int
	f     func(l *learner.Learner, e learner.Event) error
}

func (s spy) Order() int                                       { return s.order }
func (s spy) Handle(l *learner.Learner, e learner.Event) error { return s.f(l, e) }

// robustAcc returns the PGD-10 robust accuracy of m on (x, y) within tm.
func robustAcc(t *testing.T, m layers.Module, x *tensor.Tensor, y []int, tm attacks.ThreatModel) float64 {
	t.Helper()
	r, err := attacks.Run(context.Background(), attacks.PGD{Steps: 10, RandomStart: true, Seed: 99}, m, x, attacks.Untargeted(y), tm)
	if err != nil {
		t.Fatal(err)
	}
	return r.Accuracy(y)
}

// TestTrainerBatches checks what AdversarialTrainer does to a batch: the
// inputs replaced by points of the ball and the box (a CleanFraction of
// the rows untouched), validation batches untouched, BatchNorm statistics
// unmoved by the attack, the model in training mode again for the forward
// pass, and a fresh, repeatable attack seed for every batch.
func TestTrainerBatches(t *testing.T) {
	tm := attacks.ThreatModel{Norm: attacks.Linf, Eps: 0.1}
	for _, clean := range []float64{0, 0.25, 1} {
		l := testmodels.SynthLearner(1)
		m := l.Model.(*testmodels.ConvNet)
		tr := NewTrainer(Threat(tm), CleanFraction(clean))
		var orig *tensor.Tensor
		var bnMean []float32
		batches, validSeen := 0, 0
		before := spy{TrainerOrder - 1, func(l *learner.Learner, e learner.Event) error {
			if e == learner.BeforeBatch {
				orig = l.XB.Data().Clone()
				bnMean = slices.Clone(m.BN.RunningMean.Data())
			}
			return nil
		}}
		after := spy{TrainerOrder + 1, func(l *learner.Learner, e learner.Event) error {
			if e != learner.BeforeBatch {
				return nil
			}
			x := l.XB.Data()
			if !l.Training {
				validSeen++
				if !slices.Equal(x.Data(), orig.Data()) {
					t.Error("a validation batch was changed")
				}
				return nil
			}
			batches++
			if !slices.Equal(bnMean, m.BN.RunningMean.Data()) {
				t.Error("the attack moved BatchNorm's running mean")
			}
			if !m.Training() || !m.BN.Training() {
				t.Error("the model is not back in training mode after the attack")
			}
			for i, nrm := range tm.Norms(orig, x) {
				if nrm > tm.Eps+1e-6 {
					t.Errorf("row %d moved %v > eps", i, nrm)
				}
			}
			for _, v := range x.Data() {
				if v < 0 || v > 1 {
					t.Fatalf("value %v outside the box", v)
				}
			}
			changed := 0
			for _, nrm := range tm.Norms(orig, x) {
				if nrm > 0 {
					changed++
				}
			}
			if want := len(l.YB) - int(math.Round(clean*float64(len(l.YB)))); changed != want {
				t.Errorf("CleanFraction %v: %d of %d rows adversarial, want %d", clean, changed, len(l.YB), want)
			}
			return nil
		}}
		if err := l.Fit(context.Background(), 1, learner.Callbacks(tr, before, after)); err != nil {
			t.Fatal(err)
		}
		if batches != l.Data.TrainLoader().Len() || validSeen == 0 {
			t.Errorf("saw %d training batches (want %d) and %d validation batches", batches, l.Data.TrainLoader().Len(), validSeen)
		}
		if len(tr.AdvAccuracy) != 1 || (clean < 1 && math.IsNaN(tr.AdvAccuracy[0])) {
			t.Errorf("AdvAccuracy %v", tr.AdvAccuracy)
		}
	}
}

// seedAttack records the seeds it is given and returns its input.
type seedAttack struct {
	seed  uint64
	seeds *[]uint64
}

func (a seedAttack) Name() string { return "seeds" }
func (a seedAttack) WithSeed(s uint64) attacks.Attack {
	a.seed = s
	return a
}
func (a seedAttack) Perturb(_ context.Context, _ *attacks.Model, x *tensor.Tensor, _ attacks.Criterion, _ attacks.ThreatModel) (*tensor.Tensor, error) {
	*a.seeds = append(*a.seeds, a.seed)
	return x.Clone(), nil
}

func TestTrainerSeedsPerBatch(t *testing.T) {
	run := func(seed uint64) []uint64 {
		var seeds []uint64
		tr := NewTrainer(Attack(seedAttack{seeds: &seeds}), Seed(seed))
		if err := testmodels.SynthLearner(1).Fit(context.Background(), 2, learner.Callbacks(tr)); err != nil {
			t.Fatal(err)
		}
		return seeds
	}
	a, b, c := run(1), run(1), run(2)
	if len(a) != 2*15 {
		t.Fatalf("%d attacks for 2 epochs of 15 batches", len(a))
	}
	seen := map[uint64]bool{}
	for _, s := range a {
		if seen[s] {
			t.Fatalf("seed %d used twice", s)
		}
		seen[s] = true
	}
	if !slices.Equal(a, b) || slices.Equal(a, c) {
		t.Error("per-batch seeds are not a function of the trainer's seed")
	}
}

// TestAdversarialTrainingRobust: on the synthetic task, PGD adversarial
// training and TRADES make the model markedly more robust to PGD than
// normal training does, at some cost in clean accuracy at most; fast AT
// (FGSM with random start) too, with its guard checking every epoch.
func TestAdversarialTrainingRobust(t *testing.T) {
	tm := attacks.ThreatModel{Norm: attacks.Linf, Eps: 0.08}
	xv, yv := testmodels.SynthData(200, 21)
	normal := testmodels.TrainedSmallNet(t)
	base := robustAcc(t, normal, xv, yv, tm)
	baseClean := testmodels.Accuracy(testmodels.Predict(normal, xv), yv)
	for _, c := range []struct {
		name string
		cb   learner.Callback
	}{
		{"PGD-AT", NewTrainer(Attack(attacks.PGD{Steps: 5, RandomStart: true, LastIterate: true}), Threat(tm))},
		{"TRADES", &TRADES{Threat: tm, Beta: 3, Steps: 5}},
		{"fast AT", NewFastAT(Threat(tm))},
		{"PGD-AT half clean", NewTrainer(Threat(tm), CleanFraction(0.5))},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := testmodels.SynthLearner(7)
			if err := l.FitOneCycle(context.Background(), 8, learner.LR(1e-2), learner.Callbacks(c.cb)); err != nil {
				t.Fatal(err)
			}
			rob := robustAcc(t, l.Model, xv, yv, tm)
			cl := testmodels.Accuracy(testmodels.Predict(l.Model, xv), yv)
			t.Logf("%s: clean %.3f robust %.3f (normal training: clean %.3f robust %.3f)", c.name, cl, rob, baseClean, base)
			if rob < base+0.15 {
				t.Errorf("%s: PGD robust accuracy %.3f, normal training %.3f", c.name, rob, base)
			}
			if cl < 0.7 {
				t.Errorf("%s: clean accuracy %.3f", c.name, cl)
			}
			switch cb := c.cb.(type) {
			case *TRADES:
				if len(cb.KL) != 8 || !(cb.KL[7] > 0) {
					t.Errorf("TRADES KL record %v", cb.KL)
				}
			case *AdversarialTrainer:
				if cb.Guard() != nil && (len(cb.Guard().Checks) != 8 || cb.Guard().Tripped()) {
					t.Errorf("guard checks %+v", cb.Guard().Checks)
				}
			}
		})
	}
}

// sabotage returns a callback that, after the given training batch, sets
// the classifier to always answer class 0: a collapse the guard must see.
func sabotage(at int) spy {
	return spy{TrainerOrder + 5, func(l *learner.Learner, e learner.Event) error {
		if e == learner.AfterBatch && l.Training && l.TrainIter == at {
			m := l.Model.(*testmodels.ConvNet)
			m.FC.Weight.Data().Fill(0)
			b := m.FC.Bias.Data().Data()
			for j := range b {
				b[j] = -1
			}
			b[0] = 1
		}
		return nil
	}}
}

// TestOverfitGuard: a collapse of the held-out PGD accuracy trips the
// guard, which restores the weights (and BatchNorm buffers) of the last
// good check and stops the fit, or lowers the learning rate and goes on.
func TestOverfitGuard(t *testing.T) {
	tm := attacks.ThreatModel{Norm: attacks.Linf, Eps: 0.08}
	t.Run("stop", func(t *testing.T) {
		l := testmodels.SynthLearner(7)
		tr := NewFastAT(Threat(tm))
		var good *layers.StateDict
		keep := spy{TrainerOrder + 1, func(l *learner.Learner, e learner.Event) error {
			if e == learner.AfterTrain && l.Epoch == 2 {
				good = takeSnapshot(l).model // what the guard saw at its good check
			}
			return nil
		}}
		epochs := 0
		count := spy{0, func(l *learner.Learner, e learner.Event) error {
			if e == learner.BeforeEpoch {
				epochs++
			}
			return nil
		}}
		err := l.FitOneCycle(context.Background(), 6, learner.LR(1e-2), learner.Callbacks(tr, keep, count, sabotage(4*15)))
		if err != nil {
			t.Fatal(err)
		}
		g := tr.Guard()
		if len(g.Checks) != 4 || !g.Tripped() || !g.Checks[3].Tripped || epochs != 4 {
			t.Fatalf("checks %+v, %d epochs run", g.Checks, epochs)
		}
		if g.Checks[2].Robust < 0.4 {
			t.Fatalf("robust accuracy %.3f at the good check: the test would not detect anything", g.Checks[2].Robust)
		}
		now := layers.GetStateDict(l.Model)
		for name, v := range good.Tensors {
			if !slices.Equal(v.Data(), now.Tensors[name].Data()) {
				t.Errorf("%s not restored to the last good check", name)
			}
		}
		xv, yv := testmodels.SynthData(200, 21)
		if rob := robustAcc(t, l.Model, xv, yv, tm); rob < g.Checks[2].Robust-0.15 {
			t.Errorf("restored model robust accuracy %.3f, good check %.3f", rob, g.Checks[2].Robust)
		}
	})
	t.Run("lower lr", func(t *testing.T) {
		l := testmodels.SynthLearner(7)
		tr := NewFastAT(Threat(tm), Guard(&OverfitGuard{Action: GuardLowerLR, Every: 5}))
		var ratios []float64
		var sched float64
		before := spy{TrainerOrder - 1, func(l *learner.Learner, e learner.Event) error {
			if e == learner.BeforeBatch && l.Training {
				sched = l.Opt.ParamGroups()[0].Get("lr")
			}
			return nil
		}}
		after := spy{TrainerOrder + 1, func(l *learner.Learner, e learner.Event) error {
			if e == learner.BeforeBatch && l.Training {
				ratios = append(ratios, l.Opt.ParamGroups()[0].Get("lr")/sched)
			}
			return nil
		}}
		if err := l.FitOneCycle(context.Background(), 3, learner.LR(1e-2), learner.Callbacks(tr, before, after, sabotage(24))); err != nil {
			t.Fatal(err)
		}
		g := tr.Guard()
		if g.Trips != 1 || len(g.Checks) != 9 {
			t.Fatalf("checks %+v", g.Checks)
		}
		for i, r := range ratios {
			want := 1.0
			if i >= 25 { // the trip is at the check after batch 25
				want = 0.5
			}
			if math.Abs(r-want) > 1e-12 {
				t.Fatalf("batch %d: lr at %v of the schedule, want %v", i, r, want)
			}
		}
	})
}

// TestTrainerOptions: with no options NewTrainer is Madry's PGD-10 within
// DefaultThreat and NewFastAT FGSM from a random start with step 1.25 eps
// and a guard; the options set each setting, Eps on whichever threat model.
func TestTrainerOptions(t *testing.T) {
	madryPGD := attacks.PGD{Steps: 10, RandomStart: true, LastIterate: true}
	l2 := attacks.ThreatModel{Norm: attacks.L2, Eps: 1}
	g := &OverfitGuard{Every: 3}
	for _, c := range []struct {
		name   string
		tr     *AdversarialTrainer
		attack attacks.Attack
		threat attacks.ThreatModel
		guard  bool
	}{
		{"NewTrainer()", NewTrainer(), nil, attacks.DefaultThreat(), false},
		{"NewTrainer(Eps)", NewTrainer(Eps(0.2)), nil, attacks.DefaultThreat().WithEps(0.2), false},
		{"NewTrainer(Eps, Threat)", NewTrainer(Eps(0.5), Threat(l2)), nil, l2.WithEps(0.5), false},
		{"NewTrainer(Attack, Guard)", NewTrainer(Attack(attacks.FGSM{}), Guard(g)), attacks.FGSM{}, attacks.DefaultThreat(), true},
		{"NewFastAT()", NewFastAT(), attacks.PGD{Steps: 1, Alpha: 1.25 * 0.1, RandomStart: true, LastIterate: true}, attacks.DefaultThreat(), true},
		{"NewFastAT(Eps)", NewFastAT(Eps(0.2)), attacks.PGD{Steps: 1, Alpha: 1.25 * 0.2, RandomStart: true, LastIterate: true}, attacks.DefaultThreat().WithEps(0.2), true},
	} {
		tr := c.tr
		if err := tr.Handle(testmodels.SynthLearner(1), learner.BeforeFit); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		want := c.attack
		if want == nil {
			want = madryPGD
		}
		if !reflect.DeepEqual(tr.attack, want) || tr.threat != c.threat || (tr.Guard() != nil) != c.guard {
			t.Errorf("%s: attack %#v within %v, guard %v", c.name, tr.attack, tr.threat, tr.Guard())
		}
	}
	if tr := NewTrainer(Guard(g), CleanFraction(0.5), Seed(7)); tr.Guard() != g || tr.cleanFraction != 0.5 || tr.seed != 7 {
		t.Errorf("Guard, CleanFraction and Seed: %v, %v, %v", tr.Guard(), tr.cleanFraction, tr.seed)
	}
	if err := NewTrainer(CleanFraction(2)).Handle(testmodels.SynthLearner(1), learner.BeforeFit); err == nil {
		t.Error("CleanFraction 2 accepted")
	}
}
