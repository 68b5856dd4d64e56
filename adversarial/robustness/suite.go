package robustness

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/fastgo-ml/fastgo/adversarial/attacks"
)

// AttackKind is the role of an attack in an evaluation, which the
// gradient-masking checks compare.
type AttackKind int

const (
	// KindAuto takes the kind from the attack's type: FGSM and FGM are
	// one-step, every other white-box attack iterative, and every
	// black-box attack (transfer included) black-box.
	KindAuto AttackKind = iota
	// OneStep is a single gradient step (FGSM, FGM).
	OneStep
	// Iterative is an iterative white-box attack (PGD, APGD, C&W...).
	Iterative
	// BlackBoxKind is an attack through the oracle only: score- or
	// decision-based, or a transfer from a surrogate.
	BlackBoxKind
)

// String returns "one-step", "iterative", "black-box" or "auto".
func (k AttackKind) String() string {
	switch k {
	case KindAuto:
		return "auto"
	case OneStep:
		return "one-step"
	case Iterative:
		return "iterative"
	case BlackBoxKind:
		return "black-box"
	}
	return fmt.Sprintf("AttackKind(%d)", int(k))
}

// MarshalText implements encoding.TextMarshaler (the names of String).
func (k AttackKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (k *AttackKind) UnmarshalText(b []byte) error {
	for _, v := range []AttackKind{KindAuto, OneStep, Iterative, BlackBoxKind} {
		if v.String() == string(b) {
			*k = v
			return nil
		}
	}
	return fmt.Errorf("robustness: unknown attack kind %q", b)
}

// SuiteAttack is one attack of a Suite: a white-box Attack or a
// BlackBoxAttack (exactly one of the two), with what it needs to run.
type SuiteAttack struct {
	// Name names the attack in the report (empty: the attack's Name, with
	// a "targeted " prefix for a targeted entry).
	Name string
	// Attack is a white-box attack, run on the model with RunEps.
	Attack attacks.Attack
	// BlackBox is a black-box attack, run through an oracle with
	// RunBlackBoxEps.
	BlackBox attacks.BlackBoxAttack
	// Access is what the black-box attack's oracle reveals (ScoreAccess,
	// the zero value, or LabelAccess).
	Access attacks.Access
	// Budget is the oracle's budget of queries per sample (0: unlimited,
	// the attack's own limit applies).
	Budget int
	// Targets makes the attack targeted, choosing each sample's target
	// from its true label and the clean scores (nil: untargeted, away from
	// the true labels). Robust accuracy still counts the samples that keep
	// their label; the success rate counts those that reach the target.
	Targets attacks.Targets
	// Kind is the attack's role in the masking checks (KindAuto: from the
	// type).
	Kind AttackKind
	// Eps overrides the suite's list of eps for this attack (nil: the
	// suite's).
	Eps []float64
	// MinClasses skips the attack, noted in the report, for a model with
	// fewer classes (APGD-T's targeted DLR loss needs 4).
	MinClasses int
}

// WhiteBox returns the suite entry of a white-box attack.
func WhiteBox(a attacks.Attack) SuiteAttack { return SuiteAttack{Attack: a} }

// BlackBox returns the suite entry of a black-box attack, run through an
// oracle revealing access with a budget of queries per sample.
func BlackBox(a attacks.BlackBoxAttack, access attacks.Access, budget int) SuiteAttack {
	return SuiteAttack{BlackBox: a, Access: access, Budget: budget}
}

// Targeted returns e made targeted by the rule t (attacks.TargetRandom,
// attacks.TargetLeastLikely...).
func (e SuiteAttack) Targeted(t attacks.Targets) SuiteAttack {
	e.Targets = t
	return e
}

// AtEps returns e run at the given eps instead of the suite's.
func (e SuiteAttack) AtEps(eps ...float64) SuiteAttack {
	e.Eps = slices.Clone(eps)
	return e
}

// DisplayName returns the name of the entry in the report.
func (e SuiteAttack) DisplayName() string {
	if e.Name != "" {
		return e.Name
	}
	var n string
	switch {
	case e.Attack != nil:
		n = e.Attack.Name()
	case e.BlackBox != nil:
		n = e.BlackBox.Name()
	}
	if e.Targets != nil {
		n = "targeted " + n
	}
	return n
}

// kind returns the entry's kind, resolving KindAuto.
func (e SuiteAttack) kind() AttackKind {
	if e.Kind != KindAuto {
		return e.Kind
	}
	if e.BlackBox != nil {
		return BlackBoxKind
	}
	switch e.Attack.(type) {
	case attacks.FGSM, attacks.FGM, *attacks.FGSM, *attacks.FGM:
		return OneStep
	}
	return Iterative
}

// Suite is what EvaluateRobustness runs: a threat model, a list of eps, the
// attacks to report one by one, an AutoAttack-style cascade for the worst
// case, and the gradient-masking checks. StandardSuite gives the usual one;
// NewSuite and the fields build others.
type Suite struct {
	// Threat is the norm and the pixel box; its Eps is not used.
	Threat attacks.ThreatModel
	// Eps is the list of budgets, each finite and >= 0 (sorted ascending
	// by EvaluateRobustness).
	Eps []float64
	// Attacks are run one by one, each at each of its eps on every
	// initially correct sample, and reported separately.
	Attacks []SuiteAttack
	// AutoAttack is the cascade of the worst case (AutoAttack's standard
	// version runs APGD-CE, APGD-T, FAB-T and Square): at each eps, each
	// attack in turn runs only on the samples that every earlier one left
	// robust, starting from those the cascade left robust at the previous,
	// smaller eps.
	AutoAttack []SuiteAttack
	// Unbounded, when set, is run at eps = +Inf on the initially correct
	// samples: with no bound any input can be turned into any other, so
	// anything short of 100% success means the attack cannot follow the
	// model's gradients (see UnboundedPGD).
	Unbounded attacks.Attack
	// GradientCheck computes the input gradient of the cross-entropy at
	// each clean sample and flags zero or NaN gradients.
	GradientCheck bool
	// Tolerance is the margin of the masking checks, as a share of the
	// samples (0: 0.01): a check fires when the difference it measures
	// exceeds both the tolerance and one sample (the unbounded check fires
	// on any failure).
	Tolerance float64
	// BatchSize is the number of samples per attack call (0: 250). Results
	// do not depend on it.
	BatchSize int
	// Examples is the number of adversarial examples kept for the report's
	// image grid (0: 12).
	Examples int
	// Log, when set, receives a line per attack and eps as the evaluation
	// goes.
	Log io.Writer
	// Version is the AutoAttack version the cascade follows (set by
	// VersionSuite; empty for a cascade of one's own). A randomised model
	// evaluated with VersionStandard or VersionPlus is evaluated with
	// VersionRand's cascade instead.
	Version Version
	// Passes is the number of passes over which each adversarial example is
	// scored when the model is randomised (its outputs differ between two
	// passes on the same input; 0: 20): a sample is robust only if every
	// pass classifies it correctly, and the report gives the mean over the
	// passes as well.
	Passes int
	// Shard, when its Count is set, evaluates only that slice of the
	// samples and makes the report a part for MergeReports.
	Shard Shard
}

// Shard is the slice Index of Count (0 <= Index < Count) of the samples:
// those from Index*N/Count up to (Index+1)*N/Count, N the number of
// samples. Every sample's outcome is the same whichever shard holds it, so
// the parts merge into the report of the whole run.
type Shard struct {
	// Index is the slice's number, from 0.
	Index int `json:"index"`
	// Count is the number of slices (0: no sharding).
	Count int `json:"count"`
}

// ParseShard parses "i/n" (0 <= i < n).
func ParseShard(s string) (Shard, error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 {
		return Shard{}, fmt.Errorf("robustness: shard %q is not i/n (0 <= i < n)", s)
	}
	sh := Shard{Index: i, Count: n}
	if err := sh.check(); err != nil {
		return Shard{}, err
	}
	return sh, nil
}

// String returns "i/n".
func (sh Shard) String() string { return fmt.Sprintf("%d/%d", sh.Index, sh.Count) }

func (sh Shard) check() error {
	if sh.Count < 0 || (sh.Count > 0 && (sh.Index < 0 || sh.Index >= sh.Count)) || (sh.Count == 0 && sh.Index != 0) {
		return fmt.Errorf("robustness: shard %d/%d: want 0 <= i < n", sh.Index, sh.Count)
	}
	return nil
}

// Range returns the samples [lo, hi) of the shard among n (all of them
// without sharding).
func (sh Shard) Range(n int) (lo, hi int) {
	if sh.Count == 0 {
		return 0, n
	}
	return sh.Index * n / sh.Count, (sh.Index + 1) * n / sh.Count
}

// NewSuite returns an empty suite for tm's norm and box at the given eps,
// to be filled with With and WithAutoAttack.
func NewSuite(tm attacks.ThreatModel, eps ...float64) Suite {
	return Suite{Threat: tm, Eps: slices.Clone(eps)}
}

// With returns s with the attacks added to its one-by-one attacks.
func (s Suite) With(attacks ...SuiteAttack) Suite {
	s.Attacks = append(slices.Clone(s.Attacks), attacks...)
	return s
}

// WithAutoAttack returns s with the cascade replaced by attacks.
func (s Suite) WithAutoAttack(attacks ...SuiteAttack) Suite {
	s.AutoAttack = slices.Clone(attacks)
	return s
}

// WithChecks returns s with the unbounded attack (UnboundedPGD when nil) and
// the gradient check turned on.
func (s Suite) WithChecks(unbounded attacks.Attack) Suite {
	if unbounded == nil {
		unbounded = attacks.UnboundedPGD{}
	}
	s.Unbounded, s.GradientCheck = unbounded, true
	return s
}

// BlackBoxOnly returns s without its white-box attacks and checks (for
// EvaluateBlackBox, which only reaches the model through a function).
func (s Suite) BlackBoxOnly() Suite {
	keep := func(as []SuiteAttack) []SuiteAttack {
		var out []SuiteAttack
		for _, a := range as {
			if a.BlackBox != nil {
				out = append(out, a)
			}
		}
		return out
	}
	s.Attacks, s.AutoAttack = keep(s.Attacks), keep(s.AutoAttack)
	s.Unbounded, s.GradientCheck = nil, false
	return s
}

// StandardSuite returns the standard Linf evaluation at the given eps
// (DefaultEps when none): FGSM and PGD-20 (random start, 2.5 eps/20 steps)
// one by one; AutoAttack's standard cascade (VersionStandard): APGD-CE (100
// steps), APGD-T (100 steps, 9 target classes, skipped below 4 classes),
// FAB-T (100 steps, 9 target classes) and Square (5,000 queries, scores);
// the unbounded check with UnboundedPGD; and the gradient check.
func StandardSuite(eps ...float64) Suite {
	return StandardSuiteFor(attacks.ThreatModel{Norm: attacks.Linf}, eps...)
}

// StandardSuiteFor is StandardSuite for tm's norm and box: for L2, FGM
// replaces FGSM and the L2 versions of PGD, APGD, FAB-T and Square run; for
// L1, PGD with the sparse L1 step runs one by one and the cascade is
// AutoAttack's standard L1 one (APGD-CE and APGD-T over 5 targets with the
// sparse L1 steps, then FAB-T; Square has no L1 version).
func StandardSuiteFor(tm attacks.ThreatModel, eps ...float64) Suite {
	if len(eps) == 0 {
		eps = []float64{attacks.DefaultEps}
	}
	s := NewSuite(tm, eps...)
	pgd := WhiteBox(attacks.PGD{Steps: 20, RandomStart: true})
	switch tm.Norm {
	case attacks.L1:
		s = s.With(pgd)
	case attacks.L2:
		s = s.With(WhiteBox(attacks.FGM{}), pgd)
	default:
		s = s.With(WhiteBox(attacks.FGSM{}), pgd)
	}
	// AutoAttack's standard version for the norm (FAB-T included; for L1,
	// APGD-CE, APGD-T and FAB-T, as AutoAttack runs it).
	c, err := VersionCascade(VersionStandard, tm.Norm)
	if err != nil { // unreachable: the standard version has every norm
		panic(err)
	}
	return s.WithAutoAttack(c...).WithChecks(nil)
}

// FastSuite is StandardSuite at about a fifth of its cost, for demos and
// quick looks: FGSM and PGD-10 one by one; a cascade of APGD-CE (25
// steps), APGD-T (25 steps over the 3 most likely other classes) and Square
// (1,000 queries); UnboundedPGD with 25 steps; the gradient check. Its
// worst case is a looser upper bound than StandardSuite's: quote
// StandardSuite's.
func FastSuite(eps ...float64) Suite {
	return FastSuiteFor(attacks.ThreatModel{Norm: attacks.Linf}, eps...)
}

// FastSuiteFor is FastSuite for tm's norm and box (see StandardSuiteFor).
func FastSuiteFor(tm attacks.ThreatModel, eps ...float64) Suite {
	s := StandardSuiteFor(tm, eps...)
	for k, a := range s.Attacks {
		if p, ok := a.Attack.(attacks.PGD); ok {
			p.Steps = 10
			s.Attacks[k].Attack = p
		}
	}
	if tm.Norm == attacks.L1 {
		s = s.WithAutoAttack() // PGD's sparse L1 steps alone, as fast as the others
	} else {
		s = s.WithAutoAttack(cascade(25, 3, 1000)...)
	}
	return s.WithChecks(attacks.UnboundedPGD{Steps: 25})
}

// cascade returns FastSuite's cascade, AutoAttack's standard one without
// FAB-T and with fewer steps and queries: APGD-CE and
// APGD-T (skipped below 4 classes) with steps steps, APGD-T over the
// targets most likely other classes, and Square with a budget of queries.
func cascade(steps, targets, queries int) []SuiteAttack {
	apgdt := WhiteBox(attacks.APGDT{Steps: steps, Targets: targets})
	apgdt.MinClasses = 4
	return []SuiteAttack{
		WhiteBox(attacks.APGD{Steps: steps, Loss: attacks.APGDCrossEntropy}),
		apgdt,
		BlackBox(attacks.Square{Queries: queries}, attacks.ScoreAccess, queries),
	}
}

// validate checks the suite and returns its eps sorted.
func (s Suite) validate() ([]float64, error) {
	if len(s.Eps) == 0 {
		return nil, fmt.Errorf("robustness: suite: empty Eps")
	}
	if s.Tolerance < 0 || math.IsNaN(s.Tolerance) || s.BatchSize < 0 || s.Examples < 0 || s.Passes < 0 {
		return nil, fmt.Errorf("robustness: suite: bad setting (Tolerance %v, BatchSize %d, Examples %d, Passes %d)", s.Tolerance, s.BatchSize, s.Examples, s.Passes)
	}
	if err := s.Shard.check(); err != nil {
		return nil, err
	}
	if s.Version != "" {
		if _, err := ParseVersion(string(s.Version)); err != nil {
			return nil, err
		}
	}
	check := func(what string, eps []float64) error {
		for _, e := range eps {
			if math.IsNaN(e) || math.IsInf(e, 0) || e < 0 {
				return fmt.Errorf("robustness: suite: %s eps %v must be finite and >= 0 (the unbounded check is Suite.Unbounded)", what, e)
			}
		}
		return nil
	}
	if err := check("Eps", s.Eps); err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for gi, group := range [][]SuiteAttack{s.Attacks, s.AutoAttack} {
		for k, a := range group {
			field := "Attacks"
			if gi == 1 {
				field = "AutoAttack"
			}
			if (a.Attack == nil) == (a.BlackBox == nil) {
				return nil, fmt.Errorf("robustness: suite: %s[%d] must set exactly one of Attack and BlackBox", field, k)
			}
			if a.Access != attacks.ScoreAccess && a.Access != attacks.LabelAccess {
				return nil, fmt.Errorf("robustness: suite: %s[%d] (%s) has unknown access %v", field, k, a.DisplayName(), a.Access)
			}
			if err := check(field+"["+a.DisplayName()+"]", a.Eps); err != nil {
				return nil, err
			}
			if gi == 1 && a.Eps != nil {
				return nil, fmt.Errorf("robustness: suite: AutoAttack[%d] (%s) sets Eps: the cascade runs at the suite's eps", k, a.DisplayName())
			}
			key := field + "/" + a.DisplayName()
			if names[key] {
				return nil, fmt.Errorf("robustness: suite: two %s named %q (set Name)", field, a.DisplayName())
			}
			names[key] = true
		}
	}
	eps := slices.Clone(s.Eps)
	slices.Sort(eps)
	return slices.Compact(eps), nil
}
