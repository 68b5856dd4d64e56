package attacks

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo/adversarial/internal/testmodels"
	"github.com/fastgo-ml/fastgo/tensor"
)

// refSquareP is AutoAttack's p_selection written out independently of
// squareP: p_init halved once per threshold the (possibly rescaled)
// iteration is strictly above.
func refSquareP(pInit float64, it, queries int, rescale bool) float64 {
	if rescale {
		it = int(float64(it) / float64(queries) * 10000)
	}
	p := pInit
	for _, th := range []int{10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000} {
		if it > th {
			p /= 2
		}
	}
	return p
}

// TestSquareSchedule checks the p schedule against the paper's breakpoints
// (hand-written values) and against refSquareP at chosen iterations, for
// both schedules.
func TestSquareSchedule(t *testing.T) {
	for _, c := range []struct {
		it, queries int
		sched       SquareSchedule
		want        float64
	}{
		{0, 10000, SquareRescaled, 0.8}, {10, 10000, SquareRescaled, 0.8}, {11, 10000, SquareRescaled, 0.4},
		{50, 10000, SquareRescaled, 0.4}, {51, 10000, SquareRescaled, 0.2}, {201, 10000, SquareRescaled, 0.1},
		{501, 10000, SquareRescaled, 0.05}, {1001, 10000, SquareRescaled, 0.025}, {2001, 10000, SquareRescaled, 0.0125},
		{4001, 10000, SquareRescaled, 0.00625}, {6001, 10000, SquareRescaled, 0.003125}, {8001, 10000, SquareRescaled, 0.0015625},
		{5, 1000, SquareRescaled, 0.4}, {100, 1000, SquareRescaled, 0.05},
		// AutoAttack's standard run: 5000 queries, thresholds not stretched.
		{10, 5000, SquareFixed, 0.8}, {11, 5000, SquareFixed, 0.4}, {26, 5000, SquareFixed, 0.4},
		{51, 5000, SquareFixed, 0.2}, {101, 5000, SquareFixed, 0.2}, {201, 5000, SquareFixed, 0.1},
		{4001, 5000, SquareFixed, 0.00625}, {4999, 5000, SquareFixed, 0.00625},
		// The same iterations rescaled: at 5,000 queries p halves at half the
		// fixed iterations.
		{26, 5000, SquareRescaled, 0.2}, {101, 5000, SquareRescaled, 0.1}, {4999, 5000, SquareRescaled, 0.0015625},
	} {
		if got := squareP(0.8, c.it, c.queries, c.sched); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("p(%d of %d, %v) = %v, want %v", c.it, c.queries, c.sched, got, c.want)
		}
	}
	for _, q := range []int{100, 1000, 5000, 10000} {
		for _, it := range []int{0, 1, 9, 10, 11, 49, 50, 51, 199, 200, 201, 499, 500, 501, 999, 1000, 1001, 2500, 4000, 4001, 6000, 6001, 8000, 8001, 9999} {
			if it >= q {
				continue
			}
			for _, sched := range []SquareSchedule{SquareFixed, SquareRescaled} {
				want := refSquareP(0.8, it, q, sched == SquareRescaled)
				if got := squareP(0.8, it, q, sched); got != want {
					t.Errorf("p(%d of %d, %v) = %v, reference %v", it, q, sched, got, want)
				}
			}
		}
	}
}

// TestSquareScheduleDefault checks that the zero Square uses AutoAttack's
// standard (fixed) schedule and that an unknown schedule is refused.
func TestSquareScheduleDefault(t *testing.T) {
	if (Square{}).Schedule != SquareFixed || (Square{}).Name() != "Square-5000" || (Square{Schedule: SquareRescaled}).Name() != "Square-5000-rescaled" {
		t.Fatalf("default schedule %v, names %q %q", (Square{}).Schedule, Square{}.Name(), Square{Schedule: SquareRescaled}.Name())
	}
	m := testmodels.NewTinyCNN(2)
	x := testmodels.Images(2, 1)
	_, err := RunBlackBox(context.Background(), Square{Schedule: 7}, NewScoreOracle(m, 0), x, Untargeted{0, 1}, DefaultThreat())
	if err == nil || !strings.Contains(err.Error(), "schedule") {
		t.Fatalf("unknown schedule: err %v", err)
	}
}

func TestSquareEta(t *testing.T) {
	for _, s := range []int{1, 2, 3, 5, 8} {
		e := squareEta(s, s, tensor.NewRNG(1))
		var n2, top, bot float64
		for y := 0; y < s; y++ {
			for x := 0; x < s; x++ {
				v := e[y*s+x]
				n2 += v * v
				if y < s/2 {
					top += v
				} else {
					bot += v
				}
			}
		}
		if math.Abs(n2-1) > 1e-12 {
			t.Errorf("side %d: norm^2 %v", s, n2)
		}
		// One half positive, the other negative (rows, or columns after
		// the random transpose).
		if s >= 2 && !(top > 0 && bot < 0) {
			e2 := make([]float64, len(e))
			for y := 0; y < s; y++ {
				for x := 0; x < s; x++ {
					e2[x*s+y] = e[y*s+x]
				}
			}
			top, bot = 0, 0
			for y := 0; y < s; y++ {
				for x := 0; x < s; x++ {
					if y < s/2 {
						top += e2[y*s+x]
					} else {
						bot += e2[y*s+x]
					}
				}
			}
			if !(top > 0 && bot < 0) {
				t.Errorf("side %d: halves sum to %v and %v", s, top, bot)
			}
		}
	}
	// The centre of a 5x5 block of rectangles weighs most: 1 + 1/4 + 1/9.
	r := etaRectangles(5, 5)
	if !(r[2*5+2] > r[1*5+1] && r[1*5+1] > r[0]) {
		t.Errorf("rectangles not decreasing from the centre: %v", r)
	}
	if ratio := r[2*5+2] / r[0]; math.Abs(ratio-(1+0.25+1.0/9)/(1.0/9)) > 1e-12 {
		t.Errorf("centre/corner ratio %v", ratio)
	}
}
