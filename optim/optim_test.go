package optim

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/tensor/safetensors"
)

// maker builds an optimizer over groups.
type maker struct {
	name string
	make func(groups []*ParamGroup) Optimizer
}

// makers covers every optimizer and the options that add state buffers.
var makers = []maker{
	{"SGD", func(g []*ParamGroup) Optimizer { return NewSGD(g, LR(0.1)) }},
	{"SGD nesterov wd", func(g []*ParamGroup) Optimizer {
		return NewSGD(g, LR(0.1), Momentum(0.9), Nesterov(), WeightDecay(1e-2))
	}},
	{"SGD dampening", func(g []*ParamGroup) Optimizer { return NewSGD(g, LR(0.1), Momentum(0.9), Dampening(0.5)) }},
	{"Adam wd", func(g []*ParamGroup) Optimizer { return NewAdam(g, LR(0.01), WeightDecay(1e-2)) }},
	{"AdamW", func(g []*ParamGroup) Optimizer { return NewAdamW(g, LR(0.01)) }},
	{"FastaiAdam", func(g []*ParamGroup) Optimizer { return FastaiAdam(g, LR(0.01)) }},
	{"RMSProp", func(g []*ParamGroup) Optimizer { return NewRMSProp(g) }},
	{"RMSProp centered momentum wd", func(g []*ParamGroup) Optimizer {
		return NewRMSProp(g, Momentum(0.9), Centered(), WeightDecay(1e-2))
	}},
}

var shapes = [][]int{{5, 3}, {5}, {2, 3, 3}, {0, 4}}

// newParams returns parameters of shapes drawn from seed.
func newParams(seed uint64) []*autograd.Value {
	g := tensor.NewRNG(seed)
	var ps []*autograd.Value
	for _, shape := range shapes {
		ps = append(ps, autograd.Param(tensor.Normal[float32](g, 0, 1, shape...)))
	}
	return ps
}

// cloneParams returns parameters holding copies of ps's data.
func cloneParams(ps []*autograd.Value) []*autograd.Value {
	var out []*autograd.Value
	for _, p := range ps {
		out = append(out, autograd.Param(p.Data().Clone()))
	}
	return out
}

// setGrads gives ps the gradients of step k: the same for every call with
// the same k. Parameter 1 has none at odd steps, so step counts differ.
func setGrads(ps []*autograd.Value, k int) {
	g := tensor.NewRNG(uint64(100 + k))
	for i, p := range ps {
		if i == 1 && k%2 == 1 {
			p.SetGrad(nil)
			continue
		}
		p.SetGrad(tensor.Normal[float32](g, 0, 1, p.Data().Shape()...))
	}
}

// twoGroups splits ps into two groups, the second with its own lr.
func twoGroups(ps []*autograd.Value) []*ParamGroup {
	return []*ParamGroup{NewGroup(ps[:2]), NewGroup(ps[2:], LR(0.05))}
}

func equalBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// TestStateResume checks that saving an optimizer's state, restoring it into
// a fresh optimizer over copies of the parameters and stepping on gives the
// same bits as the uninterrupted run, through StateDict and through a file.
// A schedule's change of lr is part of the saved state.
func TestStateResume(t *testing.T) {
	for _, mk := range makers {
		for _, viaFile := range []bool{false, true} {
			name := mk.name
			if viaFile {
				name += " via file"
			}
			t.Run(name, func(t *testing.T) {
				a := newParams(1)
				optA := mk.make(twoGroups(a))
				for k := 0; k < 3; k++ {
					setGrads(a, k)
					optA.Step()
				}
				optA.ParamGroups()[0].Set("lr", 0.02)

				b := cloneParams(a)
				optB := mk.make(twoGroups(b))
				if viaFile {
					path := filepath.Join(t.TempDir(), "opt.safetensors")
					if err := Save(path, optA); err != nil {
						t.Fatal(err)
					}
					if err := Load(path, optB); err != nil {
						t.Fatal(err)
					}
				} else if err := optB.LoadStateDict(optA.StateDict()); err != nil {
					t.Fatal(err)
				}
				if got := optB.ParamGroups()[0].Get("lr"); got != 0.02 {
					t.Errorf("restored lr = %v, want 0.02", got)
				}
				for k := 3; k < 7; k++ {
					setGrads(a, k)
					setGrads(b, k)
					optA.Step()
					optB.Step()
				}
				for i := range a {
					if !equalBits(a[i].Data().Data(), b[i].Data().Data()) {
						t.Errorf("param %d: resumed run differs\n got %v\nwant %v", i, b[i].Data().Data(), a[i].Data().Data())
					}
				}
				if !reflect.DeepEqual(optA.StateDict(), optB.StateDict()) {
					t.Error("resumed optimizer state differs")
				}
			})
		}
	}
}

