package attacks

import (
	"context"
	"errors"
	"math"
	"runtime"
	"slices"
	"testing"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/adversarial/internal/batch"
	"github.com/fastgo-ml/fastgo/adversarial/internal/testmodels"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/vision/models"
)

// bbCase is a black-box attack under test with the oracle it needs.
type bbCase struct {
	name   string
	a      BlackBoxAttack
	norm   Norm
	eps    float64
	access Access
}

func bbCases() []bbCase {
	// A surrogate close to the target but not it: the target's weights
	// with noise.
	sur := testmodels.NewTinyCNN(2)
	g := tensor.NewRNG(11)
	for _, p := range []*tensor.Tensor{sur.Conv.Weight.Data(), sur.FC.Weight.Data()} {
		for j := range p.Data() {
			p.Data()[j] *= float32(1 + 0.2*g.NormFloat64())
		}
	}
	return []bbCase{
		{"Square/Linf", Square{Queries: 150, Seed: 1}, Linf, 0.3, ScoreAccess},
		{"Square/L2", Square{Queries: 150, Seed: 1}, L2, 1.5, ScoreAccess},
		{"Square/Linf/margin", Square{Queries: 100, Loss: MarginScore, Seed: 2}, Linf, 0.3, ScoreAccess},
		{"SimBA/pixel/Linf", SimBA{Queries: 120, Seed: 1}, Linf, 0.3, ScoreAccess},
		{"SimBA/pixel/L2", SimBA{Queries: 120, Seed: 1}, L2, 1.5, ScoreAccess},
		{"SimBA/DCT/L2", SimBA{Basis: DCTBasis, Queries: 120, Seed: 1}, L2, 1.5, ScoreAccess},
		{"SimBA/DCT/Linf", SimBA{Basis: DCTBasis, Queries: 120, Seed: 1}, Linf, 0.3, ScoreAccess},
		{"NES/Linf", NES{Queries: 150, Samples: 5, Seed: 1}, Linf, 0.3, ScoreAccess},
		{"NES/L2", NES{Queries: 150, Samples: 5, Seed: 1}, L2, 1.5, ScoreAccess},
		{"SPSA/Linf", SPSA{Queries: 150, Samples: 5, Seed: 1}, Linf, 0.3, ScoreAccess},
		{"SPSA/L2", SPSA{Queries: 150, Samples: 5, LR: 0.05, Seed: 1}, L2, 1.5, ScoreAccess},
		{"HSJ/L2", HopSkipJump{Queries: 300, InitEvals: 20, MaxEvals: 60, Seed: 1}, L2, 1.5, LabelAccess},
		{"HSJ/Linf", HopSkipJump{Queries: 300, InitEvals: 20, MaxEvals: 60, Seed: 1}, Linf, 0.3, LabelAccess},
		{"HSJ/L2/scores", HopSkipJump{Queries: 200, InitEvals: 20, MaxEvals: 60, Seed: 2}, L2, 1.5, ScoreAccess},
		{"Transfer/scores", Transfer{Surrogate: sur, Attacks: []Attack{FGSM{}, PGD{Steps: 5, RandomStart: true, Seed: 1}}}, Linf, 0.3, ScoreAccess},
		{"Transfer/labels", Transfer{Surrogate: sur}, Linf, 0.3, LabelAccess},
	}
}

func oracleFor(m *testmodels.ConvNet, access Access, budget int) *Oracle {
	if access == LabelAccess {
		return NewLabelOracle(m, budget)
	}
	return NewScoreOracle(m, budget)
}

