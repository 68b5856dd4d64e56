package robustness

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo/adversarial/attacks"
	"github.com/fastgo-ml/fastgo/adversarial/internal/testmodels"
	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
)

func TestVersionStages(t *testing.T) {
	names := func(es []SuiteAttack) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.DisplayName())
		}
		return out
	}
	for _, c := range []struct {
		v     Version
		norm  attacks.Norm
		names []string
	}{
		{VersionStandard, attacks.Linf, []string{"APGD-CE", "APGD-T", "FAB-T", "Square-5000"}},
		{VersionStandard, attacks.L2, []string{"APGD-CE", "APGD-T", "FAB-T", "Square-5000"}},
		{VersionStandard, attacks.L1, []string{"APGD-CE", "APGD-T", "FAB-T"}},
		{VersionPlus, attacks.Linf, []string{"APGD-CE", "APGD-DLR", "FAB", "Square-5000", "APGD-T", "FAB-T"}},
		{VersionPlus, attacks.L1, []string{"APGD-CE", "APGD-DLR", "FAB", "APGD-T", "FAB-T"}},
		{VersionRand, attacks.Linf, []string{"APGD-CE-EOT20", "APGD-DLR-EOT20"}},
		{VersionRand, attacks.L1, []string{"APGD-CE-EOT20", "APGD-DLR-EOT20"}},
	} {
		cs, err := VersionCascade(c.v, c.norm)
		if err != nil {
			t.Fatal(err)
		}
		if got := names(cs); !reflect.DeepEqual(got, c.names) {
			t.Errorf("%s %v: stages %v, want %v", c.v, c.norm, got, c.names)
		}
	}
	// AutoAttack's settings of each stage.
	std, _ := VersionCascade(VersionStandard, attacks.Linf)
	if a := std[0].Attack.(attacks.APGD); a.Steps != 100 || a.Restarts != 1 || a.Loss != attacks.APGDCrossEntropy || a.EOT > 1 || a.LargeEps {
		t.Errorf("standard APGD-CE %+v", a)
	}
	if a := std[1].Attack.(attacks.APGDT); a.Steps != 100 || a.Targets != 9 || a.Restarts != 1 || std[1].MinClasses != 4 {
		t.Errorf("standard APGD-T %+v", a)
	}
	if a := std[2].Attack.(attacks.FABT); a.Steps != 100 || a.Targets != 9 || a.Restarts != 1 || a.Eps != 0 {
		t.Errorf("standard FAB-T %+v", a)
	}
	if a := std[3].BlackBox.(attacks.Square); a.Queries != 5000 || a.Schedule != attacks.SquareFixed || std[3].Budget != 5000 {
		t.Errorf("standard Square %+v", a)
	}
	l1, _ := VersionCascade(VersionStandard, attacks.L1)
	if a, b := l1[0].Attack.(attacks.APGD), l1[1].Attack.(attacks.APGDT); a.Restarts != 5 || !a.LargeEps || b.Targets != 5 || !b.LargeEps {
		t.Errorf("standard L1 %+v %+v", a, b)
	}
	plus, _ := VersionCascade(VersionPlus, attacks.L2)
	if plus[0].Attack.(attacks.APGD).Restarts != 5 || plus[1].Attack.(attacks.APGD).Restarts != 5 || plus[2].Attack.(attacks.FAB).Restarts != 5 ||
		plus[4].Attack.(attacks.APGDT).Targets != 9 || plus[5].Attack.(attacks.FABT).Targets != 9 {
		t.Errorf("plus %+v", plus)
	}
	rnd, _ := VersionCascade(VersionRand, attacks.Linf)
	for _, e := range rnd {
		if a, ok := e.Attack.(attacks.APGD); !ok || a.EOT != 20 || a.Restarts != 1 || a.Steps != 100 {
			t.Errorf("rand stage %+v", e.Attack)
		}
	}
	// The cascade gives FAB the eps it evaluates.
	if a := fabAtEps(attacks.FABT{Targets: 9}, 0.1).(attacks.FABT); a.Eps != 0.1 {
		t.Errorf("FAB-T at eps 0.1: %+v", a)
	}
	if a := fabAtEps(attacks.FAB{Eps: 0.3}, 0.1).(attacks.FAB); a.Eps != 0.3 {
		t.Errorf("a FAB with its own Eps: %+v", a)
	}
	s, err := VersionSuite(VersionPlus, attacks.ThreatModel{Norm: attacks.L2}, 0.5)
	if err != nil || s.Version != VersionPlus || len(s.AutoAttack) != 6 || s.Unbounded == nil {
		t.Errorf("VersionSuite: %+v, %v", s, err)
	}
	if _, err := ParseVersion("strong"); err == nil || !strings.Contains(err.Error(), "standard, plus, rand") {
		t.Errorf("ParseVersion: %v", err)
	}
	if v, err := ParseVersion("rand"); v != VersionRand || err != nil {
		t.Errorf("ParseVersion(rand) = %v, %v", v, err)
	}
}

