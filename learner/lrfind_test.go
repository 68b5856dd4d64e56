package learner

import (
	"context"
	"math"
	"reflect"
	"testing"
)

// curve is a typical lr-finder curve: flat, a descent from 1e-4 to 1e-2,
// a minimum near 2e-2, then a blow-up, with a little noise.
func curve() (lrs, losses []float64) {
	const n = 40
	for i := 0; i < n; i++ {
		lr := math.Pow(10, -5+5*float64(i)/(n-1))
		x := math.Log10(lr)
		lrs = append(lrs, lr)
		losses = append(losses, 2-1.2/(1+math.Exp(-(x+3)*3))+0.8*math.Exp((x+0.5)*4)+0.01*math.Sin(7*float64(i)))
	}
	return lrs, losses
}

func TestSuggestionFunctions(t *testing.T) {
	// The expected values are those of fastai's valley, slide, minimum and
	// steep (callback/schedule.py) run on the same curve.
	lrs, losses := curve()
	for _, tc := range []struct {
		name      string
		got, want float64
	}{
		{"valley", valley(lrs, losses), 0.0004641588833612782}, // index 13
		{"slide", slide(lrs, losses, 15, 0.005), 1e-05},        // never settles: walks to the start
		{"minimum", minimum(lrs, losses) / 10, 0.0021544346900318847},
		{"steep", steep(lrs, losses), 0.0008376776400682924},
	} {
		if math.Abs(tc.got-tc.want) > 1e-12*tc.want {
			t.Errorf("%s = %.17g, want %.17g", tc.name, tc.got, tc.want)
		}
	}
	// On a straight descent the gradient never changes: slide stops at
	// once, lr_diff points from the end.
	straight := make([]float64, len(lrs))
	for i := range straight {
		straight[i] = 3 - 0.05*float64(i)
	}
	if got := slide(lrs, straight, 15, 0.005); got != lrs[len(lrs)-16] {
		t.Errorf("slide on a straight line = %g, want %g", got, lrs[len(lrs)-16])
	}
}

func TestLRFindSuggestsATrainableRate(t *testing.T) {
	ctx := context.Background()
	l := New(blobData(1600, 300, 16), newMLP(1), Metrics(Accuracy()))
	res, err := l.LRFind(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.LRs) < 50 || res.LRs[0] != 1e-7 {
		t.Fatalf("the finder recorded %d points from %g", len(res.LRs), res.LRs[0])
	}
	for i := 1; i < len(res.LRs); i++ {
		if want := 1e-7 * math.Pow(1e8, float64(i)/100); math.Abs(res.LRs[i]-want) > 1e-9*want {
			t.Fatalf("lr %d = %g, want the exponential schedule's %g", i, res.LRs[i], want)
		}
	}
	// The run stopped on divergence (smoothed loss above 4x its best)
	// before the 100 iterations, or ran them all.
	last := res.Losses[len(res.Losses)-1]
	best := math.Inf(1)
	for _, v := range res.Losses {
		best = math.Min(best, v)
	}
	if len(res.LRs) < 100 && !(last > 4*best) {
		t.Fatalf("stopped after %d points without diverging (last %g, best %g)", len(res.LRs), last, best)
	}
	// The valley is a rate that trains: one epoch of one-cycle at it
	// beats one at a hundredth of it and one at 100 times it.
	acc := func(lr float64) float64 {
		m := New(blobData(1600, 300, 16), newMLP(1), Metrics(Accuracy()))
		if err := m.FitOneCycle(ctx, 1, LR(lr)); err != nil {
			return 0
		}
		a, _ := m.Recorder.Last("accuracy")
		return a
	}
	at, low := acc(res.Valley), acc(res.Valley/100)
	if !(at > 0.95) || !(at >= low) {
		t.Fatalf("valley %g: accuracy %.3f after one epoch; at valley/100 %.3f", res.Valley, at, low)
	}
	t.Logf("valley %.3g (accuracy %.3f), slide %.3g, minimum %.3g, steep %.3g; valley/100: %.3f",
		res.Valley, at, res.Slide, res.Minimum, res.Steep, low)
}

func TestLRFindRestoresTheOptimizer(t *testing.T) {
	ctx := context.Background()
	l := New(blobData(400, 8, 16), newMLP(1), WithSplitter(mlpSplitter))
	if err := l.Fit(ctx, 1, LR(Slice(1e-4, 1e-3))); err != nil {
		t.Fatal(err)
	}
	opt, st := l.Opt, l.Opt.StateDict()
	epoch, dataEpoch, rows := l.Epoch, l.DataEpoch, len(l.Recorder.Values)
	if _, err := l.LRFind(ctx); err != nil {
		t.Fatal(err)
	}
	if l.Opt != opt {
		t.Fatal("LRFind replaced the optimizer")
	}
	after := l.Opt.StateDict()
	if !reflect.DeepEqual(st.Groups[0].Hyper, after.Groups[0].Hyper) || !reflect.DeepEqual(l.Hyper("lr"), []float64{1e-4, 1e-3}) {
		t.Fatalf("hyper-parameters after LRFind: %v, lr %v", after.Groups[0].Hyper, l.Hyper("lr"))
	}
	for g := range st.Groups {
		for i, p := range st.Groups[g].Params {
			q := after.Groups[g].Params[i]
			if p.Step != q.Step {
				t.Fatalf("group %d param %d: step %d, was %d", g, i, q.Step, p.Step)
			}
			for name, b := range p.Buffers {
				if !reflect.DeepEqual(b.Data(), q.Buffers[name].Data()) {
					t.Fatalf("group %d param %d: %s changed", g, i, name)
				}
			}
		}
	}
	if l.Epoch != epoch || l.DataEpoch != dataEpoch || len(l.Recorder.Values) != rows {
		t.Fatal("LRFind left its epochs or rows behind")
	}
}
