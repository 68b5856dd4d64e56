package attacks

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/fastgo-ml/fastgo/tensor"
)

var norms = []Norm{Linf, L2, L1}

// refProject is an independent reference for Project: bisection on the
// Lagrange multiplier of the ball constraint, in float64.
func refProject(norm Norm, eps, lo, hi float64, x0, y []float64) []float64 {
	n := len(y)
	at := func(lam float64) []float64 {
		out := make([]float64, n)
		for j := range y {
			d := y[j] - x0[j]
			switch norm {
			case L2:
				d /= 1 + lam
			case L1:
				d = math.Copysign(math.Max(math.Abs(d)-lam, 0), d)
			case Linf:
				d = math.Max(-eps, math.Min(eps, d))
			}
			out[j] = math.Max(lo, math.Min(hi, x0[j]+d))
		}
		return out
	}
	dist := func(v []float64) float64 {
		var s float64
		for j := range v {
			d := math.Abs(v[j] - x0[j])
			switch norm {
			case Linf:
				s = math.Max(s, d)
			case L2:
				s += d * d
			case L1:
				s += d
			}
		}
		if norm == L2 {
			s = math.Sqrt(s)
		}
		return s
	}
	if norm == Linf || dist(at(0)) <= eps {
		return at(0)
	}
	a, b := 0.0, 1.0
	for dist(at(b)) > eps {
		b *= 2
	}
	for k := 0; k < 200; k++ {
		m := (a + b) / 2
		if dist(at(m)) > eps {
			a = m
		} else {
			b = m
		}
	}
	return at(b)
}

func TestProjectExact(t *testing.T) {
	for _, norm := range norms {
		for _, eps := range []float64{0, 0.05, 0.3, 1, 4} {
			t.Run(fmt.Sprintf("%v/eps=%g", norm, eps), func(t *testing.T) {
				rng := tensor.NewRNG(uint64(7 + int(norm)))
				const n, d = 6, 37
				x0 := tensor.Uniform[float32](rng, 0, 1, n, d)
				// Pin some of x0 to the bounds, where the box binds.
				for j := 0; j < n*d; j += 5 {
					x0.Data()[j] = float32(j % 2)
				}
				y := tensor.Uniform[float32](rng, -0.8, 1.8, n, d)
				y.Data()[0] = x0.Data()[0] // a zero coordinate of the perturbation
				tm := ThreatModel{Norm: norm, Eps: eps}
				got := y.Clone()
				tm.Project(x0, got)
				nrm := tm.Norms(x0, got)
				for i := 0; i < n; i++ {
					if nrm[i] > eps {
						t.Errorf("sample %d: norm %.9g > eps %g", i, nrm[i], eps)
					}
					a64 := make([]float64, d)
					y64 := make([]float64, d)
					for j := 0; j < d; j++ {
						a64[j] = float64(x0.Data()[i*d+j])
						y64[j] = float64(y.Data()[i*d+j])
					}
					want := refProject(norm, eps, 0, 1, a64, y64)
					for j := 0; j < d; j++ {
						g := got.Data()[i*d+j]
						if g < 0 || g > 1 {
							t.Fatalf("sample %d pixel %d: %v outside [0,1]", i, j, g)
						}
						if math.Abs(float64(g)-want[j]) > 2e-6 {
							t.Fatalf("sample %d pixel %d: got %.8f, reference %.8f", i, j, g, want[j])
						}
					}
				}
			})
		}
	}
}

// TestProjectNearest checks optimality directly: no random feasible point is
// closer to y than its projection.
func TestProjectNearest(t *testing.T) {
	for _, norm := range norms {
		t.Run(norm.String(), func(t *testing.T) {
			rng := tensor.NewRNG(11)
			const d = 9
			tm := ThreatModel{Norm: norm, Eps: 0.4}
			x0 := tensor.Uniform[float32](rng, 0, 1, 1, d)
			y := tensor.Uniform[float32](rng, -1, 2, 1, d)
			p := y.Clone()
			tm.Project(x0, p)
			dist := L2.Distance(y.Data(), p.Data())
			rngs := []*tensor.RNG{tensor.NewRNG(3)}
			for k := 0; k < 2000; k++ {
				z := tm.RandomStart(x0, rngs)
				if dz := L2.Distance(y.Data(), z.Data()); dz < dist-1e-6 {
					t.Fatalf("feasible point at %.6f beats the projection at %.6f", dz, dist)
				}
			}
		})
	}
}