func TestBlackBoxOracles(t *testing.T) {
	ctx := context.Background()
	x := testmodels.Images(16, 1)
	labels := make([]int, x.Dim(0))
	for i := range labels {
		labels[i] = i % 3
	}
	for _, bc := range bbCases() {
		for _, c := range criteria(t, labels, 3) {
			t.Run(bc.name+"/"+critName(c), func(t *testing.T) {
				m := testmodels.NewTinyCNN(2)
				tm := ThreatModel{Norm: bc.norm, Eps: bc.eps}
				x0 := x.Clone()
				r, err := RunBlackBox(ctx, bc.a, oracleFor(m, bc.access, 0), x, c, tm)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(x.Data(), x0.Data()) {
					t.Fatal("the input was modified")
				}
				d := x.Len() / x.Dim(0)
				for i, v := range r.Adv.Data() {
					if v < 0 || v > 1 {
						t.Fatalf("sample %d holds %v, outside [0,1]", i/d, v)
					}
				}
				for i, nrm := range tm.Norms(x, r.Adv) {
					if nrm > tm.Eps+1e-6 {
						t.Errorf("sample %d at distance %v > eps %v", i, nrm, tm.Eps)
					}
				}
				if !slices.Equal(testmodels.Predict(m, r.Adv), r.Pred) {
					t.Error("Pred differs from the model on Adv")
				}
				for i, q := range r.Queries {
					if q < 1 {
						t.Errorf("sample %d: %d queries counted", i, q)
					}
				}
				clean := testmodels.Predict(m, x)
				switch cc := c.(type) {
				case Untargeted:
					fooledBefore := 0
					for i, p := range clean {
						if p != cc[i] {
							fooledBefore++
						}
					}
					t.Logf("%d of %d fooled (clean %d), mean queries %.1f", testmodels.Count(r.Success), len(labels), fooledBefore, meanInts(r.Queries))
					if testmodels.Count(r.Success) <= fooledBefore {
						t.Errorf("no more samples misclassified after the attack (%d) than before (%d)", testmodels.Count(r.Success), fooledBefore)
					}
				case Targeted:
					before := 0
					for i, p := range clean {
						if p == cc[i] {
							before++
						}
					}
					t.Logf("%d of %d reach the target (clean %d), mean queries %.1f", testmodels.Count(r.Success), len(labels), before, meanInts(r.Queries))
					if testmodels.Count(r.Success) <= before {
						t.Errorf("targeted hits did not rise: %d after, %d before", testmodels.Count(r.Success), before)
					}
				}
			})
		}
	}
}

func meanInts(v []int) float64 {
	s := 0
	for _, x := range v {
		s += x
	}
	return float64(s) / float64(max(len(v), 1))
}

func TestBlackBoxEpsZero(t *testing.T) {
	x := testmodels.Images(6, 3)
	labels := []int{0, 1, 2, 0, 1, 2}
	for _, bc := range bbCases() {
		t.Run(bc.name, func(t *testing.T) {
			m := testmodels.NewTinyCNN(2)
			r, err := RunBlackBox(context.Background(), bc.a, oracleFor(m, bc.access, 0), x, Untargeted(labels), ThreatModel{Norm: bc.norm})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(r.Adv.Data(), x.Data()) {
				t.Error("eps 0 did not return the input")
			}
			for i, q := range r.Queries {
				if q != 0 {
					t.Errorf("sample %d: %d queries at eps 0", i, q)
				}
			}
		})
	}
}

func TestBlackBoxBatchEqualsRowsAllAttacks(t *testing.T) {
	x := testmodels.Images(6, 5)
	labels := []int{2, 0, 1, 1, 0, 2}
	for _, bc := range bbCases() {
		for _, c := range criteria(t, labels, 3) {
			t.Run(bc.name+"/"+critName(c), func(t *testing.T) {
				m := testmodels.NewTinyCNN(2)
				tm := ThreatModel{Norm: bc.norm, Eps: bc.eps}
				r, err := RunBlackBox(context.Background(), bc.a, oracleFor(m, bc.access, 0), x, c, tm)
				if err != nil {
					t.Fatal(err)
				}
				d := x.Len() / x.Dim(0)
				for i := 0; i < x.Dim(0); i++ {
					ri, err := RunBlackBox(context.Background(), bc.a, oracleFor(m, bc.access, 0), x.Narrow0(i, 1), c.Select([]int{i}), tm)
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(ri.Adv.Data(), batch.Row(r.Adv.Data(), i, d)) {
						t.Fatalf("row %d attacked alone differs from its row in the batch", i)
					}
					if ri.Queries[0] != r.Queries[i] {
						t.Fatalf("row %d: %d queries alone, %d in the batch", i, ri.Queries[0], r.Queries[i])
					}
				}
				// The same seed repeats the run.
				r2, err := RunBlackBox(context.Background(), bc.a, oracleFor(m, bc.access, 0), x, c, tm)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(r2.Adv.Data(), r.Adv.Data()) || !slices.Equal(r2.Queries, r.Queries) {
					t.Fatal("the same seed gave a different run")
				}
			})
		}
	}
}

