package learner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/data"
	"github.com/fastgo-ml/fastgo/internal/atomicfile"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
)

// blobs returns n points in 2-d around 3 class centres.
func blobs(n int, seed uint64) (*tensor.Tensor, []int) {
	rng := tensor.NewRNG(seed)
	centres := [][2]float64{{2, 0}, {-1, 1.7}, {-1, -1.7}}
	x := tensor.Zeros(n, 2)
	y := make([]int, n)
	for i := 0; i < n; i++ {
		c := i % 3
		y[i] = c
		x.Data()[2*i] = float32(centres[c][0] + 0.5*rng.NormFloat64())
		x.Data()[2*i+1] = float32(centres[c][1] + 0.5*rng.NormFloat64())
	}
	return x, y
}

func blobData(train, valid, bs int) *data.SliceData {
	xt, yt := blobs(train, 1)
	xv, yv := blobs(valid, 2)
	return &data.SliceData{
		Train: &data.SliceLoader{X: xt, Y: yt, BatchSize: bs, Shuffle: true, Seed: 3},
		Valid: &data.SliceLoader{X: xv, Y: yv, BatchSize: bs},
		Vocab: []string{"a", "b", "c"},
	}
}

// mlp is a two-group model: body (fc1, bn) and head (fc2).
type mlp struct {
	layers.Base
	fc1 *layers.Linear
	bn  *layers.BatchNorm
	fc2 *layers.Linear
}

func newMLP(seed uint64) *mlp {
	rng := tensor.NewRNG(seed)
	m := &mlp{}
	m.fc1 = layers.Register(&m.Base, "fc1", layers.NewLinear(2, 16, rng))
	m.bn = layers.Register(&m.Base, "bn", layers.NewBatchNorm1d(16))
	m.fc2 = layers.Register(&m.Base, "fc2", layers.NewLinear(16, 3, rng))
	return m
}

func (m *mlp) Forward(x *autograd.Value) *autograd.Value {
	return layers.Call(m.fc2, autograd.ReLU(layers.Call(m.bn, layers.Call(m.fc1, x))))
}

func mlpSplitter(mod layers.Module) [][]layers.NamedParam {
	var body, head []layers.NamedParam
	for _, np := range layers.NamedParameters(mod) {
		if strings.HasPrefix(np.Name, "fc2.") {
			head = append(head, np)
		} else {
			body = append(body, np)
		}
	}
	return [][]layers.NamedParam{body, head}
}

// trace records events, and cancels with cancel at event at (once).
type trace struct {
	events []Event
	at     Event
	cancel error
	done   bool
}

func (t *trace) Handle(l *Learner, e Event) error {
	t.events = append(t.events, e)
	if !t.done && t.cancel != nil && e == t.at {
		t.done = true
		return t.cancel
	}
	return nil
}

func names(es []Event) string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.String()
	}
	return strings.Join(s, " ")
}