// duchi is Duchi et al.'s sort-based projection of v onto the L1 ball.
func duchi(v []float64, eps float64) []float64 {
	u := make([]float64, len(v))
	var s float64
	for i, x := range v {
		u[i] = math.Abs(x)
		s += u[i]
	}
	if s <= eps {
		return slices.Clone(v)
	}
	slices.Sort(u)
	slices.Reverse(u)
	var cum, theta float64
	for k, x := range u {
		cum += x
		if th := (cum - eps) / float64(k+1); x > th {
			theta = th
		}
	}
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = math.Copysign(math.Max(math.Abs(x)-theta, 0), x)
	}
	return out
}

func TestProjectThenClip(t *testing.T) {
	rng := tensor.NewRNG(5)
	const d = 50
	x0 := tensor.Uniform[float32](rng, 0.3, 0.7, 1, d)
	y := tensor.Uniform[float32](rng, 0.2, 0.8, 1, d)
	t.Run("L1 is Duchi then clip", func(t *testing.T) {
		tm := ThreatModel{Norm: L1, Eps: 0.5}
		got := y.Clone()
		tm.ProjectThenClip(x0, got)
		v := make([]float64, d)
		for j := range v {
			v[j] = float64(y.Data()[j]) - float64(x0.Data()[j])
		}
		want := duchi(v, 0.5)
		for j := range want {
			if w := float64(x0.Data()[j]) + want[j]; math.Abs(float64(got.Data()[j])-w) > 1e-6 {
				t.Fatalf("pixel %d: got %v want %v", j, got.Data()[j], w)
			}
		}
	})
	t.Run("L2 rescales", func(t *testing.T) {
		tm := ThreatModel{Norm: L2, Eps: 0.1}
		got := y.Clone()
		tm.ProjectThenClip(x0, got)
		full := L2.Distance(x0.Data(), y.Data())
		for j := range got.Data() {
			w := float64(x0.Data()[j]) + (float64(y.Data()[j])-float64(x0.Data()[j]))*0.1/full
			if math.Abs(float64(got.Data()[j])-w) > 1e-6 {
				t.Fatalf("pixel %d: got %v want %v", j, got.Data()[j], w)
			}
		}
	})
	t.Run("Linf equals Project", func(t *testing.T) {
		tm := ThreatModel{Norm: Linf, Eps: 0.05}
		a, b := y.Clone(), y.Clone()
		tm.ProjectThenClip(x0, a)
		tm.Project(x0, b)
		if !slices.Equal(a.Data(), b.Data()) {
			t.Fatal("Linf ProjectThenClip differs from Project")
		}
	})
}

func TestProjectInfiniteEpsClipsOnly(t *testing.T) {
	for _, norm := range norms {
		tm := ThreatModel{Norm: norm, Eps: math.Inf(1)}
		x0 := tensor.FromSlice([]float32{0.5, 0.5, 0.5}, 1, 3)
		x := tensor.FromSlice([]float32{-3, 0.25, 9}, 1, 3)
		tm.Project(x0, x)
		if !slices.Equal(x.Data(), []float32{0, 0.25, 1}) {
			t.Errorf("%v: got %v", norm, x.Data())
		}
	}
}

func TestNorms(t *testing.T) {
	x0 := tensor.FromSlice([]float32{0, 0, 0, 0, 1, 1, 1, 1}, 2, 4)
	x := tensor.FromSlice([]float32{0.5, -0.25, 0, 0.1, 1, 1, 1, 0.75}, 2, 4)
	for _, c := range []struct {
		norm Norm
		want []float64
	}{
		{Linf, []float64{0.5, 0.25}},
		{L2, []float64{math.Sqrt(0.25 + 0.0625 + float64(float32(0.1))*float64(float32(0.1))), 0.25}},
		{L1, []float64{0.5 + 0.25 + float64(float32(0.1)), 0.25}},
	} {
		got := ThreatModel{Norm: c.norm}.Norms(x0, x)
		for i := range got {
			if math.Abs(got[i]-c.want[i]) > 1e-9 {
				t.Errorf("%v sample %d: got %v want %v", c.norm, i, got[i], c.want[i])
			}
		}
	}
}

