package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
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
	if len(args) > 0 && args[0] == "merge" {
		return runRobustnessMerge(args[1:], stdout, stderr)
	}
	r, out, err := robustnessEvaluate(args, stdout, stderr)
	if err != nil || r == nil {
		return err
	}
	if err := r.WriteTable(stdout); err != nil {
		return err
	}
	return saveRobustness(r, out, stdout)
}

// robustnessEvaluate parses robustness's flags and runs the evaluation
// (or the verification of -verify, returning a nil report); out is -out.
func robustnessEvaluate(args []string, stdout, stderr io.Writer) (r *robustness.Report, out string, err error) {
	fs, f := newRobustnessFlags(stderr)
	if err := parseFlags(fs, args); err != nil {
		return nil, "", err
	}
	if *f.verify != "" {
		others := 0
		fs.Visit(func(fl *flag.Flag) {
			if fl.Name != "verify" {
				others++
			}
		})
		if others > 0 {
			return nil, "", usagef("-verify takes no other flag: the report's manifest holds the command")
		}
		return nil, "", verifyRobustness(*f.verify, stdout, stderr)
	}
	if err := f.mf.check(); err != nil {
		return nil, "", err
	}
	tm, eps, err := f.threat()
	if err != nil {
		return nil, "", err
	}
	s, name, err := f.buildSuite(fs, tm, eps)
	if err != nil {
		return nil, "", err
	}
	// The command that re-runs this evaluation: every flag given but the
	// output and the shard.
	command := []string{"robustness"}
	fs.Visit(func(fl *flag.Flag) {
		if fl.Name != "out" && fl.Name != "shard" {
			command = append(command, "-"+fl.Name, fl.Value.String())
		}
	})
	if r, err = f.evaluate(s, name, tm, stdout); err != nil {
		return nil, "", err
	}
	r.Manifest.Command = command
	return r, *f.out, nil
}

// robustnessFlags are the flags of fastgo robustness.
type robustnessFlags struct {
	mf                                                     modelFlags
	dataDir, eps, norm, suite, version, shard, verify, out *string
	seed                                                   *uint64
	samples, passes, queries                               *int
}

// newRobustnessFlags returns fastgo robustness's flag set and its flags.
func newRobustnessFlags(stderr io.Writer) (*flag.FlagSet, *robustnessFlags) {
	fs := newFlagSet("robustness", stderr)
	f := &robustnessFlags{}
	f.mf.register(fs)
	f.dataDir = fs.String("data", "embedded", "the data whose validation images are attacked (as for fastgo train)")
	f.seed = fs.Uint64("seed", 42, "the data's split seed (train's -seed)")
	f.samples = fs.Int("samples", 500, "validation images to evaluate")
	f.eps = fs.String("eps", "0.1", "comma-separated attack budgets, in [0,1] pixels (e.g. 0.05,0.1,0.15)")
	f.norm = fs.String("norm", "linf", "the threat model's norm: linf, l2 or l1")
	f.suite = fs.String("suite", "quick", "the attacks: quick (FGSM, PGD-20, Square; masking checks), standard (StandardSuite: FGSM, PGD-20, then AutoAttack's standard cascade, APGD-CE, APGD-T, FAB-T, Square-5000; masking checks), black-box (Square, SimBA-DCT, HopSkipJump)")
	f.version = fs.String("version", "", "AutoAttack's version of the cascade instead of -suite: standard, plus or rand (with FGSM or FGM, PGD-20 and the masking checks)")
	f.passes = fs.Int("passes", 20, "passes over which each adversarial example is scored when the model's outputs vary between passes (a randomised model)")
	f.queries = fs.Int("queries", 1000, "query budget per image of the black-box attacks of the quick and black-box suites")
	f.shard = fs.String("shard", "", "evaluate only the slice i/n of the images (0 <= i < n) and write a part for fastgo robustness merge")
	f.verify = fs.String("verify", "", "re-run the evaluation a report.json describes (its manifest) and compare the per-sample outcomes; fails naming the samples that differ")
	f.out = fs.String("out", "robustness", "the folder for report.html, report.md, report.json, accuracy.png and examples.png")
	setUsage(fs, "fastgo robustness (-model FILE | -weights FILE -arch ARCH) [-data ...] [-eps LIST] [-suite NAME | -version V] [-shard i/n] [-out DIR]\n       fastgo robustness -verify REPORT\n       fastgo robustness merge PARTS... -out DIR", `
Measures how robust a model is with robustness.Evaluate: the clean
accuracy, each attack's robust accuracy at each eps (on the images the model
gets right), the worst case per image over every attack, and the
gradient-masking checks (one-step beating iterative attacks, black-box beating
white-box ones, accuracy rising with eps, an unbounded attack short of 100%,
zero or NaN gradients, outputs varying between passes), each ok or FLAGGED.
A FLAGGED check means the white-box figures are too optimistic; see
docs/adversarial.md. It prints the table and writes the report to -out.

The standard suite is thorough and slow (AutoAttack's 100-step APGDs and
5,000-query Square on every surviving image); quick is for a first look.
-version standard|plus|rand runs AutoAttack's versions of the cascade.

Every report holds a manifest (hashes of the weights, images and labels, the
suite, fastgo's version and kernel tier) and the per-image outcomes:
-verify REPORT re-runs it and names the images whose outcome changed. With
-shard i/n each machine evaluates one slice; "fastgo robustness merge
PARTS... -out DIR" writes the report of the whole run from the parts.`)
	return fs, f
}