// TestBlackBoxBudget gives each attack an oracle budget well below its own
// query count, at an eps small enough that many samples fail: no sample
// may exceed the budget (the oracle would refuse the query and the run
// fail), and failing samples must have used most of it.
func TestBlackBoxBudget(t *testing.T) {
	x := testmodels.Images(12, 8)
	for _, bc := range bbCases() {
		for _, crit := range []Criterion{Untargeted(nil), targetsFor(t, TargetNextClass(), []int{0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2}, nil, 3)} {
			t.Run(bc.name+"/"+critName(crit), func(t *testing.T) {
				m := testmodels.NewTinyCNN(2)
				budget := 60
				if _, ok := bc.a.(Transfer); ok {
					budget = 1 // one check per sample: the second attack must not run
				}
				a := bc.a
				switch v := a.(type) {
				case Square:
					v.Queries = 10000
					a = v
				case SimBA:
					v.Queries = 10000
					a = v
				case NES:
					v.Queries = 10000
					a = v
				case SPSA:
					v.Queries = 10000
					a = v
				case HopSkipJump:
					v.Queries = 10000
					budget = 150
					a = v
				}
				tm := ThreatModel{Norm: bc.norm, Eps: bc.eps / 6}
				o := oracleFor(m, bc.access, budget)
				r, err := RunBlackBox(context.Background(), a, o, x, crit, tm)
				if err != nil {
					if errors.Is(err, fastgo.ErrBudget) {
						t.Fatalf("the attack asked past its budget: %v", err)
					}
					t.Fatal(err)
				}
				most := 0
				for i, q := range r.Queries {
					if q > budget {
						t.Errorf("sample %d used %d queries, budget %d", i, q, budget)
					}
					if !r.Success[i] {
						most = max(most, q)
					}
				}
				if testmodels.Count(r.Success) < len(r.Success) && most < budget/2 {
					t.Errorf("failing samples used at most %d of %d queries: the budget was not exercised", most, budget)
				}
				t.Logf("%d of %d fooled, queries %v", testmodels.Count(r.Success), len(r.Success), r.Queries)
			})
		}
	}
}

func TestBlackBoxCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	x := testmodels.Images(4, 1)
	for _, bc := range bbCases() {
		t.Run(bc.name, func(t *testing.T) {
			_, err := RunBlackBox(ctx, bc.a, oracleFor(testmodels.NewTinyCNN(2), bc.access, 0), x, Untargeted{0, 1, 2, 0}, ThreatModel{Norm: bc.norm, Eps: bc.eps})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
		})
	}
}

func TestBlackBoxRejectsBadSettings(t *testing.T) {
	m := testmodels.NewTinyCNN(2)
	x := testmodels.Images(2, 1)
	for _, c := range []struct {
		name string
		a    BlackBoxAttack
		o    *Oracle
		tm   ThreatModel
	}{
		{"Square/L1", Square{}, NewScoreOracle(m, 0), ThreatModel{Norm: L1, Eps: 1}},
		{"Square/labels", Square{}, NewLabelOracle(m, 0), DefaultThreat()},
		{"Square/PInit", Square{PInit: 2}, NewScoreOracle(m, 0), DefaultThreat()},
		{"SimBA/labels", SimBA{}, NewLabelOracle(m, 0), DefaultThreat()},
		{"SimBA/L1", SimBA{}, NewScoreOracle(m, 0), ThreatModel{Norm: L1, Eps: 1}},
		{"NES/labels", NES{}, NewLabelOracle(m, 0), DefaultThreat()},
		{"SPSA/LR", SPSA{LR: -1}, NewScoreOracle(m, 0), DefaultThreat()},
		{"HSJ/L1", HopSkipJump{}, NewLabelOracle(m, 0), ThreatModel{Norm: L1, Eps: 1}},
		{"Transfer/nil", Transfer{}, NewLabelOracle(m, 0), DefaultThreat()},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := RunBlackBox(context.Background(), c.a, c.o, x, Untargeted{0, 1}, c.tm)
			if err == nil {
				t.Fatal("accepted")
			}
			t.Log(err)
		})
	}
}