// TestStateDictIsACopy checks that a StateDict does not change with later
// steps, and that loading one does not tie the optimizer to it.
func TestStateDictIsACopy(t *testing.T) {
	ps := newParams(1)
	opt := NewAdam(Params(ps...))
	setGrads(ps, 0)
	opt.Step()
	s := opt.StateDict()
	m := s.Groups[0].Params[0].Buffers["exp_avg"].Clone()
	opt.Step()
	if !equalBits(s.Groups[0].Params[0].Buffers["exp_avg"].Data(), m.Data()) {
		t.Error("StateDict changed with a later Step")
	}
	if err := opt.LoadStateDict(s); err != nil {
		t.Fatal(err)
	}
	opt.Step()
	if !equalBits(s.Groups[0].Params[0].Buffers["exp_avg"].Data(), m.Data()) {
		t.Error("a loaded State changed with a later Step")
	}
	if s.Groups[0].Params[0].Step != 1 {
		t.Errorf("step = %d, want 1", s.Groups[0].Params[0].Step)
	}
}

func TestLoadStateDictRejects(t *testing.T) {
	ps := newParams(1)
	src := NewAdam(twoGroups(ps))
	setGrads(ps, 0)
	src.Step()
	good := src.StateDict()

	cases := []struct {
		name   string
		into   Optimizer
		modify func(s *State)
		want   string
	}{
		{"nil", NewAdam(twoGroups(newParams(1))), nil, "nil state"},
		{"kind", NewAdamW(twoGroups(newParams(1))), func(s *State) {}, "Adam state into a AdamW"},
		{"groups", NewAdam(Params(newParams(1)...)), func(s *State) {}, "2 param groups"},
		{"params", NewAdam([]*ParamGroup{NewGroup(newParams(1)[:1]), NewGroup(newParams(1)[2:])}), func(s *State) {}, "group 0 has 2 params"},
		{"shape", NewAdam(twoGroups(newParams(1))), func(s *State) {
			s.Groups[0].Params[0].Buffers["exp_avg"] = tensor.Zeros(3)
		}, "shape"},
		{"nil buffer", NewAdam(twoGroups(newParams(1))), func(s *State) {
			s.Groups[0].Params[0].Buffers["exp_avg"] = nil
		}, "exp_avg"},
		{"unknown buffer", NewAdam(twoGroups(newParams(1))), func(s *State) {
			s.Groups[0].Params[0].Buffers["momentum_buffer"] = tensor.Zeros(5, 3)
		}, "unknown buffer"},
		{"negative step", NewAdam(twoGroups(newParams(1))), func(s *State) { s.Groups[1].Params[0].Step = -1 }, "negative step"},
		{"NaN hyper", NewAdam(twoGroups(newParams(1))), func(s *State) { s.Groups[1].Hyper["lr"] = math.NaN() }, "NaN"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s *State
			if c.modify != nil {
				s = src.StateDict()
				c.modify(s)
			}
			before := c.into.StateDict()
			err := c.into.LoadStateDict(s)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v, want one mentioning %q", err, c.want)
			}
			if !reflect.DeepEqual(c.into.StateDict(), before) {
				t.Error("a failed LoadStateDict changed the optimizer")
			}
		})
	}
	if err := NewAdam(twoGroups(newParams(2))).LoadStateDict(good); err != nil {
		t.Errorf("loading a fitting state: %v", err)
	}
}

