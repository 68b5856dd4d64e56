package attacks

import (
	"context"
	"math"
	"testing"

	"github.com/fastgo-ml/fastgo/adversarial/internal/testmodels"
	"github.com/fastgo-ml/fastgo/tensor"
)

// TestFABProjectClosedForm: with the box far away, the projection onto a
// hyperplane has a closed form in each norm: r w/||w||_2^2 (L2), r
// sign(w)/||w||_1 (Linf) and r/w_j on the coordinate of largest |w_j| (L1),
// r = b - w.t.
func TestFABProjectClosedForm(t *testing.T) {
	rng := tensor.NewRNG(3)
	const dim = 12
	var sc fabScratch
	for trial := 0; trial < 20; trial++ {
		pt := tensor.Uniform[float32](rng, 0.45, 0.55, dim).Data()
		w := make([]float64, dim)
		var wt, l1, l2, mx float64
		jmax := 0
		for j := range w {
			w[j] = 2*rng.Float64() - 1
			wt += w[j] * float64(pt[j])
			l1 += math.Abs(w[j])
			l2 += w[j] * w[j]
			if math.Abs(w[j]) > mx {
				mx, jmax = math.Abs(w[j]), j
			}
		}
		r := 0.02 * (2*rng.Float64() - 1)
		b := wt + r
		d := make([]float64, dim)
		for _, n := range []Norm{Linf, L2, L1} {
			fabProject(n, pt, w, b, 0, 1, d, &sc)
			for j := range d {
				var want float64
				switch n {
				case L2:
					want = r * w[j] / l2
				case Linf:
					want = r * math.Copysign(1, w[j]) / l1
				case L1:
					if j == jmax {
						want = r / w[j]
					}
				}
				if math.Abs(d[j]-want) > 1e-12 {
					t.Fatalf("trial %d %v: d[%d] = %v, closed form %v", trial, n, j, d[j], want)
				}
			}
		}
	}
}

// TestFABProjectOptimal: with the box active, the projection is on the
// hyperplane, inside the box, and no point of the intersection is closer
// (checked against random points of it: each a convex combination of two
// box points on either side of the hyperplane); when the hyperplane misses
// the box, the result is the box's nearest corner in w's direction.
func TestFABProjectOptimal(t *testing.T) {
	rng := tensor.NewRNG(5)
	const dim = 5
	var sc fabScratch
	d := make([]float64, dim)
	z := make([]float64, dim)
	z1 := make([]float64, dim)
	z2 := make([]float64, dim)
	dot := func(a []float64, b []float64) float64 {
		var s float64
		for j := range a {
			s += a[j] * b[j]
		}
		return s
	}
	for trial := 0; trial < 200; trial++ {
		pt := tensor.Uniform[float32](rng, 0, 1, dim).Data()
		tv := make([]float64, dim)
		w := make([]float64, dim)
		for j := range w {
			tv[j] = float64(pt[j])
			w[j] = 2*rng.Float64() - 1
		}
		if trial%7 == 0 {
			w[trial%dim] = 0
		}
		// b between the extremes of w.z over the box, so the hyperplane
		// crosses it, and far from the point so that the box binds.
		var wmin, wmax float64
		for j := range w {
			wmin += math.Min(0, w[j])
			wmax += math.Max(0, w[j])
		}
		b := wmin + (wmax-wmin)*rng.Float64()
		for _, n := range []Norm{Linf, L2, L1} {
			fabProject(n, pt, w, b, 0, 1, d, &sc)
			for j := range d {
				z[j] = tv[j] + d[j]
				if z[j] < -1e-12 || z[j] > 1+1e-12 {
					t.Fatalf("trial %d %v: coordinate %d at %v, outside the box", trial, n, j, z[j])
				}
			}
			if got := dot(w, z); math.Abs(got-b) > 1e-9 {
				t.Fatalf("trial %d %v: w.z = %v, want %v", trial, n, got, b)
			}
			best := normOf(n, d)
			for k := 0; k < 300; k++ {
				for j := range z1 {
					z1[j], z2[j] = rng.Float64(), rng.Float64()
				}
				v1, v2 := dot(w, z1)-b, dot(w, z2)-b
				if v1*v2 >= 0 {
					continue
				}
				th := v1 / (v1 - v2)
				for j := range z {
					z[j] = z1[j] + th*(z2[j]-z1[j]) - tv[j]
				}
				if nz := normOf(n, z); nz < best-1e-9 {
					t.Fatalf("trial %d %v: projection at distance %v, a point of the intersection at %v", trial, n, best, nz)
				}
			}
		}
		// A hyperplane beyond the box: every coordinate moves to the face.
		fabProject(L2, pt, w, wmax+1, 0, 1, d, &sc)
		for j := range d {
			want := 0.0
			switch {
			case w[j] > 0:
				want = 1 - tv[j]
			case w[j] < 0:
				want = -tv[j]
			}
			if math.Abs(d[j]-want) > 1e-12 {
				t.Fatalf("trial %d: out-of-box hyperplane, d[%d] = %v, want %v", trial, j, d[j], want)
			}
		}
	}
}

