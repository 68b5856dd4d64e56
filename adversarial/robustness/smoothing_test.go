package robustness

import (
	"context"
	"errors"
	"math"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/fastgo-ml/fastgo/adversarial/internal/batch"
	"github.com/fastgo-ml/fastgo/adversarial/internal/testmodels"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
)

// constantModel answers class 2 of 4 for any input of d values.
func constantModel(d int) *layers.Linear {
	l := layers.NewLinear(d, 4, tensor.NewRNG(1))
	l.Weight.Data().Fill(0)
	copy(l.Bias.Data().Data(), []float32{0, 0, 1, 0})
	return l
}

// coinModel is a two-class linear model whose boundary passes through the
// grey image 0.5: under noise at 0.5 each class has probability 1/2.
func coinModel(d int) *layers.Linear {
	l := layers.NewLinear(d, 2, tensor.NewRNG(1))
	w := l.Weight.Data().Data()
	for j := 0; j < d; j++ {
		w[j], w[d+j] = 1, -1
	}
	copy(l.Bias.Data().Data(), []float32{-0.5 * float32(d), 0.5 * float32(d)})
	return l
}

// TestCertifyConstantClassifier is the oracle of the issue: a constant
// base classifier gets pA = alpha^(1/n) and radius sigma * PhiInv(pA):
// 3.8115 sigma for n = 100,000 and 2.4633 sigma for n = 1,000 (alpha 0.001).
func TestCertifyConstantClassifier(t *testing.T) {
	x := tensor.Uniform[float32](tensor.NewRNG(1), 0, 1, 2, 1, 2, 2)
	for _, c := range []struct {
		n    int
		want float64
	}{{100000, 3.8115}, {1000, 2.4633}} {
		for _, sigma := range []float64{0.25, 0.5} {
			s := &Smoothed{Model: layers.NewSequential(layers.NewFlatten(), constantModel(4)), Sigma: sigma, Batch: 1000}
			certs, err := s.Certify(context.Background(), x, 100, c.n, 0.001)
			if err != nil {
				t.Fatal(err)
			}
			for i, ct := range certs {
				if ct.Class != 2 || ct.Count != c.n || ct.N != c.n {
					t.Errorf("n %d sample %d: %+v", c.n, i, ct)
				}
				if math.Abs(ct.Radius/sigma-c.want) > 5e-5 {
					t.Errorf("n %d sigma %g sample %d: radius %.5f sigma, want %.4f sigma", c.n, sigma, i, ct.Radius/sigma, c.want)
				}
				if math.Abs(ct.PA-math.Pow(0.001, 1/float64(c.n))) > 1e-12 {
					t.Errorf("pA %v, want alpha^(1/n)", ct.PA)
				}
			}
		}
	}
}

// TestSmoothedCoinFlip: on a classifier that is a fair coin under the
// noise, PREDICT abstains and CERTIFY abstains (pA's lower bound is below
// 1/2), for every seed tried.
func TestSmoothedCoinFlip(t *testing.T) {
	const d = 9
	x := tensor.Full[float32](0.5, 3, d)
	for seed := uint64(0); seed < 5; seed++ {
		s := &Smoothed{Model: coinModel(d), Sigma: 0.25, Seed: seed}
		pred, err := s.Predict(context.Background(), x, 1000, 0.001)
		if err != nil {
			t.Fatal(err)
		}
		certs, err := s.Certify(context.Background(), x, 100, 1000, 0.001)
		if err != nil {
			t.Fatal(err)
		}
		for i := range pred {
			if pred[i] != Abstain || certs[i].Class != Abstain || certs[i].Radius != 0 {
				t.Errorf("seed %d sample %d: Predict %d, Certify %+v, want abstentions", seed, i, pred[i], certs[i])
			}
			if c := float64(certs[i].Count) / 1000; math.Abs(c-0.5) > 0.06 {
				t.Errorf("seed %d sample %d: class frequency %.3f under noise, want about 0.5", seed, i, c)
			}
		}
	}
	// Away from the boundary PREDICT decides.
	s := &Smoothed{Model: coinModel(d), Sigma: 0.25}
	pred, err := s.Predict(context.Background(), tensor.Full[float32](0.7, 1, d), 1000, 0.001)
	if err != nil || pred[0] != 0 {
		t.Errorf("Predict %v (%v), want class 0", pred, err)
	}
}