func TestEventOrder(t *testing.T) {
	train := "before_batch after_pred after_loss before_backward after_backward before_step after_step after_batch"
	valid := "before_batch after_pred after_loss after_batch"
	full := "before_fit before_epoch before_train " + train + " " + train + " after_train before_validate " +
		valid + " after_validate after_epoch after_fit"
	cases := []struct {
		name   string
		at     Event
		cancel error
		want   string
	}{
		{"none", 0, nil, full},
		{"batch", BeforeBatch, CancelBatch,
			"before_fit before_epoch before_train before_batch after_cancel_batch after_batch " + train +
				" after_train before_validate " + valid + " after_validate after_epoch after_fit"},
		{"backward", BeforeBackward, CancelBackward,
			// As in fastai, a cancelled backward still runs the step.
			"before_fit before_epoch before_train before_batch after_pred after_loss before_backward after_cancel_backward after_backward before_step after_step after_batch " + train +
				" after_train before_validate " + valid + " after_validate after_epoch after_fit"},
		{"step", BeforeStep, CancelStep,
			"before_fit before_epoch before_train before_batch after_pred after_loss before_backward after_backward before_step after_cancel_step after_step after_batch " + train +
				" after_train before_validate " + valid + " after_validate after_epoch after_fit"},
		{"train", AfterPred, CancelTrain,
			"before_fit before_epoch before_train before_batch after_pred after_cancel_train after_train before_validate " + valid +
				" after_validate after_epoch after_fit"},
		{"validate", BeforeValidate, CancelValidate,
			"before_fit before_epoch before_train " + train + " " + train + " after_train before_validate after_cancel_validate after_validate after_epoch after_fit"},
		{"epoch", AfterTrain, CancelEpoch,
			"before_fit before_epoch before_train " + train + " " + train + " after_train after_cancel_epoch after_epoch after_fit"},
		{"fit", AfterLoss, CancelFit,
			"before_fit before_epoch before_train before_batch after_pred after_loss after_cancel_fit after_fit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := &trace{at: tc.at, cancel: tc.cancel}
			l := New(blobData(8, 4, 4), newMLP(1))
			if err := l.Fit(context.Background(), 1, Callbacks(tr)); err != nil {
				t.Fatal(err)
			}
			if got := names(tr.events); got != tc.want {
				t.Errorf("events:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestCallbackOrder(t *testing.T) {
	var got []string
	mk := func(name string, order int) Callback {
		return orderedCB{order, CallbackFunc(func(l *Learner, e Event) error {
			if e == BeforeFit {
				got = append(got, name)
			}
			return nil
		})}
	}
	l := New(blobData(8, 4, 4), newMLP(1), Callbacks(mk("late", 70), mk("early", -5), mk("mid", 0)))
	if err := l.Fit(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if want := []string{"early", "mid", "late"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("callback order %v, want %v", got, want)
	}
}

type orderedCB struct {
	order int
	Callback
}

func (o orderedCB) Order() int { return o.order }

func cos(start, end, p float64) float64 { return start + (1+math.Cos(math.Pi*(1-p)))*(end-start)/2 }

func TestOneCycleMatchesFastai(t *testing.T) {
	l := New(blobData(64, 8, 8), newMLP(1))
	if err := l.FitOneCycle(context.Background(), 2, LR(0.01)); err != nil {
		t.Fatal(err)
	}
	n := 16 // 2 epochs of 8 batches
	lrs, moms := l.Recorder.LRs, l.Recorder.Moms
	if len(lrs) != n {
		t.Fatalf("recorded %d lrs, want %d", len(lrs), n)
	}
	for i := 0; i < n; i++ {
		p := float64(i) / float64(n)
		var wantLR, wantMom float64
		if p < 0.25 {
			wantLR, wantMom = cos(0.01/25, 0.01, p/0.25), cos(0.95, 0.85, p/0.25)
		} else {
			wantLR, wantMom = cos(0.01, 0.01/1e5, (p-0.25)/0.75), cos(0.85, 0.95, (p-0.25)/0.75)
		}
		if math.Abs(lrs[i]-wantLR) > 1e-12 || math.Abs(moms[i]-wantMom) > 1e-12 {
			t.Errorf("batch %d (pct %.3f): lr %g mom %g, want %g %g", i, p, lrs[i], moms[i], wantLR, wantMom)
		}
	}
}

func TestFlatCosAndSGDR(t *testing.T) {
	l := New(blobData(64, 8, 8), newMLP(1))
	if err := l.FitFlatCos(context.Background(), 2, LR(0.02)); err != nil {
		t.Fatal(err)
	}
	for i, lr := range l.Recorder.LRs {
		p := float64(i) / 16
		want := 0.02
		if p >= 0.75 {
			want = cos(0.02, 0.02/1e5, (p-0.75)/0.25)
		}
		if math.Abs(lr-want) > 1e-12 {
			t.Errorf("flat-cos batch %d: lr %g, want %g", i, lr, want)
		}
	}
	l2 := New(blobData(64, 8, 8), newMLP(1))
	if err := l2.FitSGDR(context.Background(), 2, 1, LR(0.1)); err != nil { // epochs 1 + 2
		t.Fatal(err)
	}
	lrs := l2.Recorder.LRs
	if len(lrs) != 24 || lrs[0] != 0.1 || lrs[8] != 0.1 || !(lrs[7] < 0.01) || !(lrs[23] < 0.01) {
		t.Errorf("SGDR lrs restart at batches 0 and 8 and anneal to ~0: %v", lrs)
	}
}

func TestDiscriminativeRates(t *testing.T) {
	for _, tc := range []struct {
		r    Option
		n    int
		want []float64
	}{
		{LR(Slice(1e-5, 1e-3)), 3, []float64{1e-5, 1e-4, 1e-3}},
		{LR(Slice(0, 1e-3)), 3, []float64{1e-4, 1e-4, 1e-3}},
		{LR(0.5), 2, []float64{0.5, 0.5}},
		{LR(PerGroup{1, 2}), 2, []float64{1, 2}},
	} {
		got := Rates(tc.r, tc.n)
		for i := range got {
			if math.Abs(got[i]-tc.want[i]) > 1e-15*tc.want[i]*10 {
				t.Errorf("%v over %d groups = %v, want %v", tc.r, tc.n, got, tc.want)
				break
			}
		}
	}
	l := New(blobData(16, 8, 8), newMLP(1), WithSplitter(mlpSplitter))
	if err := l.FitOneCycle(context.Background(), 1, LR(Slice(1e-4, 1e-2))); err != nil {
		t.Fatal(err)
	}
	// At the end of the one-cycle, each group sits near its lr/1e5.
	got := l.Hyper("lr")
	if len(got) != 2 || !(got[0] < got[1]/50) {
		t.Errorf("per-group lrs %v: the body's should be 100x below the head's", got)
	}
}

func TestFreezeAndFineTune(t *testing.T) {
	m := newMLP(1)
	l := New(blobData(48, 12, 8), m, WithSplitter(mlpSplitter))
	l.Freeze()
	if m.fc1.Weight.RequiresGrad() || !m.fc2.Weight.RequiresGrad() || !m.bn.Weight.RequiresGrad() {
		t.Fatal("Freeze: the body's linear must be frozen, its BatchNorm and the head trainable")
	}
	before := m.fc1.Weight.Data().Clone()
	headBefore := m.fc2.Weight.Data().Clone()
	if err := l.FitOneCycle(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before.Data(), m.fc1.Weight.Data().Data()) {
		t.Fatal("a frozen parameter changed")
	}
	if reflect.DeepEqual(headBefore.Data(), m.fc2.Weight.Data().Data()) {
		t.Fatal("the head did not train")
	}
	var seen [][]float64
	rec := CallbackFunc(func(l *Learner, e Event) error {
		if e == BeforeFit {
			seen = append(seen, []float64{boolf(m.fc1.Weight.RequiresGrad())})
		}
		if e == AfterBatch && l.Training {
			last := seen[len(seen)-1]
			lrs := l.Hyper("lr")
			if len(last) == 1 {
				last = append(last, lrs...)
			}
			for i, v := range lrs {
				last[1+i] = math.Max(last[1+i], v)
			}
			seen[len(seen)-1] = last
		}
		return nil
	})
	if err := l.FineTune(context.Background(), 1, Callbacks(rec)); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || seen[0][0] != 0 || seen[1][0] != 1 {
		t.Fatalf("FineTune: body frozen in the first fit, trainable in the second: %v", seen)
	}
	// The frozen fit peaks at slice(2e-3): [2e-4, 2e-3]; the second at
	// slice(1e-3/100, 1e-3) = [1e-5, 1e-3] (peaks within a batch's step).
	// 48 items in batches of 8: 6 batches; the last is at pct 5/6 of a warm-up lasting 0.99.
	if want := cos(2e-3/25, 2e-3, 5.0/6/0.99); math.Abs(seen[0][2]-want) > 1e-15 || math.Abs(seen[0][1]/seen[0][2]-0.1) > 1e-9 {
		t.Errorf("FineTune frozen-phase peak lrs %v, want about [2e-4 2e-3]", seen[0][1:])
	}
	if seen[1][2] > 1e-3*(1+1e-12) || seen[1][2] < 0.9e-3 || math.Abs(seen[1][1]/seen[1][2]-0.01) > 1e-9 {
		t.Errorf("FineTune peak lrs %v, want about [1e-5 1e-3]", seen[1][1:])
	}
	if l.FrozenTo() != 0 {
		t.Error("FineTune left the model frozen")
	}
}

func boolf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func TestTrainingLearns(t *testing.T) {
	l := New(blobData(300, 150, 30), newMLP(1), Metrics(Accuracy(), ErrorRate()))
	if err := l.FitOneCycle(context.Background(), 4, LR(0.05)); err != nil {
		t.Fatal(err)
	}
	acc, _ := l.Recorder.Last("accuracy")
	er, _ := l.Recorder.Last("error_rate")
	if acc < 0.95 || math.Abs(acc+er-1) > 1e-9 {
		t.Fatalf("accuracy %.3f error rate %.3f after training on separable blobs", acc, er)
	}
	v, err := l.Validate(context.Background())
	if err != nil || math.Abs(v[1]-acc) > 1e-9 {
		t.Fatalf("Validate = %v, %v; recorder accuracy %v", v, err, acc)
	}
	p, err := l.Predict(tensor.FromSlice([]float32{2, 0}, 1, 2))
	if err != nil || p.Class != "a" || len(p.Probs) != 3 {
		t.Fatalf("Predict = %+v, %v", p, err)
	}
	preds, err := l.GetPreds(context.Background(), WithInput(), WithLoss())
	if err != nil || preds.Probs.Dim(0) != 150 || len(preds.Losses) != 150 || preds.Inputs.Dim(0) != 150 {
		t.Fatalf("GetPreds: %v", err)
	}
	for i, idx := range preds.Index {
		if idx != i {
			t.Fatalf("GetPreds is not in dataset order: index %d at %d", idx, i)
		}
	}
}

func TestLRFindHasNoSideEffects(t *testing.T) {
	m := newMLP(1)
	l := New(blobData(400, 8, 16), m)
	before := snapshot(m)
	res, err := l.LRFind(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	after := snapshot(m)
	for _, n := range before.Names {
		if bt, ok := before.Tensors[n]; ok && !reflect.DeepEqual(bt.Data(), after.Tensors[n].Data()) {
			t.Fatalf("LRFind changed %s", n)
		}
	}
	if l.Opt != nil || len(l.Recorder.Losses) != 0 || l.DataEpoch != 0 {
		t.Fatal("LRFind left an optimizer, recorder entries or a data epoch behind")
	}
	if !(res.Valley > 1e-4 && res.Valley < 1) || !(res.Steep > 1e-6 && res.Steep < 10) {
		t.Fatalf("suggestions valley %g steep %g minimum %g slide %g are not sensible for this problem", res.Valley, res.Steep, res.Minimum, res.Slide)
	}
	path := filepath.Join(t.TempDir(), "lr.png")
	if d := os.Getenv("FASTGO_PLOT_DIR"); d != "" {
		path = filepath.Join(d, "lr.png")
	}
	if err := res.Plot(path); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, path, 400, 250)
}

func TestFailuresNameWhere(t *testing.T) {
	ctx := context.Background()
	panicky := CallbackFunc(func(l *Learner, e Event) error {
		if e == BeforeBatch && l.Training && l.Iter == 1 {
			panic("boom")
		}
		return nil
	})
	l := New(blobData(16, 8, 4), newMLP(1))
	err := l.Fit(ctx, 1, Callbacks(panicky))
	var fe *FitError
	if !errors.As(err, &fe) || fe.Batch != 1 || fe.Epoch != 0 || !strings.Contains(err.Error(), "boom") || !strings.Contains(fe.Callback, "CallbackFunc") {
		t.Fatalf("callback panic: %v", err)
	}
	// The model is still usable afterwards.
	if err := l.Fit(ctx, 1); err != nil {
		t.Fatalf("fit after a failure: %v", err)
	}
	nan := CallbackFunc(func(l *Learner, e Event) error {
		if e == AfterLoss && l.Training && l.Iter == 2 {
			l.LossV = autograd.MulScalar(l.LossV, float32(math.NaN()))
		}
		return nil
	})
	err = l.Fit(ctx, 2, Callbacks(nan))
	if !errors.Is(err, ErrNaNLoss) || !errors.As(err, &fe) || fe.Batch != 2 {
		t.Fatalf("NaN loss: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	stop := CallbackFunc(func(l *Learner, e Event) error {
		if e == AfterBatch && l.Iter == 1 {
			cancel()
		}
		return nil
	})
	err = l.Fit(cctx, 1, Callbacks(stop))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
}

func TestSaveLoadAndAtomicity(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	l := New(blobData(32, 8, 8), newMLP(1))
	if err := l.Fit(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if err := l.Save(path); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(path)
	// A write that fails half way (a full disk) leaves the previous file as
	// it was, and no temporary file.
	restore := atomicfile.SetWriteHook(func(n int64) error {
		if n > int64(len(good)/2) {
			return fmt.Errorf("no space left on device")
		}
		return nil
	})
	l.Model.(*mlp).fc1.Weight.Data().Data()[0] += 1
	err := l.Save(path)
	restore()
	if err == nil || !strings.Contains(err.Error(), "no space") || !strings.Contains(err.Error(), path) {
		t.Fatalf("a failed write: %v", err)
	}
	if now, _ := os.ReadFile(path); !reflect.DeepEqual(now, good) {
		t.Fatal("a failed write changed the previous checkpoint")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(left) != 0 {
		t.Fatalf("temporary files left behind: %v", left)
	}
	l.Model.(*mlp).fc1.Weight.Data().Data()[0] -= 1
	l2 := New(blobData(32, 8, 8), newMLP(9))
	if err := l2.Load(path); err != nil {
		t.Fatal(err)
	}
	a, b := layers.GetStateDict(l.Model), layers.GetStateDict(l2.Model)
	for _, n := range a.Names {
		if at, ok := a.Tensors[n]; ok && !reflect.DeepEqual(at.Data(), b.Tensors[n].Data()) {
			t.Fatalf("%s differs after Load", n)
		}
	}
	if err := os.WriteFile(path, []byte("not a checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := l2.Load(path); err == nil || !strings.Contains(err.Error(), "model.safetensors") {
		t.Fatalf("loading garbage: %v", err)
	}
}

func TestResumeIsBitIdentical(t *testing.T) {
	ctx := context.Background()
	full := New(blobData(64, 16, 8), newMLP(1))
	if err := full.FitOneCycle(ctx, 3, LR(0.02)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ckpt.safetensors")
	first := New(blobData(64, 16, 8), newMLP(1))
	killAfter := CallbackFunc(func(l *Learner, e Event) error {
		if e == AfterEpoch && l.Epoch == 1 {
			return errors.New("killed")
		}
		return nil
	})
	// Checkpoint (order 55) saves before the "kill" (order 0 runs first, so
	// give the kill a later order).
	err := first.FitOneCycle(ctx, 3, LR(0.02), Callbacks(&Checkpoint{Path: path}, orderedCB{90, killAfter}))
	if err == nil {
		t.Fatal("the run was not interrupted")
	}
	resumed := New(blobData(64, 16, 8), newMLP(5))
	start, err := resumed.Resume(path)
	if err != nil || start != 2 {
		t.Fatalf("Resume = %d, %v; want epoch 2", start, err)
	}
	if err := resumed.FitOneCycle(ctx, 3, LR(0.02), StartEpoch(start)); err != nil {
		t.Fatal(err)
	}
	a, b := layers.GetStateDict(full.Model), layers.GetStateDict(resumed.Model)
	for _, n := range a.Names {
		if at, ok := a.Tensors[n]; ok && !reflect.DeepEqual(at.Data(), b.Tensors[n].Data()) {
			t.Fatalf("%s differs between the uninterrupted and the resumed run", n)
		}
	}
}

func TestMetrics(t *testing.T) {
	// 4 items, 3 classes: predictions 0,1,1,2 for targets 0,1,2,2.
	pred := tensor.FromSlice([]float32{
		5, 1, 0,
		0, 3, 1,
		0, 2, 1,
		0, 1, 4,
	}, 4, 3)
	y := []int{0, 1, 2, 2}
	get := func(m Metric) float64 {
		m.Reset()
		m.Accumulate(pred.Narrow0(0, 2), y[:2])
		m.Accumulate(pred.Narrow0(2, 2), y[2:])
		return m.Value()
	}
	// precision per class: 1, 1/2, 1 -> 5/6; recall: 1, 1, 1/2 -> 5/6;
	// f1: 1, 2/3, 2/3 -> 7/9; balanced accuracy = mean recall = 5/6.
	for _, tc := range []struct {
		m    Metric
		want float64
	}{
		{Accuracy(), 0.75}, {ErrorRate(), 0.25}, {TopKAccuracy(2), 1},
		{Precision(), 5.0 / 6}, {Recall(), 5.0 / 6}, {F1(), 7.0 / 9}, {BalancedAccuracy(), 5.0 / 6},
	} {
		if got := get(tc.m); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s = %v, want %v", tc.m.Name(), got, tc.want)
		}
	}
}