// TestFABLinearClosedForm: on a two-class affine model the smallest
// perturbation that flips the class, while the box does not bind, is |z_1 -
// z_0| / ||w_1 - w_0||_q (q the dual norm). FAB with its final bisection
// finds it within 1e-3 relative, in every norm; without it (AutoAttack's
// FAB) it settles within 1.2% above it, where the overshoot Eta and the
// pull-back Beta balance (about 0.5% above for 1.05 and 0.9).
func TestFABLinearClosedForm(t *testing.T) {
	const d, k = 30, 2
	rng := tensor.NewRNG(41)
	m, w, b := testmodels.RandomLinear(rng, d, k)
	x := tensor.Uniform[float32](rng, 0.4, 0.6, 16, d)
	dw := make([]float64, d)
	var dw2 float64
	for p := range dw {
		dw[p] = float64(w[d+p]) - float64(w[p])
		dw2 += dw[p] * dw[p]
	}
	// Move each sample along w_1 - w_0 to a margin z_1 - z_0 of +-[0.01,
	// 0.1], so that the L1 optimum (one coordinate) stays inside the box.
	z := testmodels.Logits(w, b, x.Data(), d, k)
	for i := range z {
		target := (0.01 + 0.09*rng.Float64()) * float64(1-2*(i%2))
		shift := (target - (z[i][1] - z[i][0])) / dw2
		for p := 0; p < d; p++ {
			x.Data()[i*d+p] += float32(shift * dw[p])
		}
	}
	z = testmodels.Logits(w, b, x.Data(), d, k)
	labels := testmodels.Classes(z)
	for _, norm := range []Norm{Linf, L2, L1} {
		for _, search := range []int{0, 30} {
			a := FAB{Steps: 100, SearchSteps: search}
			r, err := Run(context.Background(), a, m, x, Untargeted(labels), ThreatModel{Norm: norm, Eps: math.Inf(1)})
			if err != nil {
				t.Fatal(err)
			}
			checked := 0
			for i := range labels {
				dist := math.Abs(z[i][1]-z[i][0]) / dualNorm(norm, dw)
				if norm == L1 && dist > 0.35 {
					continue // the single coordinate would leave the box
				}
				checked++
				if !r.Success[i] {
					t.Errorf("%v search %d sample %d: not adversarial", norm, search, i)
					continue
				}
				ratio := r.Norms[i] / dist
				if search > 0 && math.Abs(ratio-1) > 1e-3 {
					t.Errorf("%v with search, sample %d: norm %.6f, closed form %.6f (ratio %.5f)", norm, i, r.Norms[i], dist, ratio)
				}
				if search == 0 && (ratio < 1-1e-4 || ratio > 1.012) {
					t.Errorf("%v, sample %d: norm %.6f, closed form %.6f (ratio %.5f)", norm, i, r.Norms[i], dist, ratio)
				}
				if i == 0 {
					t.Logf("%v search %d: ratio %.6f", norm, search, ratio)
				}
			}
			if checked < 8 {
				t.Fatalf("%v: only %d samples checked", norm, checked)
			}
		}
	}
}

// TestFABTLinear: FAB-T toward the runner-up class on a two-class affine
// model is FAB (one boundary), and with several classes FAB-T over all
// targets finds an adversarial for every sample, never closer than the
// nearest boundary allows.
func TestFABTLinear(t *testing.T) {
	const d, k = 20, 5
	rng := tensor.NewRNG(43)
	m, w, b := testmodels.RandomLinear(rng, d, k)
	x := tensor.Uniform[float32](rng, 0.4, 0.6, 12, d)
	z := testmodels.Logits(w, b, x.Data(), d, k)
	labels := testmodels.Classes(z)
	for _, norm := range []Norm{Linf, L2, L1} {
		r, err := Run(context.Background(), FABT{Steps: 60, Targets: k - 1, SearchSteps: 20}, m, x, Untargeted(labels), ThreatModel{Norm: norm, Eps: math.Inf(1)})
		if err != nil {
			t.Fatal(err)
		}
		for i, y := range labels {
			best := math.Inf(1)
			for j := 0; j < k; j++ {
				if j == y {
					continue
				}
				dw := make([]float64, d)
				for p := range dw {
					dw[p] = float64(w[j*d+p]) - float64(w[y*d+p])
				}
				best = math.Min(best, (z[i][y]-z[i][j])/dualNorm(norm, dw))
			}
			if !r.Success[i] {
				t.Errorf("%v sample %d: FAB-T found no adversarial", norm, i)
				continue
			}
			if r.Norms[i] < best*(1-1e-4) {
				t.Errorf("%v sample %d: norm %.6f below the nearest boundary %.6f", norm, i, r.Norms[i], best)
			}
			if norm != L1 && r.Norms[i] > best*(1+1e-3) {
				t.Errorf("%v sample %d: norm %.6f, nearest boundary %.6f", norm, i, r.Norms[i], best)
			}
		}
	}
}