// threat parses -eps and -norm into the threat model (at the first eps)
// and the budgets, and checks -samples, -queries, -passes and -out.
func (f *robustnessFlags) threat() (attacks.ThreatModel, []float64, error) {
	eps, err := parseFloats("eps", *f.eps)
	if err != nil {
		return attacks.ThreatModel{}, nil, err
	}
	af := attackFlags{norm: *f.norm, eps: eps[0]}
	tm, err := af.threat()
	if err != nil {
		return attacks.ThreatModel{}, nil, err
	}
	switch {
	case *f.samples < 1:
		return attacks.ThreatModel{}, nil, usagef("-samples %d must be positive", *f.samples)
	case *f.queries < 1:
		return attacks.ThreatModel{}, nil, usagef("-queries %d must be positive", *f.queries)
	case *f.passes < 2:
		return attacks.ThreatModel{}, nil, usagef("-passes %d must be at least 2", *f.passes)
	case *f.out == "":
		return attacks.ThreatModel{}, nil, usagef("-out must name a folder")
	}
	for _, e := range eps {
		if err := checkEps("-eps", e, tm.Norm); err != nil {
			return attacks.ThreatModel{}, nil, err
		}
	}
	return tm, eps, nil
}

// buildSuite returns the suite -suite or -version names, with -passes and
// -shard, and its name for the log.
func (f *robustnessFlags) buildSuite(fs *flag.FlagSet, tm attacks.ThreatModel, eps []float64) (robustness.Suite, string, error) {
	suiteSet := false
	fs.Visit(func(fl *flag.Flag) { suiteSet = suiteSet || fl.Name == "suite" })
	var s robustness.Suite
	var err error
	name := *f.suite + " suite"
	if *f.version != "" {
		if suiteSet {
			return s, "", usagef("give -suite or -version, not both")
		}
		v, err := robustness.ParseVersion(*f.version)
		if err != nil {
			return s, "", usagef("unknown -version %q (have standard, plus, rand)", *f.version)
		}
		if s, err = robustness.VersionSuite(v, tm, eps...); err != nil {
			return s, "", err
		}
		name = "AutoAttack " + *f.version + " version"
	} else if s, err = robustnessSuite(*f.suite, tm, eps, *f.queries); err != nil {
		return s, "", err
	}
	s.Passes = *f.passes
	if *f.shard != "" {
		if s.Shard, err = robustness.ParseShard(*f.shard); err != nil {
			return s, "", usagef("-shard %q must be i/n with 0 <= i < n", *f.shard)
		}
	}
	return s, name, nil
}

// evaluate loads the model and the first -samples validation images (the
// shard's slice of them) and runs the suite s on them, logging to stdout.
func (f *robustnessFlags) evaluate(s robustness.Suite, name string, tm attacks.ThreatModel, stdout io.Writer) (*robustness.Report, error) {
	lm, err := f.mf.load()
	if err != nil {
		return nil, err
	}
	ctx, stop := interruptContext()
	defer stop()
	dls, desc, err := lm.validData(ctx, dataFlags{data: *f.dataDir, bs: 250, seed: *f.seed, validPct: 0.2, csvHeader: true})
	if err != nil {
		return nil, err
	}
	b, err := data.First(ctx, dls.Valid, *f.samples)
	if err != nil {
		return nil, err
	}
	x, y := b.X, b.Y
	part := ""
	if s.Shard.Count > 0 {
		lo, hi := s.Shard.Range(len(y))
		if hi == lo {
			return nil, usagef("-shard %s of %d images is empty (use fewer shards)", s.Shard, len(y))
		}
		part = fmt.Sprintf(" (shard %s: images %d to %d)", s.Shard, lo, hi-1)
	}
	fmt.Fprintf(stdout, "evaluating %s on the first %d validation images of %s%s: %s, %s eps %s\n",
		lm.Source, len(y), desc, part, name, tm.Norm, *f.eps)
	s.Log = &prefixWriter{w: stdout, prefix: "  "}
	r, err := robustness.Evaluate(ctx, lm.Learner.Model, x, y, s)
	if err != nil {
		return nil, interrupted(ctx, err, "")
	}
	r.Classes = lm.Classes
	fmt.Fprintln(stdout)
	return r, nil
}

