package robustness

import (
	"fmt"
	"strings"

	"github.com/fastgo-ml/fastgo/adversarial/attacks"
)

// Version names one of AutoAttack's configurations of its cascade
// (Croce and Hein, 2020; the set_version of their code):
//
//   - VersionStandard: APGD-CE, APGD-T over the 9 most likely other
//     classes, FAB-T over 9 and Square with 5,000 queries (AutoAttack's
//     schedule), one run each; for L1, APGD-CE with 5 restarts and APGD-T
//     over 5 classes, both from 3 eps down to eps (LargeEps), then FAB-T
//     (Square does not support L1).
//   - VersionPlus: APGD-CE and APGD-DLR with 5 restarts, FAB with 5
//     restarts, Square with 5,000 queries, APGD-T and FAB-T over 9 classes
//     (Square is left out for L1).
//   - VersionRand: APGD-CE and APGD-DLR, one run each, every step on the
//     mean of 20 passes (EOT), for randomised models.
//
// Every APGD and FAB runs 100 steps. Each version's stages are a list of
// constructors (VersionStages), one per attack, in the cascade's order.
// The cascade runs FAB and FAB-T with their Eps set to the eps it
// evaluates, as AutoAttack does.
type Version string

// The versions of Version.
const (
	VersionStandard Version = "standard"
	VersionPlus     Version = "plus"
	VersionRand     Version = "rand"
)

// Versions lists the versions, in AutoAttack's order.
var Versions = []Version{VersionStandard, VersionPlus, VersionRand}

// ParseVersion returns the version named s ("standard", "plus" or "rand").
func ParseVersion(s string) (Version, error) {
	for _, v := range Versions {
		if string(v) == s {
			return v, nil
		}
	}
	names := make([]string, len(Versions))
	for i, v := range Versions {
		names[i] = string(v)
	}
	return "", fmt.Errorf("robustness: unknown version %q (have %s)", s, strings.Join(names, ", "))
}

// StageFunc builds one stage of a version's cascade for a norm; ok is
// false when the stage does not exist for that norm (Square under L1).
type StageFunc func(norm attacks.Norm) (stage SuiteAttack, ok bool)

// AutoAttack's defaults, shared by the versions.
const (
	aaSteps   = 100  // APGD's and FAB's iterations
	aaTargets = 9    // target classes of APGD-T and FAB-T
	aaQueries = 5000 // Square's queries
	aaEOT     = 20   // passes per step of the rand version
)

// apgdStage is APGD with loss and restarts, each step on the mean of eot
// passes when eot > 1, from 3 eps down for L1 when largeL1 is set.
func apgdStage(loss attacks.APGDLoss, restarts, eot int, largeL1 bool) StageFunc {
	return func(n attacks.Norm) (SuiteAttack, bool) {
		e := WhiteBox(attacks.APGD{Steps: aaSteps, Restarts: restarts, Loss: loss, EOT: eot, LargeEps: largeL1 && n == attacks.L1})
		if loss == attacks.APGDDLR {
			e.MinClasses = 3 // the DLR loss reads the third logit
		}
		return e, true
	}
}

// whiteBoxStage is the white-box attack a, skipped for models with fewer
// than minClasses classes (0: none).
func whiteBoxStage(a attacks.Attack, minClasses int) StageFunc {
	return func(attacks.Norm) (SuiteAttack, bool) {
		e := WhiteBox(a)
		e.MinClasses = minClasses
		return e, true
	}
}

// apgdTStage is APGD-T over targets classes (its targeted DLR loss needs 4
// classes), from 3 eps down for L1 when largeL1 is set.
func apgdTStage(targets int, largeL1 bool) StageFunc {
	return func(n attacks.Norm) (SuiteAttack, bool) {
		e := WhiteBox(attacks.APGDT{Steps: aaSteps, Targets: targets, Restarts: 1, LargeEps: largeL1 && n == attacks.L1})
		e.MinClasses = 4
		return e, true
	}
}

// squareStage is Square with queries queries, for Linf and L2.
func squareStage(queries int) StageFunc {
	return func(n attacks.Norm) (SuiteAttack, bool) {
		if n == attacks.L1 {
			return SuiteAttack{}, false
		}
		return BlackBox(attacks.Square{Queries: queries}, attacks.ScoreAccess, queries), true
	}
}

// VersionStages returns the constructors of v's cascade for norm, in
// AutoAttack's order.
func VersionStages(v Version, norm attacks.Norm) ([]StageFunc, error) {
	switch v {
	case VersionStandard:
		if norm == attacks.L1 {
			return []StageFunc{
				apgdStage(attacks.APGDCrossEntropy, 5, 1, true),
				apgdTStage(5, true),
				whiteBoxStage(attacks.FABT{Steps: aaSteps, Targets: aaTargets, Restarts: 1}, 0),
			}, nil
		}
		return []StageFunc{
			apgdStage(attacks.APGDCrossEntropy, 1, 1, false),
			apgdTStage(aaTargets, false),
			whiteBoxStage(attacks.FABT{Steps: aaSteps, Targets: aaTargets, Restarts: 1}, 0),
			squareStage(aaQueries),
		}, nil
	case VersionPlus:
		return []StageFunc{
			apgdStage(attacks.APGDCrossEntropy, 5, 1, false),
			apgdStage(attacks.APGDDLR, 5, 1, false),
			whiteBoxStage(attacks.FAB{Steps: aaSteps, Restarts: 5}, 0),
			squareStage(aaQueries),
			apgdTStage(aaTargets, false),
			whiteBoxStage(attacks.FABT{Steps: aaSteps, Targets: aaTargets, Restarts: 1}, 0),
		}, nil
	case VersionRand:
		return []StageFunc{
			apgdStage(attacks.APGDCrossEntropy, 1, aaEOT, false),
			apgdStage(attacks.APGDDLR, 1, aaEOT, false),
		}, nil
	}
	_, err := ParseVersion(string(v))
	return nil, err
}

// fabAtEps returns a with its Eps set to eps when it is a FAB or FAB-T whose
// Eps is unset: the radius of its restarts, and the eps within which a
// sample needs no further run (AutoAttack sets FAB's eps so).
func fabAtEps(a attacks.Attack, eps float64) attacks.Attack {
	switch f := a.(type) {
	case attacks.FAB:
		if f.Eps == 0 {
			f.Eps = eps
		}
		return f
	case attacks.FABT:
		if f.Eps == 0 {
			f.Eps = eps
		}
		return f
	}
	return a
}

// VersionCascade returns v's cascade for norm, built from VersionStages.
func VersionCascade(v Version, norm attacks.Norm) ([]SuiteAttack, error) {
	fs, err := VersionStages(v, norm)
	if err != nil {
		return nil, err
	}
	var out []SuiteAttack
	for _, f := range fs {
		if e, ok := f(norm); ok {
			out = append(out, e)
		}
	}
	return out, nil
}

// VersionSuite returns StandardSuiteFor(tm, eps...) with its cascade
// replaced by version v's (see Version), and Suite.Version set.
func VersionSuite(v Version, tm attacks.ThreatModel, eps ...float64) (Suite, error) {
	c, err := VersionCascade(v, tm.Norm)
	if err != nil {
		return Suite{}, err
	}
	s := StandardSuiteFor(tm, eps...).WithAutoAttack(c...)
	s.Version = v
	return s, nil
}