func TestLoadFileErrors(t *testing.T) {
	dir := t.TempDir()
	ps := newParams(1)
	opt := NewSGD(Params(ps...), Momentum(0.9))
	setGrads(ps, 0)
	opt.Step()
	path := filepath.Join(dir, "sgd.safetensors")
	if err := Save(path, opt); err != nil {
		t.Fatal(err)
	}
	if err := Load(path, NewAdam(Params(newParams(1)...))); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("loading SGD state into Adam: %v", err)
	}
	if err := Load(filepath.Join(dir, "missing"), opt); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("loading a missing file: %v", err)
	}
}

// TestFrozenAndGradless checks that Step leaves alone a parameter that does
// not require a gradient (even if it holds one) or has none, without
// advancing its step count, and never changes the gradients it reads.
func TestFrozenAndGradless(t *testing.T) {
	for _, mk := range makers {
		t.Run(mk.name, func(t *testing.T) {
			ps := newParams(1)
			opt := mk.make(Params(ps...))
			setGrads(ps, 0)
			ps[1].SetGrad(nil)
			ps[2].SetRequiresGrad(false)
			before := cloneParams(ps)
			grads := make([]*tensor.Tensor, len(ps))
			for i, p := range ps {
				if p.Grad() != nil {
					grads[i] = p.Grad().Clone()
				}
			}
			opt.Step()
			for i, p := range ps {
				if g := p.Grad(); g != nil && !equalBits(g.Data(), grads[i].Data()) {
					t.Errorf("param %d: Step changed the gradient", i)
				}
			}
			if equalBits(ps[0].Data().Data(), before[0].Data().Data()) {
				t.Error("param 0 did not move")
			}
			for _, i := range []int{1, 2} {
				if !equalBits(ps[i].Data().Data(), before[i].Data().Data()) {
					t.Errorf("param %d moved", i)
				}
			}
			st := opt.StateDict().Groups[0].Params
			if st[0].Step != 1 || st[1].Step != 0 || st[2].Step != 0 || len(st[1].Buffers)+len(st[2].Buffers) != 0 {
				t.Errorf("state after one step: %+v", st)
			}
		})
	}
}

func TestZeroGrad(t *testing.T) {
	ps := newParams(1)
	opt := NewSGD(twoGroups(ps))
	setGrads(ps, 0)
	opt.ZeroGrad()
	for i, p := range ps {
		if p.Grad() != nil {
			t.Errorf("param %d still has a gradient", i)
		}
	}
	before := cloneParams(ps)
	opt.Step()
	for i := range ps {
		if !equalBits(ps[i].Data().Data(), before[i].Data().Data()) {
			t.Errorf("param %d moved with no gradient", i)
		}
	}
}

// TestScheduleSetsHyper checks that values set on a group between steps
// are the ones Step uses: lr 0 stops SGD, and a per-group lr applies to its
// group only.
func TestScheduleSetsHyper(t *testing.T) {
	ps := []*autograd.Value{
		autograd.Param(tensor.FromSlice([]float32{1, 2}, 2)),
		autograd.Param(tensor.FromSlice([]float32{1, 2}, 2)),
	}
	opt := NewSGD([]*ParamGroup{NewGroup(ps[:1]), NewGroup(ps[1:])}, LR(0.5))
	grad := func() {
		for _, p := range ps {
			p.SetGrad(tensor.FromSlice([]float32{1, -1}, 2))
		}
	}
	grad()
	opt.Step()
	for _, p := range ps {
		if !reflect.DeepEqual(p.Data().Data(), []float32{0.5, 2.5}) {
			t.Fatalf("after step 1: %v", p.Data().Data())
		}
	}
	opt.ParamGroups()[0].Set("lr", 0)
	opt.ParamGroups()[1].Set("lr", 0.25)
	grad()
	opt.Step()
	if got := ps[0].Data().Data(); !reflect.DeepEqual(got, []float32{0.5, 2.5}) {
		t.Errorf("lr 0 group moved: %v", got)
	}
	if got := ps[1].Data().Data(); !reflect.DeepEqual(got, []float32{0.25, 2.75}) {
		t.Errorf("lr 0.25 group: %v", got)
	}
}