func TestDCTBasis(t *testing.T) {
	const c, h, w = 2, 4, 5
	b := newDCTBasis(h, w)
	d := c * h * w
	vecs := make([][]float64, d)
	for k := range vecs {
		vecs[k] = make([]float64, d)
		b.vector(k, c, vecs[k])
	}
	for i := 0; i < d; i++ {
		for j := 0; j < d; j++ {
			var dot float64
			for p := range vecs[i] {
				dot += vecs[i][p] * vecs[j][p]
			}
			want := 0.0
			if i == j {
				want = 1
			}
			if math.Abs(dot-want) > 1e-12 {
				t.Fatalf("<b%d, b%d> = %v, want %v", i, j, dot, want)
			}
		}
	}
	// Frequency (0,0) of channel 1 is constant on channel 1 alone;
	// frequency (0,1) of channel 0 varies along x as cos(pi (2x+1) / (2w)).
	for p := 0; p < h*w; p++ {
		if v := vecs[h*w][h*w+p]; math.Abs(v-1/math.Sqrt(h*w)) > 1e-12 || vecs[h*w][p] != 0 {
			t.Fatalf("DC vector of channel 1: %v", vecs[h*w])
		}
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			want := math.Sqrt(1.0/h) * math.Sqrt(2.0/w) * math.Cos(math.Pi*float64(2*x+1)/(2*w))
			if v := vecs[1][y*w+x]; math.Abs(v-want) > 1e-12 {
				t.Fatalf("vector (0,1) at (%d,%d) = %v, want %v", y, x, v, want)
			}
		}
	}
}

func TestDCTOrderLowFirst(t *testing.T) {
	const c, h, w, freq, stride = 3, 8, 8, 3, 2
	order := DCTOrder(c, h, w, freq, stride, tensor.NewRNG(5))
	if len(order) != c*h*w {
		t.Fatalf("%d directions", len(order))
	}
	seen := make([]bool, c*h*w)
	level := func(k int) int { f := k % (h * w); return max(f/w, f%w) }
	for i, k := range order {
		if seen[k] {
			t.Fatalf("direction %d twice", k)
		}
		seen[k] = true
		if i < c*freq*freq && level(k) >= freq {
			t.Fatalf("direction %d (level %d) among the first %d", k, level(k), c*freq*freq)
		}
		if i > 0 {
			lp, lk := level(order[i-1]), level(k)
			bp, bk := 0, 0
			if lp >= freq {
				bp = 1 + (lp-freq)/stride
			}
			if lk >= freq {
				bk = 1 + (lk-freq)/stride
			}
			if bk < bp {
				t.Fatalf("band %d after band %d at position %d", bk, bp, i)
			}
		}
	}
	if slices.Equal(order, DCTOrder(c, h, w, freq, stride, tensor.NewRNG(6))) {
		t.Error("the order within bands is not random")
	}
}