func TestRandomStart(t *testing.T) {
	const n, d = 400, 64
	x0 := tensor.Full[float32](0.5, n, d)
	for _, norm := range norms {
		t.Run(norm.String(), func(t *testing.T) {
			tm := ThreatModel{Norm: norm, Eps: 0.3}
			// Identical rows: give each its own stream by seed, as SampleRNGs
			// would for distinct images.
			rngs := make([]*tensor.RNG, n)
			for i := range rngs {
				rngs[i] = tensor.NewRNG(uint64(i) + 1)
			}
			z := tm.RandomStart(x0, rngs)
			nr := tm.Norms(x0, z)
			var mean float64
			for i, v := range nr {
				if v > tm.Eps {
					t.Fatalf("sample %d at distance %v > eps", i, v)
				}
				mean += v / n
			}
			for _, v := range z.Data() {
				if v < 0 || v > 1 {
					t.Fatalf("value %v outside the box", v)
				}
			}
			// Uniform in the ball: E[radius] = eps*d/(d+1) for L2 and L1 balls
			// of dimension d (the norm's CDF is (r/eps)^d); for Linf the max of
			// d uniforms has the same mean.
			want := tm.Eps * d / (d + 1)
			if math.Abs(mean-want) > 0.01 {
				t.Errorf("mean distance %v, want about %v", mean, want)
			}
			// The perturbation is symmetric: its mean is about zero.
			var s float64
			for j, v := range z.Data() {
				s += float64(v) - float64(x0.Data()[j])
			}
			if m := s / (n * d); math.Abs(m) > 0.01*tm.Eps*5 {
				t.Errorf("mean coordinate change %v, want about 0", m)
			}
		})
	}
}

func TestThreatModelValidate(t *testing.T) {
	for _, c := range []struct {
		tm ThreatModel
		ok bool
	}{
		{ThreatModel{Norm: Linf, Eps: 0.1}, true},
		{ThreatModel{Norm: L1, Eps: math.Inf(1)}, true},
		{ThreatModel{Norm: L2, Eps: 1, Lo: -1, Hi: 1}, true},
		{ThreatModel{Norm: Linf, Eps: -0.1}, false},
		{ThreatModel{Norm: Linf, Eps: math.NaN()}, false},
		{ThreatModel{Norm: Norm(7), Eps: 0.1}, false},
		{ThreatModel{Norm: Linf, Eps: 0.1, Lo: 1, Hi: 0.5}, false},
	} {
		if err := c.tm.Validate(); (err == nil) != c.ok {
			t.Errorf("%+v: Validate = %v", c.tm, err)
		}
	}
	tm := ThreatModel{Norm: Linf, Eps: 0.1}
	for _, c := range []struct {
		name string
		x    *tensor.Tensor
	}{
		{"rank 1", tensor.Zeros(4)},
		{"empty", tensor.Zeros(0, 3)},
		{"above", tensor.FromSlice([]float32{0, 1.5}, 1, 2)},
		{"below", tensor.FromSlice([]float32{-0.01, 0}, 1, 2)},
		{"NaN", tensor.FromSlice([]float32{float32(math.NaN()), 0}, 1, 2)},
	} {
		if err := tm.CheckInput(c.x); err == nil {
			t.Errorf("%s: CheckInput accepted %v", c.name, c.x.Shape())
		}
	}
}

func FuzzProject(f *testing.F) {
	f.Add(uint64(1), 0.3, uint8(0))
	f.Add(uint64(2), 2.0, uint8(1))
	f.Add(uint64(3), 0.0, uint8(2))
	f.Fuzz(func(t *testing.T, seed uint64, eps float64, norm uint8) {
		if math.IsNaN(eps) || eps < 0 || eps > 1e6 {
			return
		}
		tm := ThreatModel{Norm: Norm(norm % 3), Eps: eps}
		rng := tensor.NewRNG(seed)
		d := 1 + rng.IntN(40)
		x0 := tensor.Uniform[float32](rng, 0, 1, 1, d)
		y := tensor.Uniform[float32](rng, -2, 3, 1, d)
		for _, exact := range []bool{true, false} {
			p := y.Clone()
			if exact {
				tm.Project(x0, p)
			} else {
				tm.ProjectThenClip(x0, p)
			}
			if nrm := tm.Norms(x0, p)[0]; nrm > eps {
				t.Fatalf("exact=%v: norm %v > eps %v", exact, nrm, eps)
			}
			for _, v := range p.Data() {
				if !(v >= 0 && v <= 1) {
					t.Fatalf("exact=%v: %v outside the box", exact, v)
				}
			}
		}
	})
}