func TestParseShard(t *testing.T) {
	for _, c := range []struct {
		s  string
		ok bool
	}{{"0/4", true}, {"3/4", true}, {"4/4", false}, {"-1/4", false}, {"1/0", false}, {"1", false}, {"a/b", false}, {"1/4/2", false}} {
		sh, err := ParseShard(c.s)
		if (err == nil) != c.ok || (c.ok && sh.String() != c.s) {
			t.Errorf("ParseShard(%q) = %v, %v", c.s, sh, err)
		}
	}
	// The shards of n samples cover them once, in order.
	for _, n := range []int{1, 7, 30} {
		next := 0
		for i := 0; i < 4; i++ {
			lo, hi := Shard{Index: i, Count: 4}.Range(n)
			if lo != next || hi < lo {
				t.Fatalf("shard %d/4 of %d: [%d, %d) after %d", i, n, lo, hi, next)
			}
			next = hi
		}
		if next != n {
			t.Errorf("the shards of %d end at %d", n, next)
		}
	}
}

// shardSuite is quickSuite with a targeted entry whose targets are drawn
// per sample position (TargetRandom), which sharding must not change.
func shardSuite() Suite {
	return quickSuite(0.05, 0.1).With(WhiteBox(attacks.PGD{Steps: 10, RandomStart: true, Seed: 3}).Targeted(attacks.TargetRandom(9)))
}