// saveRobustness writes r's files to out and names them.
func saveRobustness(r *robustness.Report, out string, stdout io.Writer) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if err := r.Save(out); err != nil {
		return err
	}
	files := []string{"report.html", "report.md", "report.json", "accuracy.png"}
	if len(r.Examples) > 0 {
		files = append(files, "examples.png")
	}
	for i, f := range files {
		files[i] = filepath.Join(out, f)
	}
	fmt.Fprintf(stdout, "\nwrote %s\n", strings.Join(files, ", "))
	return nil
}

// reportPath returns path, or its report.json when path is a folder.
func reportPath(path string) string {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return filepath.Join(path, "report.json")
	}
	return path
}

// verifyRobustness re-runs the evaluation of the report at path and
// compares the per-sample outcomes.
func verifyRobustness(path string, stdout, stderr io.Writer) error {
	path = reportPath(path)
	want, err := robustness.ReadReport(path)
	if err != nil {
		return err
	}
	if want.Manifest == nil || want.Outcomes == nil || len(want.Manifest.Command) == 0 {
		return fmt.Errorf("%s: no manifest with a command and per-sample outcomes (a report of fastgo robustness holds them)", path)
	}
	if want.Manifest.Shard == nil && want.Outcomes.First != 0 {
		return fmt.Errorf("%s: outcomes from image %d without a shard", path, want.Outcomes.First)
	}
	args := slices.Clone(want.Manifest.Command)
	if args[0] != "robustness" {
		return fmt.Errorf("%s: the manifest's command %q is not one of fastgo robustness", path, strings.Join(args, " "))
	}
	args = args[1:]
	for _, a := range args {
		if f := strings.TrimLeft(a, "-"); f == "verify" || strings.HasPrefix(f, "verify=") {
			return fmt.Errorf("%s: the manifest's command holds -verify", path)
		}
	}
	if sh := want.Manifest.Shard; sh != nil {
		args = append(args, "-shard", sh.String())
	}
	fmt.Fprintf(stdout, "re-running fastgo robustness %s\n", strings.Join(args, " "))
	got, _, err := robustnessEvaluate(args, io.Discard, stderr)
	if err != nil {
		return err
	}
	c, err := robustness.CompareReports(want, got)
	if err != nil {
		return err
	}
	if want.Manifest.Fastgo != got.Manifest.Fastgo {
		fmt.Fprintf(stdout, "  note: the report was written by fastgo %s, the re-run by fastgo %s\n", want.Manifest.Fastgo, got.Manifest.Fastgo)
	}
	how := "bit for bit (same kernel tier " + got.Manifest.KernelTier + ")"
	if !c.SameTier {
		how = fmt.Sprintf("outcomes only (kernel tier %s, then %s)", want.Manifest.KernelTier, got.Manifest.KernelTier)
	}
	if c.OK() {
		fmt.Fprintf(stdout, "verified %s: the %d images' outcomes are the same, %s\n", path, want.Samples, how)
		return nil
	}
	for _, m := range c.Manifest {
		fmt.Fprintf(stdout, "  differs: %s\n", m)
	}
	const show = 20
	for k, d := range c.Samples {
		if k == show {
			fmt.Fprintf(stdout, "  ... and %d more\n", len(c.Samples)-show)
			break
		}
		fmt.Fprintf(stdout, "  image %d: %s\n", d.Sample, d.What)
	}
	if len(c.Samples) == 0 {
		return fmt.Errorf("verify %s: the evaluation differs (%s), the outcomes do not", path, strings.Join(c.Manifest, "; "))
	}
	return fmt.Errorf("verify %s: the outcomes of images %s differ, compared %s", path, c.SampleList(), how)
}

// runRobustnessMerge is "fastgo robustness merge PARTS... -out DIR".
func runRobustnessMerge(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("robustness merge", stderr)
	out := fs.String("out", "", "the folder for the merged report.html, report.md, report.json and accuracy.png")
	setUsage(fs, "fastgo robustness merge PARTS... -out DIR", `
Merges the parts written by fastgo robustness -shard i/n (each a report.json
or the folder holding it), one per shard, into the report of the whole
evaluation: the same per-image outcomes and figures as one run on one
machine. A missing or duplicated shard, or a part of another evaluation
(other weights, images or suite), is an error naming the part.`)
	var paths []string
	rest := args
	for {
		fs.SetOutput(io.Discard)
		err := fs.Parse(rest)
		fs.SetOutput(stderr)
		if err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.Usage()
				return err
			}
			return usagef("%v", err)
		}
		if fs.NArg() == 0 {
			break
		}
		paths = append(paths, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(paths) == 0 {
		return usagef("no parts to merge (give the parts' report.json files or folders)")
	}
	if *out == "" {
		return usagef("-out must name a folder")
	}
	var parts []robustness.Part
	for _, p := range paths {
		p = reportPath(p)
		r, err := robustness.ReadReport(p)
		if err != nil {
			return err
		}
		parts = append(parts, robustness.Part{Name: p, Report: r})
	}
	r, err := robustness.MergeReports(parts...)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "merged %d parts: %d images\n\n", len(parts), r.Samples)
	if err := r.WriteTable(stdout); err != nil {
		return err
	}
	return saveRobustness(r, *out, stdout)
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