func TestGroupHyper(t *testing.T) {
	g := NewGroup(nil, Hyper("momentum", 0.8), Hyper("beta2", 0.95), Hyper("weight_decay", 0.1))
	opt := NewAdam([]*ParamGroup{g}, LR(3e-3), Betas(0.5, 0.6))
	want := map[string]float64{"lr": 3e-3, "mom": 0.8, "sqr_mom": 0.95, "eps": 1e-8, "wd": 0.1}
	if got := opt.ParamGroups()[0].Hyper(); !reflect.DeepEqual(got, want) {
		t.Errorf("Hyper() = %v, want %v", got, want)
	}
	for alias, name := range map[string]string{"beta1": "mom", "momentum": "mom", "beta2": "sqr_mom", "alpha": "sqr_mom", "weight_decay": "wd"} {
		if g.Get(alias) != g.Get(name) {
			t.Errorf("Get(%q) = %v, Get(%q) = %v", alias, g.Get(alias), name, g.Get(name))
		}
	}
	g.Set("beta1", 0.7)
	if v, ok := g.Lookup("mom"); !ok || v != 0.7 {
		t.Errorf("after Set(beta1), mom = %v, %v", v, ok)
	}
	if _, ok := g.Lookup("centered"); ok {
		t.Error("Adam group has centered")
	}
	if !reflect.DeepEqual(g.Names(), []string{"eps", "lr", "mom", "sqr_mom", "wd"}) {
		t.Errorf("Names() = %v", g.Names())
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(fastgo.Error).Error(), "nesterov") {
			t.Errorf("Get of a missing name: panic %v", r)
		}
	}()
	g.Get("nesterov")
}

func TestDefaults(t *testing.T) {
	ps := newParams(1)
	cases := []struct {
		name string
		opt  Optimizer
		kind string
		want map[string]float64
	}{
		{"SGD", NewSGD(Params(ps...)), "SGD", map[string]float64{"lr": 1e-3, "mom": 0, "dampening": 0, "wd": 0, "nesterov": 0}},
		{"Adam", NewAdam(Params(ps...)), "Adam", map[string]float64{"lr": 1e-3, "mom": 0.9, "sqr_mom": 0.999, "eps": 1e-8, "wd": 0}},
		{"AdamW", NewAdamW(Params(ps...)), "AdamW", map[string]float64{"lr": 1e-3, "mom": 0.9, "sqr_mom": 0.999, "eps": 1e-8, "wd": 0.01}},
		{"FastaiAdam", FastaiAdam(Params(ps...)), "AdamW", map[string]float64{"lr": 1e-3, "mom": 0.9, "sqr_mom": 0.99, "eps": 1e-5, "wd": 0.01}},
		{"FastaiAdam overridden", FastaiAdam(Params(ps...), WeightDecay(0.1), LR(0.01)), "AdamW", map[string]float64{"lr": 0.01, "mom": 0.9, "sqr_mom": 0.99, "eps": 1e-5, "wd": 0.1}},
		{"RMSProp", NewRMSProp(Params(ps...)), "RMSProp", map[string]float64{"lr": 1e-2, "sqr_mom": 0.99, "eps": 1e-8, "wd": 0, "mom": 0, "centered": 0}},
	}
	for _, c := range cases {
		if got := c.opt.ParamGroups()[0].Hyper(); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: Hyper() = %v, want %v", c.name, got, c.want)
		}
		if got := c.opt.StateDict().Kind; got != c.kind {
			t.Errorf("%s: kind %q, want %q", c.name, got, c.kind)
		}
	}
	if !FastaiAdam(nil).Decoupled() || NewAdam(nil).Decoupled() || !NewAdamW(nil).Decoupled() {
		t.Error("Decoupled() is wrong")
	}
}

