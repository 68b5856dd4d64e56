package callbacks

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/data"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/tensor"
)

// blobs returns n 2-d points around 3 class centres.
func blobs(n int, seed uint64) (*tensor.Tensor, []int) {
	rng := tensor.NewRNG(seed)
	centres := [][2]float64{{2, 0}, {-1, 1.7}, {-1, -1.7}}
	x, y := tensor.Zeros(n, 2), make([]int, n)
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

// mlp is Linear(2,16) ReLU Linear(16,3), with no BatchNorm, so that batch
// composition does not change the gradients.
func mlp(seed uint64) *layers.Sequential {
	rng := tensor.NewRNG(seed)
	return layers.NewSequential(layers.NewLinear(2, 16, rng), &layers.ReLU{}, layers.NewLinear(16, 3, rng))
}

func weights(m layers.Module) map[string][]float32 {
	out := map[string][]float32{}
	for n, t := range layers.GetStateDict(m).Tensors {
		out[n] = append([]float32(nil), t.Data()...)
	}
	return out
}

// ordered gives a callback an order.
type ordered struct {
	order int
	learner.Callback
}

func (o ordered) Order() int { return o.order }

func on(e learner.Event, f func(l *learner.Learner) error) learner.CallbackFunc {
	return func(l *learner.Learner, ev learner.Event) error {
		if ev == e {
			return f(l)
		}
		return nil
	}
}

// scripted overwrites a column of each epoch's results with vals[epoch],
// after the Recorder wrote the row and before the trackers read it.
func scripted(col string, vals ...float64) learner.Callback {
	return ordered{55, on(learner.AfterEpoch, func(l *learner.Learner) error {
		r := l.Recorder
		for i, n := range r.MetricNames[1 : len(r.MetricNames)-1] {
			if n == col {
				r.Values[len(r.Values)-1][i] = vals[l.Epoch]
			}
		}
		return nil
	})}
}

func TestCSVLogger(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logs", "history.csv")
	l := learner.New(blobData(32, 9, 8), mlp(1), learner.Metrics(learner.Accuracy()))
	c := &CSVLogger{Path: path}
	kill := on(learner.AfterEpoch, func(l *learner.Learner) error {
		if l.Epoch == 1 {
			return errors.New("killed")
		}
		return nil
	})
	// The run dies at the end of its second epoch, in a callback that runs
	// before CSVLogger (order 0 < 60): the first epoch's row, written and
	// synced when it ended, survives; the second was never written.
	if err := l.Fit(context.Background(), 3, learner.Callbacks(c, kill)); err == nil {
		t.Fatal("the run did not fail")
	}
	rows := readCSV(t, path)
	if len(rows) != 2 || !reflect.DeepEqual(rows[0], []string{"epoch", "train_loss", "valid_loss", "accuracy", "time"}) || rows[1][0] != "0" {
		t.Fatalf("rows after a killed run: %v", rows)
	}
	// Append adds rows without a second header.
	c.Append = true
	if err := l.Fit(context.Background(), 2, learner.Callbacks(c)); err != nil {
		t.Fatal(err)
	}
	rows = readCSV(t, path)
	if len(rows) != 4 || rows[2][0] != "0" || rows[3][0] != "1" {
		t.Fatalf("rows after appending: %v", rows)
	}
	if _, err := l.LRFind(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := readCSV(t, path); len(got) != 4 {
		t.Fatalf("LRFind wrote to the CSV log: %v", got)
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestEarlyStopping(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cb        *EarlyStopping
		col       string
		vals      []float64
		stoppedAt int // -1: ran every epoch
	}{
		{"valid_loss patience 2", &EarlyStopping{Patience: 2}, "valid_loss", []float64{1, 0.8, 0.9, 0.85, 0.7, 0.6}, 3},
		{"improving", &EarlyStopping{}, "valid_loss", []float64{1, 0.9, 0.8, 0.7, 0.6, 0.5}, -1},
		{"min delta", &EarlyStopping{MinDelta: 0.1}, "valid_loss", []float64{1, 0.95, 0.5, 0.45, 0.4, 0.3}, 1},
		{"accuracy maximised", &EarlyStopping{Monitor: "accuracy"}, "accuracy", []float64{0.5, 0.6, 0.6, 0.9, 0.9, 0.9}, 2},
		{"NaN is no improvement", &EarlyStopping{Monitor: "accuracy"}, "accuracy", []float64{0.5, math.NaN(), 0.9, 0.9, 0.9, 0.9}, 1},
		{"explicit comp", &EarlyStopping{Monitor: "accuracy", Comp: Less}, "accuracy", []float64{0.5, 0.4, 0.6, 0.9, 0.9, 0.9}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := learner.New(blobData(16, 8, 8), mlp(1), learner.Metrics(learner.Accuracy()))
			epochs := 0
			count := on(learner.AfterTrain, func(*learner.Learner) error { epochs++; return nil })
			if err := l.Fit(context.Background(), 6, learner.Callbacks(tc.cb, scripted(tc.col, tc.vals...), count)); err != nil {
				t.Fatal(err)
			}
			if tc.cb.StoppedEpoch != tc.stoppedAt {
				t.Fatalf("stopped after epoch %d, want %d", tc.cb.StoppedEpoch, tc.stoppedAt)
			}
			want := 6
			if tc.stoppedAt >= 0 {
				want = tc.stoppedAt + 1
			}
			if epochs != want {
				t.Fatalf("%d epochs ran, want %d", epochs, want)
			}
		})
	}
	l := learner.New(blobData(16, 8, 8), mlp(1))
	if err := l.Fit(context.Background(), 1, learner.Callbacks(&EarlyStopping{Monitor: "f1_score"})); err == nil || !strings.Contains(err.Error(), `"f1_score" is not recorded`) {
		t.Fatalf("monitoring a missing column: %v", err)
	}
}

func TestSaveModel(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	t.Run("best reloaded", func(t *testing.T) {
		path := filepath.Join(dir, "best.safetensors")
		m := mlp(1)
		l := learner.New(blobData(32, 8, 8), m)
		var after []map[string][]float32
		snap := on(learner.AfterEpoch, func(l *learner.Learner) error { after = append(after, weights(l.Model)); return nil })
		sm := &SaveModel{Path: path}
		// valid_loss 1, 0.5, 0.7, 0.6: the best is epoch 1.
		if err := l.Fit(ctx, 4, learner.Callbacks(sm, scripted("valid_loss", 1, 0.5, 0.7, 0.6), snap)); err != nil {
			t.Fatal(err)
		}
		if sm.BestEpoch != 1 || sm.Best() != 0.5 {
			t.Fatalf("best epoch %d value %v, want 1 and 0.5", sm.BestEpoch, sm.Best())
		}
		if got := weights(m); !reflect.DeepEqual(got, after[1]) || reflect.DeepEqual(got, after[3]) {
			t.Fatal("the model at the end is not the best epoch's")
		}
	})
	t.Run("with early stopping", func(t *testing.T) {
		// SaveModel (61) runs before EarlyStopping (63): the best model is
		// saved, the fit stopped, and the best reloaded.
		path := filepath.Join(dir, "es.safetensors")
		m := mlp(1)
		l := learner.New(blobData(32, 8, 8), m)
		var after []map[string][]float32
		snap := on(learner.AfterEpoch, func(l *learner.Learner) error { after = append(after, weights(l.Model)); return nil })
		es := &EarlyStopping{Patience: 2}
		if err := l.Fit(ctx, 10, learner.Callbacks(es, &SaveModel{Path: path}, scripted("valid_loss", 1, 0.4, 0.5, 0.6, 0.1, 0, 0, 0, 0, 0), snap)); err != nil {
			t.Fatal(err)
		}
		if es.StoppedEpoch != 3 || len(after) != 4 || !reflect.DeepEqual(weights(m), after[1]) {
			t.Fatalf("stopped at %d after %d epochs; want 3, 4, and epoch 1's weights", es.StoppedEpoch, len(after))
		}
	})
	t.Run("every epoch", func(t *testing.T) {
		path := filepath.Join(dir, "model.safetensors")
		l := learner.New(blobData(32, 8, 8), mlp(1))
		sm := &SaveModel{Path: path, EveryEpoch: true, WithOpt: true}
		if err := l.Fit(ctx, 3, learner.Callbacks(sm)); err != nil {
			t.Fatal(err)
		}
		for e := 0; e < 3; e++ {
			if _, err := os.Stat(filepath.Join(dir, "model_"+string(rune('0'+e))+".safetensors")); err != nil {
				t.Fatal(err)
			}
		}
		if sm.EpochPath(2) != filepath.Join(dir, "model_2.safetensors") {
			t.Fatalf("EpochPath %s", sm.EpochPath(2))
		}
	})
	t.Run("at end", func(t *testing.T) {
		path := filepath.Join(dir, "end.safetensors")
		m := mlp(1)
		l := learner.New(blobData(32, 8, 8), m)
		if err := l.Fit(ctx, 3, learner.Callbacks(&SaveModel{Path: path, AtEnd: true}, scripted("valid_loss", 1, 2, 3))); err != nil {
			t.Fatal(err)
		}
		m2 := mlp(5)
		if err := learner.New(blobData(32, 8, 8), m2).Load(path, learner.WithoutOpt()); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(weights(m), weights(m2)) {
			t.Fatal("AtEnd did not save the final model")
		}
	})
	t.Run("not during LRFind", func(t *testing.T) {
		path := filepath.Join(dir, "lrfind.safetensors")
		l := learner.New(blobData(320, 8, 8), mlp(1), learner.Callbacks(&SaveModel{Path: path}, &EarlyStopping{}))
		if _, err := l.LRFind(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Fatalf("SaveModel saved during LRFind: %v", err)
		}
	})
	if err := learner.New(blobData(16, 8, 8), mlp(1)).Fit(ctx, 1, learner.Callbacks(&SaveModel{})); err == nil {
		t.Fatal("SaveModel without a Path did not fail")
	}
}

func TestReduceLROnPlateau(t *testing.T) {
	l := learner.New(blobData(16, 8, 8), mlp(1), learner.LR(1e-2))
	var lrs []float64
	rec := on(learner.BeforeTrain, func(l *learner.Learner) error { lrs = append(lrs, l.Hyper("lr")[0]); return nil })
	var log bytes.Buffer
	cb := &ReduceLROnPlateau{Patience: 1, Factor: 10, MinLR: 2e-5, Log: &log}
	// No improvement at epochs 1 and 2 (two reductions), an improvement at
	// 3, none at 4 (a third, floored at MinLR).
	if err := l.Fit(context.Background(), 6, learner.Callbacks(cb, rec, scripted("valid_loss", 1, 1.1, 1.2, 0.5, 0.6, 0.4))); err != nil {
		t.Fatal(err)
	}
	want := []float64{1e-2, 1e-2, 1e-3, 1e-4, 1e-4, 2e-5}
	for i := range want {
		if math.Abs(lrs[i]-want[i]) > 1e-15 {
			t.Fatalf("lr at each epoch's start %v, want %v", lrs, want)
		}
	}
	if !strings.Contains(log.String(), "Epoch 1: reducing lr to 0.001") {
		t.Fatalf("log %q", log.String())
	}
}

func TestGradientClip(t *testing.T) {
	for _, maxNorm := range []float64{0.05, 1e6} {
		l := learner.New(blobData(32, 8, 8), mlp(1))
		clip := &GradientClip{MaxNorm: maxNorm}
		var before, after []float64
		var ratio []float64
		var g0 []float32
		first := ordered{5, on(learner.AfterBackward, func(l *learner.Learner) error {
			ps := trainedParams(l)
			before = append(before, GradNorm(ps))
			g0 = append(g0[:0], ps[0].Grad().Data()...)
			return nil
		})}
		last := ordered{20, on(learner.AfterBackward, func(l *learner.Learner) error {
			ps := trainedParams(l)
			after = append(after, GradNorm(ps))
			ratio = append(ratio, float64(ps[0].Grad().Data()[0]/g0[0]))
			return nil
		})}
		if err := l.Fit(context.Background(), 1, learner.Callbacks(clip, first, last)); err != nil {
			t.Fatal(err)
		}
		if clipped := before[0] > maxNorm; clipped != (maxNorm < 1) {
			t.Fatalf("max %g, first norm %g: the test must clip with the small max only", maxNorm, before[0])
		}
		for i := range before {
			want := before[i]
			if before[i] > maxNorm {
				want = maxNorm
			}
			if math.Abs(after[i]-want) > 1e-5*want || math.Abs(clip.LastNorm-before[len(before)-1]) > 1e-12 {
				t.Fatalf("max %g, batch %d: norm %g -> %g, want %g", maxNorm, i, before[i], after[i], want)
			}
			if want := after[i] / before[i]; math.Abs(ratio[i]-want) > 1e-4 {
				t.Fatalf("the clip changed the gradient's direction: scale %g, norm ratio %g", ratio[i], want)
			}
		}
	}
}

func TestGradientAccumulation(t *testing.T) {
	// Batches of 8 accumulated to 16 items step as batches of 16 do: the
	// shuffle depends only on the seed, so each batch of 16 is two
	// consecutive batches of 8.
	run := func(bs int, cbs ...learner.Callback) (*learner.Learner, layers.Module) {
		m := mlp(1)
		l := learner.New(blobData(64, 8, bs), m, learner.LR(0.05))
		if err := l.Fit(context.Background(), 2, learner.Callbacks(cbs...)); err != nil {
			t.Fatal(err)
		}
		return l, m
	}
	ga := &GradientAccumulation{NAcc: 16}
	steps := 0
	count := on(learner.AfterStep, func(*learner.Learner) error { steps++; return nil })
	la, a := run(8, ga, count)
	lb, b := run(16)
	if ga.Steps != 8 || steps != 8 {
		t.Fatalf("%d steps (%d counted) over 2 epochs of 64 items accumulated by 16, want 8", ga.Steps, steps)
	}
	wa, wb := weights(a), weights(b)
	for n := range wb {
		for i := range wb[n] {
			if d := math.Abs(float64(wa[n][i] - wb[n][i])); d > 2e-5 {
				t.Fatalf("%s[%d]: %g accumulated vs %g in one batch", n, i, wa[n][i], wb[n][i])
			}
		}
	}
	// The recorded losses are the batches' own, not the scaled ones.
	mean := (la.Recorder.RawLosses[0] + la.Recorder.RawLosses[1]) / 2
	if math.Abs(mean-lb.Recorder.RawLosses[0]) > 1e-5 {
		t.Fatalf("raw losses %v vs %v: the recorded loss was scaled", la.Recorder.RawLosses[:2], lb.Recorder.RawLosses[0])
	}
}

func TestMixUp(t *testing.T) {
	l := learner.New(blobData(64, 16, 16), mlp(1))
	mix := &MixUp{Alpha: 0.4, Seed: 5}
	var x0 *tensor.Tensor
	var y0 []int
	batches, validSeen := 0, false
	keep := ordered{-1, on(learner.BeforeBatch, func(l *learner.Learner) error {
		x0, y0 = l.XB.Data().Clone(), append([]int(nil), l.YB...)
		return nil
	})}
	check := ordered{1, learner.CallbackFunc(func(l *learner.Learner, e learner.Event) error {
		switch {
		case e == learner.BeforeBatch && !l.Training:
			validSeen = true
			if !reflect.DeepEqual(l.XB.Data().Data(), x0.Data()) || l.LossFuncOverride != nil {
				return errors.New("MixUp changed a validation batch")
			}
		case e == learner.BeforeBatch:
			batches++
			n, row := len(y0), 2
			for i := 0; i < n; i++ {
				lam, j := mix.Lam[i], mix.Perm[i]
				if lam < 0.5 || lam > 1 {
					return errors.New("lam outside [0.5, 1]")
				}
				for k := 0; k < row; k++ {
					want := float32(lam)*x0.Data()[i*row+k] + float32(1-lam)*x0.Data()[j*row+k]
					if l.XB.Data().Data()[i*row+k] != want {
						return errors.New("inputs are not lam*x + (1-lam)*x[perm]")
					}
				}
			}
			if !reflect.DeepEqual(l.YB, y0) {
				return errors.New("MixUp changed the targets")
			}
		case e == learner.AfterLoss && l.Training:
			// The loss is mean(lam*CE(pred, y) + (1-lam)*CE(pred, y[perm])).
			per := func(y []int) []float32 {
				return autograd.CrossEntropy(autograd.Const(l.Pred.Data()), y, autograd.ReductionNone).Data().Data()
			}
			y2 := make([]int, len(y0))
			for i, j := range mix.Perm {
				y2[i] = y0[j]
			}
			a, b := per(y0), per(y2)
			want := 0.0
			for i := range a {
				want += (mix.Lam[i]*float64(a[i]) + (1-mix.Lam[i])*float64(b[i])) / float64(len(a))
			}
			if got := float64(l.LossV.Data().Item()); math.Abs(got-want) > 1e-5 {
				return errors.New("the mixed loss is not the lam-weighted cross-entropy")
			}
		}
		return nil
	})}
	if err := l.Fit(context.Background(), 2, learner.Callbacks(mix, keep, check)); err != nil {
		t.Fatal(err)
	}
	if batches != 8 || !validSeen {
		t.Fatalf("%d training batches checked, validation seen %v", batches, validSeen)
	}
	mixed := 0
	for _, lam := range mix.Lam {
		if lam < 0.9 {
			mixed++
		}
	}
	if mixed == 0 {
		t.Fatalf("lams %v: nothing was mixed", mix.Lam)
	}
}

func TestBetaSampler(t *testing.T) {
	for _, tc := range []struct{ a, b float64 }{{0.4, 0.4}, {1, 1}, {2, 5}, {0.2, 3}} {
		rng := tensor.NewRNG(1)
		const n = 40000
		s, s2 := 0.0, 0.0
		for i := 0; i < n; i++ {
			v := betaSample(rng, tc.a, tc.b)
			if v < 0 || v > 1 {
				t.Fatalf("Beta(%g,%g) drew %g", tc.a, tc.b, v)
			}
			s += v
			s2 += v * v
		}
		mean, vr := s/n, s2/n-(s/n)*(s/n)
		wm := tc.a / (tc.a + tc.b)
		wv := tc.a * tc.b / ((tc.a + tc.b) * (tc.a + tc.b) * (tc.a + tc.b + 1))
		if math.Abs(mean-wm) > 4*math.Sqrt(wv/n) || math.Abs(vr-wv) > 0.05*wv {
			t.Errorf("Beta(%g,%g): mean %.4f var %.4f, want %.4f %.4f", tc.a, tc.b, mean, vr, wm, wv)
		}
	}
}

// images are [N,2,6,5] tensors with distinct values, labels i%3.
func images(n int) *data.SliceData {
	x := tensor.Zeros(n, 2, 6, 5)
	for i := range x.Data() {
		x.Data()[i] = float32(i)
	}
	y := make([]int, n)
	for i := range y {
		y[i] = i % 3
	}
	return &data.SliceData{
		Train: &data.SliceLoader{X: x, Y: y, BatchSize: 8, Shuffle: true, Seed: 1},
		Valid: &data.SliceLoader{X: x, Y: y, BatchSize: 8},
		Vocab: []string{"a", "b", "c"},
	}
}

// flatLinear flattens an image and maps it to 3 logits.
func flatLinear() layers.Module {
	return layers.NewSequential(layers.NewFlatten(), layers.NewLinear(60, 3, tensor.NewRNG(1)))
}

func TestCutMix(t *testing.T) {
	l := learner.New(images(32), flatLinear(), learner.LR(1e-4))
	cm := &CutMix{Seed: 3}
	var x0 *tensor.Tensor
	var y0 []int
	areas := map[int]bool{}
	keep := ordered{-1, on(learner.BeforeBatch, func(l *learner.Learner) error {
		x0, y0 = l.XB.Data().Clone(), append([]int(nil), l.YB...)
		return nil
	})}
	check := ordered{1, learner.CallbackFunc(func(l *learner.Learner, e learner.Event) error {
		if !l.Training {
			return nil
		}
		switch e {
		case learner.BeforeBatch:
			b := cm.Box
			areas[b.Dx()*b.Dy()] = true
			if want := 1 - float64(b.Dx()*b.Dy())/30; cm.Lam != want {
				return errors.New("lam is not the untouched fraction")
			}
			x := l.XB.Data().Data()
			for i, j := range cm.Perm {
				for c := 0; c < 2; c++ {
					for yy := 0; yy < 6; yy++ {
						for xx := 0; xx < 5; xx++ {
							o := ((i*2+c)*6+yy)*5 + xx
							src := i
							if yy >= b.Min.Y && yy < b.Max.Y && xx >= b.Min.X && xx < b.Max.X {
								src = j
							}
							if x[o] != x0.Data()[((src*2+c)*6+yy)*5+xx] {
								return errors.New("a pixel is not from its item or, inside the box, its partner")
							}
						}
					}
				}
			}
		case learner.AfterLoss:
			y2 := make([]int, len(y0))
			for i, j := range cm.Perm {
				y2[i] = y0[j]
			}
			ce := func(y []int) float64 {
				return float64(autograd.CrossEntropy(autograd.Const(l.Pred.Data()), y).Data().Item())
			}
			if want := cm.Lam*ce(y0) + (1-cm.Lam)*ce(y2); math.Abs(float64(l.LossV.Data().Item())-want) > 1e-3*math.Abs(want) {
				return errors.New("the CutMix loss is not lam*CE(y) + (1-lam)*CE(y[perm])")
			}
		}
		return nil
	})}
	if err := l.Fit(context.Background(), 4, learner.Callbacks(cm, keep, check)); err != nil {
		t.Fatal(err)
	}
	if len(areas) < 3 {
		t.Fatalf("box areas drawn %v: the box does not vary", areas)
	}
	bad := learner.New(blobData(16, 8, 8), mlp(1))
	if err := bad.Fit(context.Background(), 1, learner.Callbacks(&CutMix{})); err == nil || !strings.Contains(err.Error(), "[N,C,H,W]") {
		t.Fatalf("CutMix on non-images: %v", err)
	}
}

func TestTerminateOnNaN(t *testing.T) {
	l := learner.New(blobData(32, 8, 8), mlp(1))
	nan := on(learner.AfterLoss, func(l *learner.Learner) error {
		if l.Training && l.Epoch == 1 && l.Iter == 2 {
			l.LossV = autograd.MulScalar(l.LossV, float32(math.Inf(1)))
		}
		return nil
	})
	ended := false
	end := on(learner.AfterFit, func(*learner.Learner) error { ended = true; return nil })
	c := &TerminateOnNaN{}
	if err := l.Fit(context.Background(), 3, learner.Callbacks(c, ordered{-20, nan}, end)); err != nil {
		t.Fatalf("TerminateOnNaN ends the fit cleanly, got %v", err)
	}
	if !c.Stopped || c.Epoch != 1 || c.Iter != 2 || !ended {
		t.Fatalf("stopped %v at %d/%d, AfterFit %v", c.Stopped, c.Epoch, c.Iter, ended)
	}
}

func TestShortEpoch(t *testing.T) {
	for _, tc := range []struct {
		cb           *ShortEpoch
		train, valid int
	}{
		// As fastai: the phase is cancelled after the first batch i with
		// i/n >= Pct. 8 training batches: with Pct 0.25, 0, 1, 2 run (2/8
		// reaches 0.25); 5 validation batches: 0, 1 (1/5 < 0.25), 2.
		{&ShortEpoch{Pct: 0.25}, 3, 3},
		{&ShortEpoch{Pct: 0.6}, 6, 4},
		{&ShortEpoch{Pct: 0.6, FullValid: true}, 6, 5},
		{&ShortEpoch{Pct: 0.5}, 5, 4},
		{&ShortEpoch{}, 2, 2}, // 0.01: batch 0, and batch 1 (1/8 >= 0.01)
	} {
		l := learner.New(blobData(64, 40, 8), mlp(1))
		train, valid := 0, 0
		count := on(learner.AfterBatch, func(l *learner.Learner) error {
			if l.Training {
				train++
			} else {
				valid++
			}
			return nil
		})
		if err := l.Fit(context.Background(), 1, learner.Callbacks(tc.cb, count)); err != nil {
			t.Fatal(err)
		}
		if train != tc.train || valid != tc.valid {
			t.Errorf("%+v: %d train and %d valid batches, want %d and %d", *tc.cb, train, valid, tc.train, tc.valid)
		}
	}
}
