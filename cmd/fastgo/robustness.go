package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/fastgo-ml/fastgo/adversarial/attacks"
	"github.com/fastgo-ml/fastgo/adversarial/robustness"
	"github.com/fastgo-ml/fastgo/data"
)

func init() {
	register(&command{
		name:  "robustness",
		short: "evaluate a model's robustness (robustness.Evaluate) and write its report: Markdown, JSON and PNG",
		run:   runRobustness,
	})
}

// robustnessSuites are the suites of -suite, by name.
var robustnessSuites = []string{"standard", "quick", "black-box"}

// robustnessSuite builds the suite named name for tm's norm at eps.
func robustnessSuite(name string, tm attacks.ThreatModel, eps []float64, queries int) (robustness.Suite, error) {
	switch name {
	case "standard":
		return robustness.StandardSuiteFor(tm, eps...), nil
	case "quick":
		var one attacks.Attack = attacks.FGSM{}
		if tm.Norm == attacks.L2 {
			one = attacks.FGM{}
		}
		s := robustness.NewSuite(tm, eps...)
		if tm.Norm != attacks.L1 {
			s = s.With(robustness.WhiteBox(one))
		}
		s = s.With(robustness.WhiteBox(attacks.PGD{Steps: 20, RandomStart: true}))
		if tm.Norm != attacks.L1 {
			s = s.With(robustness.BlackBox(attacks.Square{Queries: queries}, attacks.ScoreAccess, queries))
		}
		return s.WithChecks(nil), nil
	case "black-box":
		if tm.Norm == attacks.L1 {
			return robustness.Suite{}, usagef("-suite black-box has no L1 attack (use -norm linf or l2)")
		}
		return robustness.NewSuite(tm, eps...).With(
			robustness.BlackBox(attacks.Square{Queries: queries}, attacks.ScoreAccess, queries),
			robustness.BlackBox(attacks.SimBA{Basis: attacks.DCTBasis, Queries: queries}, attacks.ScoreAccess, queries),
			robustness.BlackBox(attacks.HopSkipJump{Queries: queries}, attacks.LabelAccess, queries),
		), nil
	}
	return robustness.Suite{}, usagef("unknown -suite %q (have %s)", name, strings.Join(robustnessSuites, ", "))
}

func runRobustness(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("robustness", stderr)
	var mf modelFlags
	mf.register(fs)
	dataDir := fs.String("data", "embedded", "the data whose validation images are attacked (as for fastgo train)")
	seed := fs.Uint64("seed", 42, "the data's split seed (train's -seed)")
	samples := fs.Int("samples", 500, "validation images to evaluate")
	epsFlag := fs.String("eps", "0.1", "comma-separated attack budgets, in [0,1] pixels (e.g. 0.05,0.1,0.15)")
	norm := fs.String("norm", "linf", "the threat model's norm: linf, l2 or l1")
	suite := fs.String("suite", "quick", "the attacks: quick (FGSM, PGD-20, Square; masking checks), standard (StandardSuite: FGSM, PGD-20, then AutoAttack's APGD-CE, APGD-T, Square-5000 cascade; masking checks), black-box (Square, SimBA-DCT, HopSkipJump)")
	queries := fs.Int("queries", 1000, "query budget per image of the black-box attacks of the quick and black-box suites")
	out := fs.String("out", "robustness", "the folder for report.md, report.json, accuracy.png and examples.png")
	setUsage(fs, "fastgo robustness (-model FILE | -weights FILE -arch ARCH) [-data ...] [-eps LIST] [-suite NAME] [-out DIR]", `
Measures how robust a model is with robustness.Evaluate: the clean
accuracy, each attack's robust accuracy at each eps (on the images the model
gets right), the worst case per image over every attack, and the
gradient-masking checks (one-step beating iterative attacks, black-box beating
white-box ones, accuracy rising with eps, an unbounded attack short of 100%,
zero or NaN gradients), each ok or FLAGGED. A FLAGGED check means the
white-box figures are too optimistic; see docs/adversarial.md. It prints the
table and writes the report to -out.

The standard suite is thorough and slow (AutoAttack's 100-step APGDs and
5,000-query Square on every surviving image); quick is for a first look.`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := mf.check(); err != nil {
		return err
	}
	eps, err := parseFloats("eps", *epsFlag)
	if err != nil {
		return err
	}
	af := attackFlags{norm: *norm, eps: eps[0]}
	tm, err := af.threat()
	if err != nil {
		return err
	}
	switch {
	case *samples < 1:
		return usagef("-samples %d must be positive", *samples)
	case *queries < 1:
		return usagef("-queries %d must be positive", *queries)
	case *out == "":
		return usagef("-out must name a folder")
	}
	for _, e := range eps {
		if !(e >= 0) || e > 1 {
			return usagef("-eps %v must be in [0, 1]", e)
		}
	}
	s, err := robustnessSuite(*suite, tm, eps, *queries)
	if err != nil {
		return err
	}
	lm, err := mf.load()
	if err != nil {
		return err
	}
	ctx, stop := interruptContext()
	defer stop()
	dls, desc, err := lm.validData(ctx, dataFlags{data: *dataDir, bs: 250, seed: *seed, validPct: 0.2, csvHeader: true})
	if err != nil {
		return err
	}
	b, err := data.First(ctx, dls.Valid, *samples)
	if err != nil {
		return err
	}
	x, y := b.X, b.Y
	fmt.Fprintf(stdout, "evaluating %s on the first %d validation images of %s: %s suite, %s eps %s\n",
		lm.Source, len(y), desc, *suite, tm.Norm, *epsFlag)
	s.Log = &prefixWriter{w: stdout, prefix: "  "}
	r, err := robustness.Evaluate(ctx, lm.Learner.Model, x, y, s)
	if err != nil {
		return interrupted(ctx, err, "")
	}
	r.Classes = lm.Classes
	fmt.Fprintln(stdout)
	if err := r.WriteTable(stdout); err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	if err := r.Save(*out); err != nil {
		return err
	}
	files := []string{"report.md", "report.json", "accuracy.png"}
	if len(r.Examples) > 0 {
		files = append(files, "examples.png")
	}
	for i, f := range files {
		files[i] = filepath.Join(*out, f)
	}
	fmt.Fprintf(stdout, "\nwrote %s\n", strings.Join(files, ", "))
	return nil
}

// prefixWriter prefixes every line written to w.
type prefixWriter struct {
	w      io.Writer
	prefix string
	mid    bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	for i, c := range b {
		if !p.mid {
			if _, err := io.WriteString(p.w, p.prefix); err != nil {
				return i, err
			}
			p.mid = true
		}
		if _, err := p.w.Write([]byte{c}); err != nil {
			return i, err
		}
		if c == '\n' {
			p.mid = false
		}
	}
	return len(b), nil
}