func TestConstructorPanics(t *testing.T) {
	p := autograd.Param(tensor.Zeros(2))
	cases := []struct {
		name string
		make func()
		want string
	}{
		{"negative lr", func() { NewSGD(Params(p), LR(-1)) }, "lr"},
		{"NaN lr", func() { NewAdam(Params(p), LR(math.NaN())) }, "lr"},
		{"beta1 of 1", func() { NewAdam(Params(p), Betas(1, 0.9)) }, "mom"},
		{"negative beta2", func() { NewAdamW(Params(p), Betas(0.9, -0.1)) }, "sqr_mom"},
		{"negative eps", func() { NewRMSProp(Params(p), Eps(-1)) }, "eps"},
		{"negative wd", func() { NewSGD(Params(p), WeightDecay(-1)) }, "wd"},
		{"nesterov without momentum", func() { NewSGD(Params(p), Nesterov()) }, "Nesterov"},
		{"nesterov with dampening", func() { NewSGD(Params(p), Nesterov(), Momentum(0.9), Dampening(0.1)) }, "Nesterov"},
		{"nesterov on Adam", func() { NewAdam(Params(p), Nesterov()) }, "nesterov"},
		{"centered on SGD", func() { NewSGD(Params(p), Centered()) }, "centered"},
		{"centered of 2", func() { NewRMSProp(Params(p), Hyper("centered", 2)) }, "centered"},
		{"unknown group hyper", func() { NewSGD([]*ParamGroup{NewGroup([]*autograd.Value{p}, Hyper("lrr", 1))}) }, "lrr"},
		{"param twice", func() { NewSGD([]*ParamGroup{NewGroup([]*autograd.Value{p}), NewGroup([]*autograd.Value{p})}) }, "more than once"},
		{"nil param", func() { NewSGD(Params(nil)) }, "nil"},
		{"nil group", func() { NewSGD([]*ParamGroup{nil}) }, "nil"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if e, ok := r.(fastgo.Error); !ok || !strings.Contains(e.Error(), c.want) {
					t.Errorf("panic %v, want one mentioning %q", r, c.want)
				}
			}()
			c.make()
		})
	}
}

func TestStepPanicsOnGradShape(t *testing.T) {
	p := autograd.Param(tensor.Zeros(2, 3))
	p.SetGrad(tensor.Zeros(3, 2))
	defer func() {
		if r := recover(); !strings.Contains(r.(fastgo.Error).Error(), "[3 2]") {
			t.Errorf("panic %v", r)
		}
	}()
	NewAdam(Params(p)).Step()
}

// namedParam has the fields of layers.NamedParam, to check that
// SplitNoDecay takes such slices.
type namedParam struct {
	Name  string
	Param *autograd.Value
}

func TestSplitNoDecay(t *testing.T) {
	w := autograd.Param(tensor.Ones(2, 2))
	b := autograd.Param(tensor.Ones(2))
	bnw := autograd.Param(tensor.Ones(2))
	bnb := autograd.Param(tensor.Ones(2))
	fc := autograd.Param(tensor.Ones(3, 2))
	named := []namedParam{{"conv1.weight", w}, {"conv1.bias", b}, {"bn1.weight", bnw}, {"bn1.bias", bnb}, {"fc.weight", fc}}

	groups := SplitNoDecay(named, nil)
	if !reflect.DeepEqual(groups[0].Params, []*autograd.Value{w, fc}) || !reflect.DeepEqual(groups[1].Params, []*autograd.Value{b, bnw, bnb}) {
		t.Fatalf("default split: %v / %v", groups[0].Params, groups[1].Params)
	}
	// By name: only biases are spared.
	byName := SplitNoDecay([]NamedParam{{"conv1.weight", w}, {"conv1.bias", b}, {"bn1.weight", bnw}}, func(name string, _ *autograd.Value) bool {
		return strings.HasSuffix(name, ".bias")
	})
	if !reflect.DeepEqual(byName[0].Params, []*autograd.Value{w, bnw}) || !reflect.DeepEqual(byName[1].Params, []*autograd.Value{b}) {
		t.Fatalf("split by name: %v / %v", byName[0].Params, byName[1].Params)
	}

	// With zero gradients, AdamW only decays: the decay group shrinks by
	// 1 - lr*wd, the other stays.
	opt := FastaiAdam(groups, LR(0.1), WeightDecay(0.5))
	if v := opt.ParamGroups()[1].Get("wd"); v != 0 {
		t.Errorf("no-decay group wd = %v", v)
	}
	for _, np := range named {
		np.Param.SetGrad(tensor.Zeros(np.Param.Data().Shape()...))
	}
	opt.Step()
	for _, np := range named {
		want := float32(1)
		if np.Param == w || np.Param == fc {
			want = 0.95
		}
		for _, v := range np.Param.Data().Data() {
			if v != want {
				t.Errorf("%s = %v, want %v", np.Name, np.Param.Data().Data(), want)
				break
			}
		}
	}
}