func reportJSON(t *testing.T, r *Report) []byte {
	t.Helper()
	zeroTimes(r)
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestShardsMergeIntoTheSingleRun(t *testing.T) {
	m := testmodels.NewLinear4(1, false)
	x, y := testmodels.EvalData(m, 30, 6)
	single, err := Evaluate(context.Background(), m, x, y, shardSuite())
	if err != nil {
		t.Fatal(err)
	}
	var parts []Part
	for i := 0; i < 3; i++ {
		s := shardSuite()
		s.Shard = Shard{Index: i, Count: 3}
		s.BatchSize = 4 + i // batches of other compositions
		r, err := Evaluate(context.Background(), m, x, y, s)
		if err != nil {
			t.Fatal(err)
		}
		if r.Samples != 10 || r.Outcomes.First != 10*i || r.Manifest.Shard == nil || r.Manifest.Samples != 30 {
			t.Fatalf("part %d: %d samples from %d, manifest %+v", i, r.Samples, r.Outcomes.First, r.Manifest)
		}
		parts = append(parts, Part{Name: filepath.Join("part", string(rune('a'+i))), Report: r})
	}
	merged, err := MergeReports(parts[2], parts[0], parts[1])
	if err != nil {
		t.Fatal(err)
	}
	if a, b := reportJSON(t, single), reportJSON(t, merged); !bytes.Equal(a, b) {
		t.Errorf("the merged report differs from the single run:\n%s\n%s", a, b)
	}
	if c, err := CompareReports(single, merged); err != nil || !c.OK() {
		t.Errorf("CompareReports: %+v, %v", c, err)
	}

	other := testmodels.NewLinear4(2, false)
	s := shardSuite()
	s.Shard = Shard{Index: 1, Count: 3}
	alien, err := Evaluate(context.Background(), other, x, y, s)
	if err != nil {
		t.Fatal(err)
	}
	s.Eps = []float64{0.05}
	otherSuite, err := Evaluate(context.Background(), m, x, y, s)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		parts []Part
		want  string
	}{
		{"missing", []Part{parts[0], parts[2]}, "missing shard 1/3"},
		{"duplicated", []Part{parts[0], parts[1], parts[1], parts[2]}, "part/b and part/b are both shard 1/3"},
		{"other model", []Part{parts[0], {Name: "alien.json", Report: alien}, parts[2]}, "alien.json is not a part of the evaluation of part/a: weights"},
		{"other suite", []Part{parts[0], {Name: "eps.json", Report: otherSuite}, parts[2]}, "eps.json is not a part of the evaluation of part/a: suite"},
		{"not a part", []Part{{Name: "whole.json", Report: single}}, "whole.json: not a part"},
	} {
		if _, err := MergeReports(c.parts...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

func TestManifestRoundTripAndCompare(t *testing.T) {
	m := testmodels.NewLinear4(1, false)
	x, y := testmodels.EvalData(m, 20, 8)
	rep, err := Evaluate(context.Background(), m, x, y, quickSuite(0.1))
	if err != nil {
		t.Fatal(err)
	}
	mf := rep.Manifest
	if mf == nil || len(mf.Weights) != 64 || mf.Inputs != HashInputs(x) || mf.Labels != HashLabels(y) || mf.KernelTier == "" || mf.Fastgo == "" || mf.Samples != 20 {
		t.Fatalf("manifest %+v", mf)
	}
	if mf.Suite.Norm != "Linf" || len(mf.Suite.AutoAttack) != 3 || !strings.Contains(mf.Suite.AutoAttack[0].Attack, "attacks.APGD{Steps:50") || !strings.Contains(mf.Suite.AutoAttack[0].Attack, "Seed:0") {
		t.Errorf("suite config %+v", mf.Suite)
	}
	if !strings.Contains(rep.Markdown(), "## Manifest") || !strings.Contains(rep.Markdown(), mf.Weights) {
		t.Error("the Markdown report lacks the manifest")
	}
	path := filepath.Join(t.TempDir(), "report.json")
	if err := rep.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	back, err := ReadReport(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Manifest, rep.Manifest) || !reflect.DeepEqual(back.Outcomes, rep.Outcomes) {
		t.Error("the manifest or the outcomes do not round-trip")
	}
	// Every figure follows from the outcomes.
	again := *back
	assemble(&again)
	if a, b := reportJSON(t, &again), reportJSON(t, back); !bytes.Equal(a, b) {
		t.Error("the figures recomputed from the outcomes differ")
	}
	// A re-run compares equal; a changed model does not, naming samples.
	rerun, err := Evaluate(context.Background(), m, x, y, quickSuite(0.1))
	if err != nil {
		t.Fatal(err)
	}
	if c, err := CompareReports(back, rerun); err != nil || !c.OK() || !c.SameTier {
		t.Errorf("re-run: %+v, %v", c, err)
	}
	changed := testmodels.NewLinear4(1, false)
	w := layers.GetStateDict(changed).Tensors["lin.weight"].Data()
	for k := range w {
		w[k] *= -1
	}
	diff, err := Evaluate(context.Background(), changed, x, y, quickSuite(0.1))
	if err != nil {
		t.Fatal(err)
	}
	c, err := CompareReports(back, diff)
	if err != nil {
		t.Fatal(err)
	}
	if c.OK() || len(c.Samples) == 0 || len(c.Manifest) == 0 || !strings.HasPrefix(c.Manifest[0], "weights") {
		t.Fatalf("a changed model compares equal: %+v", c)
	}
	if !strings.Contains(c.SampleList(), "0") || c.Samples[0].What == "" {
		t.Errorf("differing samples %q: %+v", c.SampleList(), c.Samples[0])
	}
}

// dropoutModel is Linear4 behind dropout that stays on at test time.
type dropoutModel struct {
	layers.Base
	inner *testmodels.Linear4
	rng   *tensor.RNG
}

func (d *dropoutModel) Forward(x *autograd.Value) *autograd.Value {
	return layers.Call(d.inner, autograd.Dropout(x, 0.3, d.rng))
}

func TestRandomisedModelScoredOverPasses(t *testing.T) {
	inner := testmodels.NewLinear4(1, false)
	x, y := testmodels.EvalData(inner, 16, 9)
	d := &dropoutModel{rng: tensor.NewRNG(5)}
	d.inner = layers.Register(&d.Base, "inner", inner)
	s, err := VersionSuite(VersionStandard, attacks.ThreatModel{Norm: attacks.Linf}, 0.05)
	if err != nil {
		t.Fatal(err)
	}
	s.Passes = 8
	s.Unbounded = attacks.UnboundedPGD{Steps: 10}
	for k := range s.AutoAttack {
		if e, ok := s.AutoAttack[k].Attack.(attacks.APGD); ok {
			e.Steps = 10
			s.AutoAttack[k].Attack = e
		}
	}
	rep, err := Evaluate(context.Background(), d, x, y, s)
	if err != nil {
		t.Fatal(err)
	}
	rd := rep.Randomised
	if rd == nil || !rd.Detected || rd.Passes != 8 || rd.MaxDifference <= 0 || !strings.Contains(rd.Protocol, "rand") {
		t.Fatalf("randomised %+v", rd)
	}
	if !rep.Flagged(CheckRandomised) {
		t.Error("the randomised check is not flagged")
	}
	var stages []string
	for _, st := range rep.AutoAttack[0].Stages {
		stages = append(stages, st.Name)
	}
	if !reflect.DeepEqual(stages, []string{"APGD-CE-EOT20", "APGD-DLR-EOT20"}) {
		t.Errorf("cascade %v, want the rand version's", stages)
	}
	if _, ok := rep.Manifest.Suite.AutoAttack[0].Attack, true; !ok || rep.Outcomes.Passes != 8 {
		t.Errorf("outcomes passes %d", rep.Outcomes.Passes)
	}
	partial := 0
	for _, e := range append(rep.Outcomes.Attacks, rep.Outcomes.Cascade...) {
		for _, r := range e.Eps {
			for i := range r.States {
				share := r.PassRobust[i]
				if r.States[i] == StateNotAttacked {
					continue
				}
				if k := share * 8; k != float64(int(k)) {
					t.Fatalf("%s sample %d: share %v is not a count of 8 passes", e.Name, i, share)
				}
				if (r.States[i] == StateRobust) != (share == 1) {
					t.Fatalf("%s sample %d: state %c with %v of the passes robust", e.Name, i, r.States[i], share)
				}
				if share > 0 && share < 1 {
					partial++
				}
			}
		}
	}
	if partial == 0 {
		t.Error("no adversarial example was fooled in some passes only: the passes do not differ")
	}
	for _, a := range rep.Attacks {
		for _, r := range a.Results {
			if r.MeanRobustAccuracy < r.RobustAccuracy {
				t.Errorf("%s: mean %v below worst %v", a.Name, r.MeanRobustAccuracy, r.RobustAccuracy)
			}
		}
	}
	if c := rep.AutoAttack[0]; c.MeanRobustAccuracy < c.RobustAccuracy {
		t.Errorf("cascade: mean %v below worst %v", c.MeanRobustAccuracy, c.RobustAccuracy)
	}
	if md := rep.Markdown(); !strings.Contains(md, "The model is randomised") || !strings.Contains(md, "over 8 passes") {
		t.Errorf("the Markdown does not say the model is randomised:\n%s", md)
	}
	// A deterministic model is not flagged.
	det, err := Evaluate(context.Background(), inner, x, y, quickSuite(0.05))
	if err != nil {
		t.Fatal(err)
	}
	if det.Randomised == nil || det.Randomised.Detected || det.Flagged(CheckRandomised) || det.Outcomes.Passes != 1 {
		t.Errorf("deterministic model: %+v", det.Randomised)
	}
}

// TestMergeRefusesBadParts: parts whose manifest or outcomes do not fit
// are errors naming the part, never a panic.
func TestMergeRefusesBadParts(t *testing.T) {
	m := testmodels.NewLinear4(1, false)
	x, y := testmodels.EvalData(m, 12, 6)
	part := func(i int) *Report {
		s := quickSuite(0.1)
		s.Shard = Shard{Index: i, Count: 2}
		r, err := Evaluate(context.Background(), m, x, y, s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, c := range []struct {
		name  string
		spoil func(r *Report)
		want  string
	}{
		{"negative count", func(r *Report) { r.Manifest.Shard.Count = -3 }, "bad.json: shard"},
		{"zero count", func(r *Report) { r.Manifest.Shard.Count = 0 }, "bad.json: shard"},
		{"wrong slice", func(r *Report) { r.Outcomes.First = 0 }, "bad.json holds samples 0 to 5, shard 1/2 is 6 to 11"},
		{"other eps", func(r *Report) { r.Eps = []float64{0.2} }, "eps"},
		{"fewer entries", func(r *Report) { r.Outcomes.Attacks = r.Outcomes.Attacks[:1] }, "entries"},
		{"no outcomes", func(r *Report) { r.Outcomes = nil }, "bad.json: not a report"},
	} {
		bad := part(1)
		c.spoil(bad)
		if _, err := MergeReports(Part{"good.json", part(0)}, Part{"bad.json", bad}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}
