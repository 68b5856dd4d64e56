package robustness

import (
	"context"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mathext"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/adversarial/attacks"
	"github.com/fastgo-ml/fastgo/adversarial/internal/batch"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Abstain is the class Smoothed returns when it declines to decide.
const Abstain = -1

// Smoothed is the smoothed classifier of Cohen, Rosenfeld and Kolter
// ("Certified Adversarial Robustness via Randomized Smoothing", 2019) over
// a base classifier Model: g(x) is the class the model most likely
// predicts for x + N(0, Sigma^2 I). If g's top class has probability at
// least pA > 1/2, g is constant on the L2 ball of radius Sigma *
// PhiInv(pA) around x. Certify and Predict estimate g by Monte Carlo, with
// the guarantees of the paper: Certify's class and radius are wrong with
// probability at most alpha, and Predict returns a class other than g(x)
// with probability at most alpha, abstaining otherwise.
//
// The model runs in attack mode (eval, frozen, no graph). Noise is drawn in
// batches of Batch samples, from a stream per input seeded by Seed and the
// input's pixels (see SampleSeed), so a batch of inputs gives what each
// input alone gives, and a seed repeats a run.
type Smoothed struct {
	// Model is the base classifier, mapping [N, ...] pixels to [N, C] scores.
	Model layers.Module
	// Sigma is the noise's standard deviation in pixels (> 0).
	Sigma float64
	// Batch is the number of noisy copies per forward pass (0: 256).
	Batch int
	// Seed seeds the noise.
	Seed uint64
}

// Certificate is Certify's answer for one input.
type Certificate struct {
	// Class is the certified class, or Abstain.
	Class int
	// Radius is the certified L2 radius, Sigma * PhiInv(PA) (0 when
	// abstaining).
	Radius float64
	// PA is the (1 - alpha) lower confidence bound on the probability of
	// Class under noise.
	PA float64
	// Count is the number of the n estimation samples classified as the
	// selected class, and N is n.
	Count, N int
}

// Certify runs CERTIFY of Cohen et al. on each input of the batch x [N,
// ...]: it selects the top class cA from n0 noisy copies, counts, in n
// fresh copies, those classified cA, and lower-bounds pA with the
// one-sided (1 - alpha) Clopper-Pearson bound. If the bound is below 1/2 it
// abstains; otherwise it certifies cA within L2 radius Sigma *
// PhiInv(pA). A constant base classifier gets pA = alpha^(1/n) and radius
// 3.8115 Sigma for n = 100,000 and alpha = 0.001 (2.4633 Sigma for n =
// 1,000). It returns ctx's error soon after ctx is cancelled.
func (s *Smoothed) Certify(ctx context.Context, x *tensor.Tensor, n0, n int, alpha float64) ([]Certificate, error) {
	if err := s.check("Certify", x, alpha); err != nil {
		return nil, err
	}
	if n0 < 1 || n < 1 {
		return nil, fmt.Errorf("robustness.Smoothed.Certify: n0 = %d and n = %d must be >= 1", n0, n)
	}
	out := make([]Certificate, x.Dim(0))
	err := s.each(ctx, x, func(i int, sample func(k int) ([]int, error)) error {
		c0, err := sample(n0)
		if err != nil {
			return err
		}
		cA := batch.ArgMax(c0)
		c, err := sample(n)
		if err != nil {
			return err
		}
		pA := ClopperPearsonLower(c[cA], n, alpha)
		out[i] = Certificate{Class: Abstain, PA: pA, Count: c[cA], N: n}
		if pA >= 0.5 {
			out[i].Class = cA
			out[i].Radius = s.Sigma * distuv.UnitNormal.Quantile(pA)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Predict runs PREDICT of Cohen et al. on each input of the batch x: it
// classifies n noisy copies, and returns the most frequent class if a
// two-sided binomial test rejects, at level alpha, that the two most
// frequent classes are equally likely (counts nA > nB, p-value of nA
// successes in nA + nB trials with p = 1/2); otherwise it abstains. The
// returned class differs from the smoothed classifier's with probability at
// most alpha.
func (s *Smoothed) Predict(ctx context.Context, x *tensor.Tensor, n int, alpha float64) ([]int, error) {
	if err := s.check("Predict", x, alpha); err != nil {
		return nil, err
	}
	if n < 1 {
		return nil, fmt.Errorf("robustness.Smoothed.Predict: n = %d must be >= 1", n)
	}
	out := make([]int, x.Dim(0))
	err := s.each(ctx, x, func(i int, sample func(k int) ([]int, error)) error {
		c, err := sample(n)
		if err != nil {
			return err
		}
		order := make([]int, len(c))
		for j := range order {
			order[j] = j
		}
		slices.SortStableFunc(order, func(a, b int) int { return c[b] - c[a] })
		nA, nB := c[order[0]], c[order[1]]
		out[i] = Abstain
		if BinomialTestPValue(nA, nA+nB) <= alpha {
			out[i] = order[0]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Smoothed) check(op string, x *tensor.Tensor, alpha float64) error {
	if s.Model == nil {
		return fmt.Errorf("robustness.Smoothed.%s: nil model", op)
	}
	if !(s.Sigma > 0) || math.IsInf(s.Sigma, 0) {
		return fmt.Errorf("robustness.Smoothed.%s: Sigma %v must be finite and > 0", op, s.Sigma)
	}
	if !(alpha > 0 && alpha < 1) {
		return fmt.Errorf("robustness.Smoothed.%s: alpha %v must be in (0, 1)", op, alpha)
	}
	if x == nil || x.Rank() < 2 || x.Dim(0) == 0 || x.Len() == 0 {
		var sh []int
		if x != nil {
			sh = x.Shape()
		}
		return fmt.Errorf("robustness.Smoothed.%s: input of shape %v is not a non-empty batch [N, ...]", op, sh)
	}
	for j, v := range x.Data() {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			d := x.Len() / x.Dim(0)
			return fmt.Errorf("robustness.Smoothed.%s: input sample %d holds %v at offset %d", op, j/d, v, j%d)
		}
	}
	return nil
}

// each calls f for each input i of x with a sampler that classifies k
// fresh noisy copies of it and returns the counts per class. The model is
// in attack mode for the whole call.
func (s *Smoothed) each(ctx context.Context, x *tensor.Tensor, f func(i int, sample func(k int) ([]int, error)) error) error {
	n := x.Dim(0)
	d := x.Len() / n
	batch := batch.OrDefault(s.Batch, 256)
	return attacks.WithAttackMode(s.Model, func(m *attacks.Model) error {
		for i := 0; i < n; i++ {
			xi := x.Data()[i*d : (i+1)*d]
			rng := tensor.NewRNG(attacks.SampleSeed(s.Seed, xi))
			var counts []int
			sample := func(k int) ([]int, error) {
				clear(counts)
				for done := 0; done < k; {
					if err := ctx.Err(); err != nil {
						return nil, err
					}
					b := min(batch, k-done)
					shape := append([]int{b}, x.Shape()[1:]...)
					noisy := tensor.New[float32](shape...)
					nd := noisy.Data()
					for r := 0; r < b; r++ {
						row := nd[r*d : (r+1)*d]
						for j, v := range xi {
							row[j] = v + float32(s.Sigma*rng.NormFloat64())
						}
					}
					out, err := m.Outputs(noisy)
					if err != nil {
						return nil, err
					}
					if counts == nil {
						counts = make([]int, out.Dim(1))
					}
					for _, p := range attacks.Predictions(out) {
						if p >= 0 {
							counts[p]++
						}
					}
					done += b
				}
				return slices.Clone(counts), nil
			}
			if err := f(i, sample); err != nil {
				return err
			}
		}
		return nil
	})
}

// ClopperPearsonLower returns the one-sided (1 - alpha) Clopper-Pearson
// lower confidence bound on a binomial proportion from k successes in n
// trials: the alpha quantile of Beta(k, n - k + 1), 0 for k = 0 (Cohen et
// al.'s proportion_confint(k, n, alpha=2*alpha, method="beta")[0]). For k =
// n it is alpha^(1/n).
func ClopperPearsonLower(k, n int, alpha float64) float64 {
	if k < 0 || k > n || n < 1 {
		panic(fastgo.Errorf("robustness.ClopperPearsonLower: %d successes in %d trials", k, n))
	}
	if k == 0 {
		return 0
	}
	if k == n {
		return math.Pow(alpha, 1/float64(n)) // Beta(n, 1) has CDF x^n
	}
	return distuv.Beta{Alpha: float64(k), Beta: float64(n - k + 1)}.Quantile(alpha)
}

// BinomialTestPValue returns the two-sided p-value of k successes in n
// trials under p = 1/2 (scipy's binom_test(k, n, 0.5)): the probability of
// an outcome at most as likely as k, 2 P(X >= max(k, n-k)) capped at 1,
// and 1 when k = n/2. n = 0 gives 1.
func BinomialTestPValue(k, n int) float64 {
	if k < 0 || k > n {
		panic(fastgo.Errorf("robustness.BinomialTestPValue: %d successes in %d trials", k, n))
	}
	if n == 0 || 2*k == n {
		return 1
	}
	hi := max(k, n-k)
	// P(X >= hi) for X ~ Bin(n, 1/2) is the regularised incomplete beta
	// I_{1/2}(hi, n - hi + 1).
	return math.Min(1, 2*mathext.RegIncBeta(float64(hi), float64(n-hi+1), 0.5))
}
