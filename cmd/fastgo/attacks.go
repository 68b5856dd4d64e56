package main

import (
	"flag"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/fastgo-ml/fastgo/adversarial/attacks"
	"github.com/fastgo-ml/fastgo/layers"
)

// attackFlags choose an attack and its threat model.
type attackFlags struct {
	name     string
	norm     string
	eps      float64
	steps    int
	restarts int
	queries  int
	seed     uint64
}

// attackMaker builds an attack from the flags: a white-box Attack or a
// black-box BlackBoxAttack (the other is nil).
type attackMaker struct {
	help string
	// labels says that a black-box attack needs only the top class (a
	// label oracle); otherwise it reads scores.
	labels bool
	make   func(f *attackFlags) (attacks.Attack, attacks.BlackBoxAttack)
}

// attackMakers are the attacks the commands offer, by -attack name.
var attackMakers = map[string]attackMaker{
	"fgsm": {"FGSM (Goodfellow et al.): one signed-gradient step of eps (Linf)", false, func(f *attackFlags) (attacks.Attack, attacks.BlackBoxAttack) {
		return attacks.FGSM{}, nil
	}},
	"fgm": {"FGM: one L2-normalised gradient step of eps (L2)", false, func(f *attackFlags) (attacks.Attack, attacks.BlackBoxAttack) {
		return attacks.FGM{}, nil
	}},
	"bim": {"BIM (Kurakin et al.): -steps iterations from the image itself", false, func(f *attackFlags) (attacks.Attack, attacks.BlackBoxAttack) {
		return attacks.BIM{Steps: f.steps}, nil
	}},
	"pgd": {"PGD (Madry et al.): -steps iterations from a random start, -restarts runs", false, func(f *attackFlags) (attacks.Attack, attacks.BlackBoxAttack) {
		return attacks.PGD{Steps: f.steps, RandomStart: true, Restarts: f.restarts, Seed: f.seed}, nil
	}},
	"mifgsm": {"MI-FGSM (Dong et al.): momentum iterative FGSM, -steps iterations", false, func(f *attackFlags) (attacks.Attack, attacks.BlackBoxAttack) {
		return attacks.MIFGSM{Steps: f.steps}, nil
	}},
	"apgd": {"APGD-CE (Croce and Hein): step-size-free PGD, -steps iterations, -restarts runs", false, func(f *attackFlags) (attacks.Attack, attacks.BlackBoxAttack) {
		return attacks.APGD{Steps: f.steps, Restarts: f.restarts, Seed: f.seed}, nil
	}},
	"apgd-dlr": {"APGD with the DLR loss (scale-invariant; untargeted)", false, func(f *attackFlags) (attacks.Attack, attacks.BlackBoxAttack) {
		return attacks.APGD{Steps: f.steps, Restarts: f.restarts, Loss: attacks.APGDDLR, Seed: f.seed}, nil
	}},
	"apgd-t": {"APGD-T: targeted DLR over the top classes, best of them (untargeted goal)", false, func(f *attackFlags) (attacks.Attack, attacks.BlackBoxAttack) {
		return attacks.APGDT{Steps: f.steps, Restarts: f.restarts, Seed: f.seed}, nil
	}},
	"fab": {"FAB (Croce and Hein): minimum-norm, steps to the linearised boundary; -steps, -restarts", false, func(f *attackFlags) (attacks.Attack, attacks.BlackBoxAttack) {
		return attacks.FAB{Steps: f.steps, Restarts: f.restarts, Seed: f.seed}, nil
	}},
	"fab-t": {"FAB-T: FAB toward each of the 9 most likely other classes (AutoAttack's third stage)", false, func(f *attackFlags) (attacks.Attack, attacks.BlackBoxAttack) {
		return attacks.FABT{Steps: f.steps, Restarts: f.restarts, Seed: f.seed}, nil
	}},
	"cw": {"Carlini-Wagner L2: the smallest L2 perturbation (minimum-norm; projected onto -eps)", false, func(f *attackFlags) (attacks.Attack, attacks.BlackBoxAttack) {
		return attacks.CW{Steps: f.steps}, nil
	}},
	"deepfool": {"DeepFool (Moosavi-Dezfooli et al.): minimum-norm by linearising the boundary", false, func(f *attackFlags) (attacks.Attack, attacks.BlackBoxAttack) {
		return attacks.DeepFool{Steps: f.steps}, nil
	}},
	"square": {"Square attack (Andriushchenko et al.): black-box, scores only, -queries per image", false, func(f *attackFlags) (attacks.Attack, attacks.BlackBoxAttack) {
		return nil, attacks.Square{Queries: f.queries, Seed: f.seed}
	}},
	"simba": {"SimBA (Guo et al.): black-box, scores only, pixel basis", false, func(f *attackFlags) (attacks.Attack, attacks.BlackBoxAttack) {
		return nil, attacks.SimBA{Queries: f.queries, Seed: f.seed}
	}},
	"simba-dct": {"SimBA with the low-frequency DCT basis", false, func(f *attackFlags) (attacks.Attack, attacks.BlackBoxAttack) {
		return nil, attacks.SimBA{Basis: attacks.DCTBasis, Queries: f.queries, Seed: f.seed}
	}},
	"nes": {"NES (Ilyas et al.): black-box gradient estimate driving PGD steps", false, func(f *attackFlags) (attacks.Attack, attacks.BlackBoxAttack) {
		return nil, attacks.NES{Queries: f.queries, Seed: f.seed}
	}},
	"spsa": {"SPSA (Uesato et al.): black-box gradient estimate, margin loss", false, func(f *attackFlags) (attacks.Attack, attacks.BlackBoxAttack) {
		return nil, attacks.SPSA{Queries: f.queries, Seed: f.seed}
	}},
	"hsj": {"HopSkipJump (Chen et al.): black-box, top class only (decision-based)", true, func(f *attackFlags) (attacks.Attack, attacks.BlackBoxAttack) {
		return nil, attacks.HopSkipJump{Queries: f.queries, Seed: f.seed}
	}},
}