// TestHSJMinimumNorm runs HopSkipJump unbounded on a linear two-class
// model, whose nearest adversarial point is known in closed form: at L2
// distance |w.x + b| / ||w|| (inside the box here). The attack must end
// near it, and never below it.
func TestHSJMinimumNorm(t *testing.T) {
	const d = 16
	w := make([]float32, 2*d)
	g := tensor.NewRNG(3)
	for j := 0; j < d; j++ {
		v := float32(g.NormFloat64())
		w[j], w[d+j] = v, -v
	}
	// Biases that put the boundary through the centre of the box, so that
	// random images fall on both sides (HSJ starts from one).
	var sw float64
	for j := 0; j < d; j++ {
		sw += float64(w[j])
	}
	m := testmodels.Linear(d, 2, w, []float32{float32(-0.5 * sw), float32(0.5 * sw)})
	x := tensor.Full[float32](0.5, 4, d)
	for j := range x.Data() {
		x.Data()[j] += float32(0.1 * g.NormFloat64())
	}
	var wn float64
	for j := 0; j < d; j++ {
		wn += 4 * float64(w[j]) * float64(w[j]) // the logit difference is 2 w.x
	}
	wn = math.Sqrt(wn)
	for _, c := range []struct {
		gamma, tol float64
	}{{0, 0.05}, {0.01, 0.01}} {
		o := NewLabelOracle(m, 0)
		r, err := RunBlackBox(context.Background(), HopSkipJump{Queries: 3000, Gamma: c.gamma, Seed: 1}, o, x, Untargeted(nil), ThreatModel{Norm: L2, Eps: math.Inf(1)})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 4; i++ {
			xi := batch.Row(x.Data(), i, d)
			f := -sw
			for j := 0; j < d; j++ {
				f += 2 * float64(w[j]) * float64(xi[j])
			}
			opt := math.Abs(f) / wn
			if !r.Success[i] {
				t.Fatalf("sample %d not adversarial after %d queries", i, r.Queries[i])
			}
			if r.Norms[i] < opt*(1-1e-4) || r.Norms[i] > opt*(1+c.tol) {
				t.Errorf("gamma %v, sample %d: distance %v, optimum %v", c.gamma, i, r.Norms[i], opt)
			}
			t.Logf("gamma %v, sample %d: distance %.5f, optimum %.5f, %d queries", c.gamma, i, r.Norms[i], opt, r.Queries[i])
		}
	}
}

// TestBlackBoxSmallCNNRepeatable runs each score- and label-based attack on
// SmallCNN with GOMAXPROCS 1 and 2, and on rows alone: the same seed must
// give the same batch bit for bit (the oracle's answers do not depend on
// the thread count or the batch, and the attacks' randomness is per
// sample).
func TestBlackBoxSmallCNNRepeatable(t *testing.T) {
	m := models.NewSmallCNN(10, tensor.NewRNG(3))
	const n = 13
	x := tensor.Uniform[float32](tensor.NewRNG(4), 0, 1, n, 1, 28, 28)
	for _, c := range []struct {
		name   string
		a      BlackBoxAttack
		access Access
		tm     ThreatModel
	}{
		{"Square", Square{Queries: 30, Seed: 2}, ScoreAccess, ThreatModel{Norm: Linf, Eps: 0.05}},
		{"SimBA-DCT", SimBA{Basis: DCTBasis, Queries: 30, Seed: 2}, ScoreAccess, ThreatModel{Norm: L2, Eps: 0.5}},
		{"NES", NES{Queries: 30, Samples: 4, Seed: 2}, ScoreAccess, ThreatModel{Norm: Linf, Eps: 0.05}},
		{"HSJ", HopSkipJump{Queries: 150, InitEvals: 20, Seed: 2}, LabelAccess, ThreatModel{Norm: L2, Eps: 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			run := func(procs int, x *tensor.Tensor) *Result {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
				o := NewScoreOracle(m, 0)
				if c.access == LabelAccess {
					o = NewLabelOracle(m, 0)
				}
				r, err := RunBlackBox(context.Background(), c.a, o, x, Untargeted(nil), c.tm)
				if err != nil {
					t.Fatal(err)
				}
				return r
			}
			two := run(2, x)
			if one := run(1, x); !slices.Equal(one.Adv.Data(), two.Adv.Data()) || !slices.Equal(one.Queries, two.Queries) {
				t.Error("GOMAXPROCS 1 and 2 give different results")
			}
			d := x.Len() / n
			for _, i := range []int{0, 7, 12} {
				if alone := run(2, x.Narrow0(i, 1)); !slices.Equal(alone.Adv.Data(), batch.Row(two.Adv.Data(), i, d)) || alone.Queries[0] != two.Queries[i] {
					t.Errorf("row %d alone differs from its row in the batch", i)
				}
			}
		})
	}
}