// TestCertifyLinear: the smoothed version of a linear classifier is the
// classifier itself, with pA = Phi(D/sigma) for D the distance to its
// boundary; the certified radius is at most D (with probability 1 - alpha)
// and, with n = 20,000, close to it.
func TestCertifyLinear(t *testing.T) {
	const d = 8
	rng := tensor.NewRNG(3)
	m, w, b := testmodels.RandomLinear(rng, d, 2)
	x := tensor.Uniform[float32](rng, 0.2, 0.8, 12, d)
	z := testmodels.Logits(w, b, x.Data(), d, 2)
	var nw float64
	for p := 0; p < d; p++ {
		v := float64(w[p]) - float64(w[d+p])
		nw += v * v
	}
	nw = math.Sqrt(nw)
	const sigma = 0.2
	s := &Smoothed{Model: m, Sigma: sigma, Seed: 4}
	certs, err := s.Certify(context.Background(), x, 200, 20000, 0.001)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for i, ct := range certs {
		dist := math.Abs(z[i][0]-z[i][1]) / nw
		pA := distuv.UnitNormal.CDF(dist / sigma)
		if pA > 0.9999 || dist < 0.05*sigma {
			continue // too close to 0.5 or to 1 for a tight check
		}
		checked++
		if ct.Class != batch.ArgMax(z[i]) {
			t.Errorf("sample %d: certified class %d, the classifier's %d", i, ct.Class, batch.ArgMax(z[i]))
			continue
		}
		if ct.Radius > dist {
			t.Errorf("sample %d: certified radius %.4f beyond the true distance %.4f", i, ct.Radius, dist)
		}
		if ct.Radius < dist-0.15*sigma {
			t.Errorf("sample %d: certified radius %.4f, true distance %.4f", i, ct.Radius, dist)
		}
	}
	if checked < 6 {
		t.Fatalf("only %d samples checked", checked)
	}
	// A batch equals its rows alone, and the seed repeats the run.
	for _, i := range []int{0, 5, 11} {
		one, err := s.Certify(context.Background(), x.Narrow0(i, 1), 200, 20000, 0.001)
		if err != nil {
			t.Fatal(err)
		}
		if one[0] != certs[i] {
			t.Errorf("row %d alone: %+v, in the batch %+v", i, one[0], certs[i])
		}
	}
}

func TestClopperPearsonLower(t *testing.T) {
	const alpha = 0.001
	for _, n := range []int{1, 10, 1000} {
		if v := ClopperPearsonLower(0, n, alpha); v != 0 {
			t.Errorf("k=0 n=%d: %v", n, v)
		}
		if v, want := ClopperPearsonLower(n, n, alpha), math.Pow(alpha, 1/float64(n)); math.Abs(v-want) > 1e-12 {
			t.Errorf("k=n=%d: %v, want %v", n, v, want)
		}
		if n > 1 {
			// Beta(1, n) has CDF 1 - (1-x)^n.
			if v, want := ClopperPearsonLower(1, n, alpha), 1-math.Pow(1-alpha, 1/float64(n)); math.Abs(v-want) > 1e-9*want {
				t.Errorf("k=1 n=%d: %v, want %v", n, v, want)
			}
		}
	}
	// The bound is a Beta quantile: P(Bin(n, p) >= k) = alpha at p = bound.
	for _, c := range [][2]int{{5, 10}, {70, 100}, {990, 1000}} {
		k, n := c[0], c[1]
		p := ClopperPearsonLower(k, n, alpha)
		tail := 0.0
		for j := k; j <= n; j++ {
			tail += distuv.Binomial{N: float64(n), P: p}.Prob(float64(j))
		}
		if math.Abs(tail-alpha) > 1e-6 {
			t.Errorf("k=%d n=%d: bound %v gives tail %v, want %v", k, n, p, tail, alpha)
		}
	}
}

func TestBinomialTestPValue(t *testing.T) {
	direct := func(k, n int) float64 {
		b := distuv.Binomial{N: float64(n), P: 0.5}
		pk := b.Prob(float64(k))
		var s float64
		for j := 0; j <= n; j++ {
			if pj := b.Prob(float64(j)); pj <= pk*(1+1e-7) {
				s += pj
			}
		}
		return math.Min(s, 1)
	}
	for _, c := range [][2]int{{10, 10}, {0, 10}, {7, 10}, {3, 10}, {5, 10}, {60, 100}, {530, 1000}, {0, 0}} {
		k, n := c[0], c[1]
		want := 1.0
		if n > 0 {
			want = direct(k, n)
		}
		if got := BinomialTestPValue(k, n); math.Abs(got-want) > 1e-9 {
			t.Errorf("k=%d n=%d: p-value %v, want %v", k, n, got, want)
		}
	}
}

func TestSmoothedErrors(t *testing.T) {
	x := tensor.Full[float32](0.5, 1, 4)
	m := constantModel(4)
	ctx := context.Background()
	for _, c := range []struct {
		name string
		s    *Smoothed
		x    *tensor.Tensor
		n    int
		a    float64
	}{
		{"nil model", &Smoothed{Sigma: 1}, x, 10, 0.01},
		{"sigma 0", &Smoothed{Model: m}, x, 10, 0.01},
		{"alpha 0", &Smoothed{Model: m, Sigma: 1}, x, 10, 0},
		{"n 0", &Smoothed{Model: m, Sigma: 1}, x, 0, 0.01},
		{"NaN input", &Smoothed{Model: m, Sigma: 1}, tensor.Full[float32](float32(math.NaN()), 1, 4), 10, 0.01},
		{"not a batch", &Smoothed{Model: m, Sigma: 1}, tensor.Full[float32](0.5, 4), 10, 0.01},
	} {
		if _, err := c.s.Certify(ctx, c.x, 1, c.n, c.a); err == nil {
			t.Errorf("%s: Certify accepted", c.name)
		}
		if _, err := c.s.Predict(ctx, c.x, c.n, c.a); err == nil {
			t.Errorf("%s: Predict accepted", c.name)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := (&Smoothed{Model: m, Sigma: 1}).Certify(cctx, x, 1, 10, 0.01); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Certify: %v", err)
	}
}