func attackNames() []string {
	names := make([]string, 0, len(attackMakers))
	for n := range attackMakers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// attackList describes every attack, one per line, for a usage text.
func attackList() string {
	var b strings.Builder
	for _, n := range attackNames() {
		fmt.Fprintf(&b, "  %-10s %s\n", n, attackMakers[n].help)
	}
	return b.String()
}

func (f *attackFlags) register(fs *flag.FlagSet, def string, defSteps int) {
	fs.StringVar(&f.name, "attack", def, "the attack: "+strings.Join(attackNames(), ", "))
	fs.StringVar(&f.norm, "norm", "linf", "the threat model's norm: linf, l2 or l1")
	fs.Float64Var(&f.eps, "eps", attacks.DefaultEps, "the attack budget, in [0,1] pixels, in -norm")
	fs.IntVar(&f.steps, "steps", defSteps, "iterations of an iterative white-box attack")
	fs.IntVar(&f.restarts, "restarts", 1, "random restarts of PGD (each sample keeps its best run)")
	fs.IntVar(&f.queries, "queries", 1000, "query budget per image of a black-box attack")
	fs.Uint64Var(&f.seed, "attack-seed", 0, "seed of the attack's random choices")
}

// threat returns the threat model of the flags.
func (f *attackFlags) threat() (attacks.ThreatModel, error) {
	var n attacks.Norm
	switch strings.ToLower(f.norm) {
	case "linf", "inf":
		n = attacks.Linf
	case "l2":
		n = attacks.L2
	case "l1":
		n = attacks.L1
	default:
		return attacks.ThreatModel{}, usagef("unknown -norm %q (have linf, l2, l1)", f.norm)
	}
	if err := checkEps("-eps", f.eps, n); err != nil {
		return attacks.ThreatModel{}, err
	}
	tm := attacks.ThreatModel{Norm: n, Eps: f.eps}
	if err := tm.Validate(); err != nil {
		return tm, usagef("-eps %v -norm %s: %v", f.eps, f.norm, err)
	}
	return tm, nil
}

// oracle returns the oracle a black-box attack of the flags gets over
// model: scores, or labels only for a decision-based attack, with the
// -queries budget per image.
func (f *attackFlags) oracle(model layers.Module) *attacks.Oracle {
	if attackMakers[strings.ToLower(f.name)].labels {
		return attacks.NewLabelOracle(model, f.queries)
	}
	return attacks.NewScoreOracle(model, f.queries)
}

// build returns the attack of the flags.
func (f *attackFlags) build() (attacks.Attack, attacks.BlackBoxAttack, error) {
	m, ok := attackMakers[strings.ToLower(f.name)]
	switch {
	case !ok:
		return nil, nil, usagef("unknown -attack %q (have %s)", f.name, strings.Join(attackNames(), ", "))
	case f.steps < 1:
		return nil, nil, usagef("-steps %d must be positive", f.steps)
	case f.restarts < 1:
		return nil, nil, usagef("-restarts %d must be positive", f.restarts)
	case f.queries < 1:
		return nil, nil, usagef("-queries %d must be positive", f.queries)
	}
	w, b := m.make(f)
	return w, b, nil
}

// checkEps refuses an eps outside the pixel range: pixels are in [0,1], so
// a Linf budget above 1 (255/255) means nothing, and none is negative.
func checkEps(flag string, eps float64, n attacks.Norm) error {
	hint := ""
	if eps > 1 && eps <= 255 {
		hint = fmt.Sprintf(" (%g/255 is %.4f)", eps, eps/255)
	}
	switch {
	case !(eps >= 0) || math.IsInf(eps, 0):
		return usagef("%s %v: eps is in [0,1] pixel units (0.03 is about 8/255)", flag, eps)
	case n == attacks.Linf && eps > 1:
		return usagef("%s %v is outside [0,1]: eps is in [0,1] pixel units%s", flag, eps, hint)
	}
	return nil
}
