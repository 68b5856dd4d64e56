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
//     classes, FAB-T over 9 and Square with 5,000 queries, one run each
//     (Linf and L2); for L1, APGD-CE with 5 restarts and APGD-T over 5
//     classes.
//   - VersionPlus: APGD-CE and APGD-DLR with 5 restarts, FAB with 5
//     restarts, Square with 5,000 queries, APGD-T and FAB-T over 9 classes
//     (Square is left out for L1, which it does not support).
//   - VersionRand: APGD-CE and APGD-DLR, one run each, every step on the
//     mean gradient of 20 passes (EOT), for randomised models.
//
// Every APGD runs 100 steps. Each version's stages are a list of
// constructors (VersionStages), one per attack, in the cascade's order;
// the FAB and FAB-T stages are not in the lists yet.
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

// apgdStage is APGD with loss and restarts, wrapped in EOT over eot
// passes when eot > 1.
func apgdStage(loss attacks.APGDLoss, restarts, eot int) StageFunc {
	return func(attacks.Norm) (SuiteAttack, bool) {
		a := attacks.APGD{Steps: aaSteps, Restarts: restarts, Loss: loss}
		e := WhiteBox(a)
		if eot > 1 {
			e = WhiteBox(attacks.EOT{Attack: a, Samples: eot})
			e.Name = a.Name()
		}
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
// classes).
func apgdTStage(targets int) StageFunc {
	return whiteBoxStage(attacks.APGDT{Steps: aaSteps, Targets: targets, Restarts: 1}, 4)
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
// AutoAttack's order (without its FAB and FAB-T stages).
func VersionStages(v Version, norm attacks.Norm) ([]StageFunc, error) {
	switch v {
	case VersionStandard:
		if norm == attacks.L1 {
			return []StageFunc{
				apgdStage(attacks.APGDCrossEntropy, 5, 1),
				apgdTStage(5),
			}, nil
		}
		return []StageFunc{
			apgdStage(attacks.APGDCrossEntropy, 1, 1),
			apgdTStage(aaTargets),
			squareStage(aaQueries),
		}, nil
	case VersionPlus:
		return []StageFunc{
			apgdStage(attacks.APGDCrossEntropy, 5, 1),
			apgdStage(attacks.APGDDLR, 5, 1),
			squareStage(aaQueries),
			apgdTStage(aaTargets),
		}, nil
	case VersionRand:
		return []StageFunc{
			apgdStage(attacks.APGDCrossEntropy, 1, aaEOT),
			apgdStage(attacks.APGDDLR, 1, aaEOT),
		}, nil
	}
	_, err := ParseVersion(string(v))
	return nil, err
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