// TestFABBoundedEps: called with a finite eps, FAB returns the input for
// samples whose smallest adversarial is farther, and its point otherwise.
func TestFABBoundedEps(t *testing.T) {
	const d, k = 10, 2
	rng := tensor.NewRNG(47)
	m, w, b := testmodels.RandomLinear(rng, d, k)
	x := tensor.Uniform[float32](rng, 0.4, 0.6, 10, d)
	z := testmodels.Logits(w, b, x.Data(), d, k)
	labels := testmodels.Classes(z)
	var l2 float64
	for p := 0; p < d; p++ {
		v := float64(w[d+p]) - float64(w[p])
		l2 += v * v
	}
	l2 = math.Sqrt(l2)
	const eps = 0.05
	err := WithAttackMode(m, func(mm *Model) error {
		adv, err := FAB{SearchSteps: 20}.Perturb(context.Background(), mm, x.Clone(), Untargeted(labels), ThreatModel{Norm: L2, Eps: eps})
		if err != nil {
			return err
		}
		nrm := ThreatModel{Norm: L2}.Norms(x, adv)
		far, near := 0, 0
		for i := range labels {
			dist := math.Abs(z[i][1]-z[i][0]) / l2
			switch {
			case dist > eps*1.01:
				far++
				if nrm[i] != 0 {
					t.Errorf("sample %d at distance %.4f > eps: moved by %.4f", i, dist, nrm[i])
				}
			case dist < eps*0.99:
				near++
				if nrm[i] == 0 || nrm[i] > eps {
					t.Errorf("sample %d at distance %.4f < eps: moved by %.4f", i, dist, nrm[i])
				}
			}
		}
		if far == 0 || near == 0 {
			t.Fatalf("the data set has %d far and %d near samples; want both", far, near)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestFABRejectsBadSettings(t *testing.T) {
	m := testmodels.NewTinyCNN(2)
	x := testmodels.Images(2, 1)
	for _, a := range []Attack{FAB{Beta: 2}, FAB{Eta: -1}, FAB{Eps: math.NaN()}, FAB{AlphaMax: 1.5}, FABT{Targets: -1}} {
		if _, err := Run(context.Background(), a, m, x, Untargeted{0, 1}, ThreatModel{Norm: L2, Eps: 1}); err == nil {
			t.Errorf("%+v accepted", a)
		}
	}
}

// TestFABRestartRule: with Eps set (AutoAttack's rule) a sample fooled
// within Eps gets no further target or restart, so FAB-T does less work;
// with Eps unset every run covers every sample, and since a sample's runs
// do not depend on the others, each of its norms is at most the one found
// with the rule.
func TestFABRestartRule(t *testing.T) {
	m := testmodels.NewSmallNet(3, testmodels.SynthClasses)
	x := testmodels.Images(12, 5)
	y := testmodels.Predict(m, x)
	for _, norm := range []Norm{Linf, L2} {
		eps := map[Norm]float64{Linf: 0.03, L2: 0.3}[norm]
		run := func(a Attack) ([]float64, int) {
			var nrm []float64
			var grads int
			err := WithAttackMode(m, func(mm *Model) error {
				adv, err := a.Perturb(context.Background(), mm, x.Clone(), Untargeted(y), ThreatModel{Norm: norm, Eps: math.Inf(1)})
				if err != nil {
					return err
				}
				out, err := mm.Outputs(adv)
				if err != nil {
					return err
				}
				nrm = ThreatModel{Norm: norm}.Norms(x, adv)
				for i, ok := range Untargeted(y).IsAdversarial(out) {
					if !ok {
						nrm[i] = math.Inf(1)
					}
				}
				grads = mm.Gradients()
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			return nrm, grads
		}
		all, gAll := run(FABT{Steps: 8, Targets: 4, Restarts: 2, Seed: 1})
		rule, gRule := run(FABT{Steps: 8, Targets: 4, Restarts: 2, Eps: eps, Seed: 1})
		within := 0
		for i := range all {
			if all[i] > rule[i] {
				t.Errorf("%v sample %d: norm %v without the rule, %v with it", norm, i, all[i], rule[i])
			}
			if rule[i] <= eps {
				within++
			}
		}
		t.Logf("%v: %d of %d within eps %v; gradient passes %d with the rule, %d without", norm, within, len(y), eps, gRule, gAll)
		if within == 0 || gRule >= gAll {
			t.Errorf("%v: the rule did not save work (%d fooled within eps, %d and %d passes)", norm, within, gRule, gAll)
		}
	}
}

// TestFABProjectExact compares the optimal norms of fabProject with
// solutions computed another way, with the box active: for L1, a
// brute force over the vertices of the problem (every coordinate at 0 or
// at a face of the box, but one, solved from the hyperplane's equation);
// for Linf, a bisection on lambda of the largest progress toward the
// hyperplane within the cube of radius lambda and the box; for L2 the
// same bisection on mu of the KKT point d_j = clip(mu w_j) (any optimum
// has that form).
func TestFABProjectExact(t *testing.T) {
	rng := tensor.NewRNG(9)
	const dim = 5
	var sc fabScratch
	d := make([]float64, dim)
	for trial := 0; trial < 300; trial++ {
		pt := tensor.Uniform[float32](rng, 0, 1, dim).Data()
		w := make([]float64, dim)
		var wt, wmin, wmax float64
		for j := range w {
			w[j] = 2*rng.Float64() - 1
			wt += w[j] * float64(pt[j])
			wmin += math.Min(0, w[j])
			wmax += math.Max(0, w[j])
		}
		b := wmin + (wmax-wmin)*rng.Float64()
		r := b - wt
		lo := make([]float64, dim)
		hi := make([]float64, dim)
		for j := range lo {
			lo[j], hi[j] = -float64(pt[j]), 1-float64(pt[j])
		}
		// L1: brute force over the vertices.
		best := math.Inf(1)
		for free := 0; free < dim; free++ {
			for code := 0; code < pow3(dim-1); code++ {
				var sum, l1 float64
				c := code
				for j := 0; j < dim; j++ {
					if j == free {
						continue
					}
					v := []float64{0, lo[j], hi[j]}[c%3]
					c /= 3
					sum += w[j] * v
					l1 += math.Abs(v)
				}
				if w[free] == 0 {
					continue
				}
				v := (r - sum) / w[free]
				if v < lo[free]-1e-12 || v > hi[free]+1e-12 {
					continue
				}
				best = math.Min(best, l1+math.Abs(v))
			}
		}
		fabProject(L1, pt, w, b, 0, 1, d, &sc)
		if got := normOf(L1, d); math.Abs(got-best) > 1e-9 {
			t.Fatalf("trial %d L1: norm %v, brute force %v", trial, got, best)
		}
		// Linf and L2: bisection on the parameter of the optimum's form.
		progress := func(n Norm, p float64) float64 {
			var s float64
			for j := range w {
				var v float64
				if n == Linf {
					v = math.Copysign(p, w[j]*r)
				} else {
					v = p * w[j] * math.Copysign(1, r)
				}
				s += w[j] * math.Min(math.Max(v, lo[j]), hi[j])
			}
			return math.Abs(s)
		}
		for _, n := range []Norm{Linf, L2} {
			a, z := 0.0, 1e6
			for it := 0; it < 200; it++ {
				mid := (a + z) / 2
				if progress(n, mid) >= math.Abs(r) {
					z = mid
				} else {
					a = mid
				}
			}
			want := make([]float64, dim)
			for j := range w {
				var v float64
				if n == Linf {
					v = math.Copysign(z, w[j]*r)
				} else {
					v = z * w[j] * math.Copysign(1, r)
				}
				want[j] = math.Min(math.Max(v, lo[j]), hi[j])
			}
			fabProject(n, pt, w, b, 0, 1, d, &sc)
			if got, exp := normOf(n, d), normOf(n, want); math.Abs(got-exp) > 1e-9 {
				t.Fatalf("trial %d %v: norm %v, bisection %v", trial, n, got, exp)
			}
		}
	}
}

func pow3(k int) int {
	p := 1
	for ; k > 0; k-- {
		p *= 3
	}
	return p
}