func TestDecodeStateRejects(t *testing.T) {
	good := map[string]string{"optim.kind": "SGD", "optim.groups": "1", "optim.0.params": "1", "optim.0.lr": "0.1"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range good {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	buf := map[string]*tensor.Tensor{"state.0.0.momentum_buffer": tensor.Zeros(2)}
	cases := []struct {
		name    string
		tensors map[string]*tensor.Tensor
		ints    map[string]safetensors.Int64Tensor
		meta    map[string]string
		want    string
	}{
		{"no kind", buf, nil, with("optim.kind", ""), "optim.kind"},
		{"no groups", buf, nil, with("optim.groups", ""), "optim.groups"},
		{"bad group count", buf, nil, with("optim.groups", "-1"), "optim.groups"},
		{"no param count", buf, nil, with("optim.0.params", ""), "optim.0.params"},
		{"hyper of no group", buf, nil, with("optim.3.lr", "1"), "optim.3.lr"},
		{"hyper not a number", buf, nil, with("optim.0.lr", "fast"), "optim.0.lr"},
		{"tensor of no param", map[string]*tensor.Tensor{"state.0.1.momentum_buffer": tensor.Zeros(2)}, nil, good, "state.0.1"},
		{"tensor name", map[string]*tensor.Tensor{"state.0": tensor.Zeros(2)}, nil, good, "state.0"},
		{"step not scalar", buf, map[string]safetensors.Int64Tensor{"state.0.0.step": {Shape: []int{2}, Data: []int64{1, 2}}}, good, "step"},
		{"step as float", map[string]*tensor.Tensor{"state.0.0.step": tensor.Zeros(1)}, nil, good, "step"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := safetensors.Write(&b, c.tensors, safetensors.Ints(c.ints), safetensors.Metadata(c.meta)); err != nil {
				t.Fatal(err)
			}
			f, err := safetensors.Read(bytes.NewReader(b.Bytes()), int64(b.Len()))
			if err != nil {
				t.Fatal(err)
			}
			_, err = DecodeState(f)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %v, want one mentioning %q", err, c.want)
			}
		})
	}
	// Entries that are not the optimizer's are ignored: a model's weights
	// may share the file.
	var b bytes.Buffer
	tensors := map[string]*tensor.Tensor{"fc.weight": tensor.Zeros(3), "state.0.0.momentum_buffer": tensor.Ones(2)}
	if err := safetensors.Write(&b, tensors, safetensors.Metadata(with("format", "pt"))); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Read(bytes.NewReader(b.Bytes()), int64(b.Len()))
	if err != nil {
		t.Fatal(err)
	}
	s, err := DecodeState(f)
	if err != nil {
		t.Fatal(err)
	}
	if s.Kind != "SGD" || s.Groups[0].Hyper["lr"] != 0.1 || s.Groups[0].Params[0].Buffers["momentum_buffer"].Data()[1] != 1 {
		t.Errorf("decoded %+v", s)
	}
}
