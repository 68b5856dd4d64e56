package adversarial

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo/adversarial/attacks"
	"github.com/fastgo-ml/fastgo/adversarial/internal/testmodels"
	"github.com/fastgo-ml/fastgo/data"
	"github.com/fastgo-ml/fastgo/learner"
)

// TestGuardHeldOutSplit: by default the guard checks on the last items of
// the validation set, at most half of it, never on the first ones that the
// evaluation reports on; Data and X give it a split of its own.
func TestGuardHeldOutSplit(t *testing.T) {
	tm := attacks.ThreatModel{Norm: attacks.Linf, Eps: 0.08}
	xv, yv := testmodels.SynthData(120, 2)
	fit := func(g *OverfitGuard) *OverfitGuard {
		t.Helper()
		l := testmodels.SynthLearner(7)
		tr := NewFastAT(Threat(tm), Guard(g))
		if err := l.FitOneCycle(context.Background(), 1, learner.LR(1e-2), learner.Callbacks(tr)); err != nil {
			t.Fatal(err)
		}
		if len(g.Checks) != 1 {
			t.Fatalf("%d checks", len(g.Checks))
		}
		return g
	}
	for _, c := range []struct {
		heldOut, want int
	}{{0, 60}, {20, 20}, {100, 60}} {
		g := fit(&OverfitGuard{HeldOut: c.heldOut})
		if len(g.y) != c.want || g.x.Dim(0) != c.want {
			t.Fatalf("HeldOut %d: %d items held out, want %d", c.heldOut, len(g.y), c.want)
		}
		// The last items of the validation set, in order.
		if !slices.Equal(g.y, yv[120-c.want:]) || !slices.Equal(g.x.Data(), xv.Narrow0(120-c.want, c.want).Data()) {
			t.Errorf("HeldOut %d: not the last %d validation items", c.heldOut, c.want)
		}
		if !strings.Contains(g.HeldOutFrom, "of the 120 validation items") {
			t.Errorf("HeldOutFrom %q", g.HeldOutFrom)
		}
	}
	// Data: a split of the guard's own.
	xo, yo := testmodels.SynthData(40, 9)
	g := fit(&OverfitGuard{Data: &data.SliceLoader{X: xo, Y: yo, BatchSize: 16}, HeldOut: 30})
	if !slices.Equal(g.y, yo[:30]) || !slices.Equal(g.x.Data(), xo.Narrow0(0, 30).Data()) || g.HeldOutFrom != "the first 30 items of Data" {
		t.Errorf("Data: held out %d items from %q", len(g.y), g.HeldOutFrom)
	}
	g = fit(&OverfitGuard{X: xo, Y: yo})
	if len(g.y) != 40 || g.HeldOutFrom != "the 40 items of X" {
		t.Errorf("X: %d items from %q", len(g.y), g.HeldOutFrom)
	}
}
