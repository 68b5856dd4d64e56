package robustness

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/fastgo-ml/fastgo/internal/atomicfile"

	"github.com/fastgo-ml/fastgo/tensor"
)

// Report is the outcome of EvaluateRobustness. Accuracies are shares of
// all Samples; success rates are shares of the initially correct samples
// (the ones attacked). Every number is finite, so the report round-trips
// through JSON (WriteJSON, ReadReport).
type Report struct {
	// Norm is the threat model's norm ("Linf", "L2", "L1").
	Norm string `json:"norm"`
	// Lo is the lower bound of the pixel box.
	Lo float64 `json:"lo"`
	// Hi is the upper bound of the pixel box.
	Hi float64 `json:"hi"`
	// Eps is the suite's list of eps, ascending.
	Eps []float64 `json:"eps"`
	// Samples is the number of samples evaluated.
	Samples int `json:"samples"`
	// Correct is the number of samples the model classifies correctly.
	Correct int `json:"correct"`
	// CleanAccuracy is Correct / Samples.
	CleanAccuracy float64 `json:"clean_accuracy"`
	// Classes names the classes when known (the learner's vocabulary).
	Classes []string `json:"classes,omitempty"`
	// Labels is each sample's true label.
	Labels []int `json:"labels"`
	// CleanPred is each sample's clean prediction.
	CleanPred []int `json:"clean_pred"`
	// Attacks holds the suite's attacks one by one, in order.
	Attacks []AttackReport `json:"attacks"`
	// AutoAttack holds the cascade at each eps (empty without one).
	AutoAttack []CascadeReport `json:"autoattack,omitempty"`
	// WorstCase is, at each eps, the per-sample worst case over every
	// attack of the suite at that eps or a smaller one.
	WorstCase []WorstCase `json:"worst_case"`
	// Checks are the gradient-masking checks that could run, each flagged
	// or not.
	Checks []Check `json:"checks"`
	// Unbounded is the unbounded check's measurement (nil when not run).
	Unbounded *UnboundedResult `json:"unbounded,omitempty"`
	// Gradients is the gradient check's measurement (nil when not run).
	Gradients *GradientResult `json:"gradients,omitempty"`
	// Seconds is the evaluation's wall time.
	Seconds float64 `json:"seconds"`
	// Randomised says whether the model's outputs varied between two
	// passes on the same input, and how it was then scored (nil in reports
	// written before it was measured).
	Randomised *Randomised `json:"randomised,omitempty"`
	// Manifest says what was measured and how to measure it again.
	Manifest *Manifest `json:"manifest,omitempty"`
	// Outcomes are the per-sample outcomes every figure above is computed
	// from (for MergeReports and CompareReports).
	Outcomes *Outcomes `json:"outcomes,omitempty"`
	// Examples are adversarial examples found at the largest eps, for
	// WriteExamples (not written to JSON).
	Examples []Example `json:"-"`
}

// AttackReport is one attack of the suite, at each of its eps.
type AttackReport struct {
	// Name is the entry's display name.
	Name string `json:"name"`
	// Kind is its role in the masking checks.
	Kind AttackKind `json:"kind"`
	// Targeted says whether the entry is targeted.
	Targeted bool `json:"targeted"`
	// Skipped says why the attack did not run (empty when it ran).
	Skipped string `json:"skipped,omitempty"`
	// Seconds is the attack's wall time over all its eps.
	Seconds float64 `json:"seconds"`
	// Results holds one row per eps, ascending.
	Results []AttackResult `json:"results"`
}

// AttackResult is one attack at one eps.
type AttackResult struct {
	// Eps is the budget of the row.
	Eps float64 `json:"eps"`
	// RobustAccuracy is the share of all samples classified correctly
	// after the attack (misclassified samples count as not robust).
	RobustAccuracy float64 `json:"robust_accuracy"`
	// Attacked is the number of initially correct samples attacked.
	Attacked int `json:"attacked"`
	// Succeeded is the number of those meeting the attack's criterion
	// (misclassified, or at the target).
	Succeeded int `json:"succeeded"`
	// SuccessRate is Succeeded / Attacked.
	SuccessRate float64 `json:"success_rate"`
	// MedianNorm is the median norm of the successful perturbations (0
	// with none).
	MedianNorm float64 `json:"median_norm"`
	// MeanNorm is their mean norm (0 with none).
	MeanNorm float64 `json:"mean_norm"`
	// MedianQueries is the median number of queries of the successful
	// samples of a black-box attack (0 for white-box attacks).
	MedianQueries float64 `json:"median_queries"`
	// MeanQueries is their mean number of queries.
	MeanQueries float64 `json:"mean_queries"`
	// TotalQueries is the number of queries over all attacked samples.
	TotalQueries int `json:"total_queries"`
	// MeanRobustAccuracy is, for a randomised model, the robust accuracy
	// averaged over the passes (RobustAccuracy is the worst case: robust
	// in every pass).
	MeanRobustAccuracy float64 `json:"mean_robust_accuracy,omitempty"`
	// Robust says, per sample, whether it was classified correctly after
	// the attack.
	Robust []bool `json:"robust"`
}

// CascadeReport is the AutoAttack-style cascade at one eps.
type CascadeReport struct {
	// Eps is the budget.
	Eps float64 `json:"eps"`
	// Stages holds each attack of the cascade, in order.
	Stages []StageResult `json:"stages"`
	// RobustAccuracy is the share of samples robust after every stage.
	RobustAccuracy float64 `json:"robust_accuracy"`
	// MeanRobustAccuracy is, for a randomised model, the share averaged
	// over the passes (each sample counted with its least robust stage).
	MeanRobustAccuracy float64 `json:"mean_robust_accuracy,omitempty"`
}

// Randomised is what the evaluation found about the model's randomness.
type Randomised struct {
	// Detected says whether two passes on the clean samples differed.
	Detected bool `json:"detected"`
	// MaxDifference is the largest difference between two outputs.
	MaxDifference float64 `json:"max_difference"`
	// Passes is the number of passes each adversarial example was scored
	// over (0 when not detected).
	Passes int `json:"passes,omitempty"`
	// Protocol says how the cascade changed (empty when it did not).
	Protocol string `json:"protocol,omitempty"`
}

// StageResult is one attack of the cascade at one eps.
type StageResult struct {
	// Name is the entry's display name.
	Name string `json:"name"`
	// Kind is its role in the masking checks.
	Kind AttackKind `json:"kind"`
	// Skipped says why the stage did not run (empty when it ran).
	Skipped string `json:"skipped,omitempty"`
	// Attacked is the number of samples still robust when the stage ran.
	Attacked int `json:"attacked"`
	// Fooled is the number of those it fooled.
	Fooled int `json:"fooled"`
	// RobustAccuracy is the share of all samples robust after the stage.
	RobustAccuracy float64 `json:"robust_accuracy"`
	// TotalQueries is the stage's queries (black-box stages).
	TotalQueries int `json:"total_queries"`
	// Seconds is the stage's wall time.
	Seconds float64 `json:"seconds"`
}

// WorstCase is the per-sample worst case at one eps.
type WorstCase struct {
	// Eps is the budget.
	Eps float64 `json:"eps"`
	// RobustAccuracy is the share of samples robust to every attack.
	RobustAccuracy float64 `json:"robust_accuracy"`
	// Robust says, per sample, whether no attack at this eps or a smaller
	// one fooled it (and it was correct).
	Robust []bool `json:"robust"`
}

// Check is one gradient-masking check (see CheckOneStep and the other
// Check names).
type Check struct {
	// Name is one of the Check names.
	Name string `json:"name"`
	// Flagged says whether the check found the symptom.
	Flagged bool `json:"flagged"`
	// Detail says what was measured.
	Detail string `json:"detail"`
}

// UnboundedResult is the unbounded attack's outcome.
type UnboundedResult struct {
	// Name is the attack's name.
	Name string `json:"name"`
	// Attacked is the number of initially correct samples attacked.
	Attacked int `json:"attacked"`
	// Succeeded is the number it fooled.
	Succeeded int `json:"succeeded"`
	// SuccessRate is Succeeded / Attacked (1 unless the gradients are
	// masked).
	SuccessRate float64 `json:"success_rate"`
}

// GradientResult is the gradient check's outcome.
type GradientResult struct {
	// Checked is the number of initially correct samples checked.
	Checked int `json:"checked"`
	// Zero is the number with an all-zero input gradient.
	Zero int `json:"zero"`
	// NonFinite is the number with a NaN or infinite one.
	NonFinite int `json:"non_finite"`
}

// Example is an adversarial example for the report's image grid.
type Example struct {
	// Index is the sample's position in the evaluated batch.
	Index int
	// Label is its label (the target, for ExamplesFromResult on a
	// targeted result).
	Label int
	// CleanPred and AdvPred are the model's predictions on the clean and
	// the adversarial image.
	CleanPred, AdvPred int
	// Attack names the attack that found it.
	Attack string
	// Eps is the budget it was found at.
	Eps float64
	// Clean and Adv are the images [C, H, W].
	Clean, Adv *tensor.Tensor
}

func (r *Report) addCheck(name string, flagged bool, ifFlagged, ifOK string) {
	d := strings.TrimSuffix(ifFlagged, "; ")
	if !flagged {
		d = ifOK
	}
	r.Checks = append(r.Checks, Check{Name: name, Flagged: flagged, Detail: d})
}

// Flags returns the checks that are flagged (none: no sign of gradient
// masking was found by the checks that ran).
func (r *Report) Flags() []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Flagged {
			out = append(out, c)
		}
	}
	return out
}

// Flagged reports whether the check called name ran and was flagged.
func (r *Report) Flagged(name string) bool {
	for _, c := range r.Checks {
		if c.Name == name {
			return c.Flagged
		}
	}
	return false
}

// WorstAccuracy returns the worst-case robust accuracy at eps, and false
// when eps is not in the report.
func (r *Report) WorstAccuracy(eps float64) (float64, bool) {
	for _, w := range r.WorstCase {
		if w.Eps == eps {
			return w.RobustAccuracy, true
		}
	}
	return 0, false
}

// table rows shared by the text and Markdown outputs.
func (r *Report) rows() (header []string, rows [][]string) {
	header = []string{"attack", "kind", "eps", "robust acc", "success", "median norm", "mean norm", "queries (mean/median)", "time"}
	for _, a := range r.Attacks {
		name := a.Name
		if a.Skipped != "" {
			rows = append(rows, []string{name, a.Kind.String(), "-", "skipped: " + a.Skipped, "", "", "", "", ""})
			continue
		}
		for k, res := range a.Results {
			q := "-"
			if a.Kind == BlackBoxKind {
				q = fmt.Sprintf("%.0f/%.0f", res.MeanQueries, res.MedianQueries)
			}
			t := ""
			if k == 0 {
				t = fmt.Sprintf("%.1fs", a.Seconds)
			}
			rows = append(rows, []string{name, a.Kind.String(), fmt.Sprintf("%g", res.Eps), fmt.Sprintf("%.4f", res.RobustAccuracy),
				fmt.Sprintf("%.4f", res.SuccessRate), fmt.Sprintf("%.4f", res.MedianNorm), fmt.Sprintf("%.4f", res.MeanNorm), q, t})
		}
	}
	for _, c := range r.AutoAttack {
		for _, st := range c.Stages {
			name := "AutoAttack: +" + st.Name
			if st.Skipped != "" {
				rows = append(rows, []string{name, st.Kind.String(), fmt.Sprintf("%g", c.Eps), "skipped: " + st.Skipped, "", "", "", "", ""})
				continue
			}
			q := "-"
			if st.Kind == BlackBoxKind {
				q = fmt.Sprintf("total %d", st.TotalQueries)
			}
			rows = append(rows, []string{name, st.Kind.String(), fmt.Sprintf("%g", c.Eps), fmt.Sprintf("%.4f", st.RobustAccuracy),
				fmt.Sprintf("%d/%d", st.Fooled, st.Attacked), "", "", q, fmt.Sprintf("%.1fs", st.Seconds)})
		}
	}
	for _, w := range r.WorstCase {
		rows = append(rows, []string{"worst case", "", fmt.Sprintf("%g", w.Eps), fmt.Sprintf("%.4f", w.RobustAccuracy), "", "", "", "", ""})
	}
	return header, rows
}

// WriteTable writes the report as a text table (for a terminal), its
// columns aligned (numbers to the right):
// the clean accuracy, a row per attack and eps, the cascade's stages and
// the worst case, then the checks, each "ok" or "FLAGGED".
func (r *Report) WriteTable(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "Robustness (%s, box [%g, %g]) on %d %s: clean accuracy %.4f (%d correct), %.1fs\n\n",
		r.Norm, r.Lo, r.Hi, r.Samples, plural(r.Samples, "sample", "samples"), r.CleanAccuracy, r.Correct, r.Seconds)
	header, rows := r.rows()
	bw.WriteString(alignedTable(header, rows))
	if len(r.Checks) > 0 {
		fmt.Fprintln(bw, "\nGradient-masking checks:")
		for _, c := range r.Checks {
			status := "ok     "
			if c.Flagged {
				status = "FLAGGED"
			}
			fmt.Fprintf(bw, "  %s  %s: %s\n", status, c.Name, c.Detail)
		}
	}
	return bw.Flush()
}

// Table returns WriteTable's text.
func (r *Report) Table() string {
	var b bytes.Buffer
	r.WriteTable(&b)
	return b.String()
}

// Markdown returns the report as Markdown: a summary line, the table, the
// checks and how to read them.
func (r *Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Robustness report\n\n%s threat model, box [%g, %g], %d %s: clean accuracy **%.4f** (%d correct); %.1f s.\n\n",
		r.Norm, r.Lo, r.Hi, r.Samples, plural(r.Samples, "sample", "samples"), r.CleanAccuracy, r.Correct, r.Seconds)
	if len(r.WorstCase) > 0 {
		b.WriteString("Worst-case robust accuracy: ")
		for k, w := range r.WorstCase {
			if k > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "**%.4f** at eps %g", w.RobustAccuracy, w.Eps)
		}
		b.WriteString(".\n\n")
	}
	if r.Manifest != nil && r.Manifest.Shard != nil {
		fmt.Fprintf(&b, "This is part %s of a sharded evaluation: samples %d to %d of %d (merge the parts with `fastgo robustness merge`).\n\n",
			r.Manifest.Shard, r.Outcomes.First, r.Outcomes.First+r.Samples-1, r.Manifest.Samples)
	}
	if rd := r.Randomised; rd != nil && rd.Detected {
		fmt.Fprintf(&b, "**The model is randomised**: two passes on the same input differ (by up to %.4g). Every adversarial example was scored over %d passes: the robust accuracies are the worst case (robust in every pass), with the mean over the passes in the \"mean robust\" figures.", rd.MaxDifference, rd.Passes)
		if rd.Protocol != "" {
			b.WriteString(" " + strings.ToUpper(rd.Protocol[:1]) + rd.Protocol[1:] + ".")
		}
		b.WriteString("\n\n")
		for _, c := range r.AutoAttack {
			fmt.Fprintf(&b, "- AutoAttack at eps %g: robust accuracy %.4f (worst over the passes), %.4f (mean)\n", c.Eps, c.RobustAccuracy, c.MeanRobustAccuracy)
		}
		for _, a := range r.Attacks {
			for _, res := range a.Results {
				fmt.Fprintf(&b, "- %s at eps %g: robust accuracy %.4f (worst), %.4f (mean)\n", a.Name, res.Eps, res.RobustAccuracy, res.MeanRobustAccuracy)
			}
		}
		b.WriteString("\n")
	}
	b.WriteString(markdownTable(r.rows()))
	if len(r.Checks) > 0 {
		b.WriteString("\n## Gradient-masking checks\n\n")
		for _, c := range r.Checks {
			status := "ok"
			if c.Flagged {
				status = "**FLAGGED**"
			}
			fmt.Fprintf(&b, "- %s: %s. %s\n", status, c.Name, c.Detail)
		}
		b.WriteString("\nA flagged check means the white-box figures above are likely too optimistic: the model's gradients mislead the attacks (gradient masking), and only the worst case over diverse attacks, black-box ones included, approaches its true robustness.\n")
	}
	if r.Manifest != nil {
		b.WriteString("\n## Manifest\n\n")
		b.WriteString(r.Manifest.Markdown())
		b.WriteString("\nRe-run and compare sample by sample with `fastgo robustness -verify report.json`.\n")
	}
	return b.String()
}

// WriteMarkdown writes Markdown's text to path, atomically.
func (r *Report) WriteMarkdown(path string) error {
	return writeAtomically(path, func(w io.Writer) error {
		_, err := io.WriteString(w, r.Markdown())
		return err
	})
}

// WriteJSON writes the report as indented JSON to path, atomically (a
// failed or killed write leaves the previous file).
func (r *Report) WriteJSON(path string) error {
	if err := r.checkFinite(); err != nil {
		return fmt.Errorf("robustness: WriteJSON %s: %w", path, err)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("robustness: WriteJSON %s: %w", path, err)
	}
	b = append(b, '\n')
	return writeAtomically(path, func(w io.Writer) error { _, err := w.Write(b); return err })
}

// ReadReport reads a report written by WriteJSON, with an error naming the
// file and the problem for anything else.
func ReadReport(path string) (*Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("robustness: ReadReport: %w", err)
	}
	defer f.Close()
	r, err := DecodeReport(f)
	if err != nil {
		return nil, fmt.Errorf("robustness: ReadReport %s: %w", path, err)
	}
	return r, nil
}

// DecodeReport reads a JSON report from rd and checks that it is
// consistent (lengths of the per-sample fields, shares in [0, 1]).
func DecodeReport(rd io.Reader) (*Report, error) {
	dec := json.NewDecoder(io.LimitReader(rd, 1<<30))
	dec.DisallowUnknownFields()
	var r Report
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("decoding the report: %w", err)
	}
	if err := r.validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// validate checks a decoded report's consistency.
func (r *Report) validate() error {
	if r.Samples < 0 || r.Correct < 0 || r.Correct > r.Samples {
		return fmt.Errorf("report: samples %d, correct %d", r.Samples, r.Correct)
	}
	if len(r.Labels) != r.Samples || len(r.CleanPred) != r.Samples {
		return fmt.Errorf("report: %d labels and %d clean predictions for %d samples", len(r.Labels), len(r.CleanPred), r.Samples)
	}
	share := func(field string, v float64) error {
		if !(v >= 0 && v <= 1) {
			return fmt.Errorf("report: %s = %v, not in [0, 1]", field, v)
		}
		return nil
	}
	if err := share("clean_accuracy", r.CleanAccuracy); err != nil {
		return err
	}
	for _, a := range r.Attacks {
		for _, res := range a.Results {
			if err := share("attacks["+a.Name+"].robust_accuracy", res.RobustAccuracy); err != nil {
				return err
			}
			if err := share("attacks["+a.Name+"].success_rate", res.SuccessRate); err != nil {
				return err
			}
			if len(res.Robust) != r.Samples {
				return fmt.Errorf("report: attacks[%s] at eps %g: %d per-sample flags for %d samples", a.Name, res.Eps, len(res.Robust), r.Samples)
			}
		}
	}
	for _, w := range r.WorstCase {
		if err := share("worst_case.robust_accuracy", w.RobustAccuracy); err != nil {
			return err
		}
		if len(w.Robust) != r.Samples {
			return fmt.Errorf("report: worst_case at eps %g: %d per-sample flags for %d samples", w.Eps, len(w.Robust), r.Samples)
		}
	}
	if r.Outcomes != nil {
		if err := r.Outcomes.check(r.Samples, r.Eps); err != nil {
			return fmt.Errorf("report: %w", err)
		}
		if r.Outcomes.First < 0 || (r.Manifest != nil && r.Outcomes.First+r.Samples > r.Manifest.Samples) {
			return fmt.Errorf("report: outcomes of %d samples from sample %d, beyond the evaluation's samples", r.Samples, r.Outcomes.First)
		}
	}
	return r.checkFinite()
}

// checkFinite returns an error naming the first number of the report that
// is not finite (JSON cannot hold it).
func (r *Report) checkFinite() error {
	bad := func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }
	for _, v := range append([]float64{r.Lo, r.Hi, r.CleanAccuracy, r.Seconds}, r.Eps...) {
		if bad(v) {
			return fmt.Errorf("report: a summary value is %v", v)
		}
	}
	for _, a := range r.Attacks {
		for _, res := range a.Results {
			for _, v := range []float64{res.Eps, res.RobustAccuracy, res.SuccessRate, res.MedianNorm, res.MeanNorm, res.MedianQueries, res.MeanQueries} {
				if bad(v) {
					return fmt.Errorf("report: attack %s at eps %g holds %v", a.Name, res.Eps, v)
				}
			}
		}
	}
	return nil
}

// writeAtomically writes path so that a failed or killed write leaves the
// previous file intact: the content goes to a temporary file in the same
// directory, which is synced, closed and renamed over path.
func writeAtomically(path string, write func(w io.Writer) error) error {
	if err := atomicfile.Write(path, write); err != nil {
		return fmt.Errorf("robustness: writing %s: %w", path, err)
	}
	return nil
}

// Save writes the report's files into dir (created if needed), each
// atomically: report.json, report.md, report.html (WriteHTML),
// accuracy.png (robust accuracy against eps) and, when the report holds
// examples, examples.png.
func (r *Report) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("robustness: Save: %w", err)
	}
	if err := r.WriteJSON(filepath.Join(dir, "report.json")); err != nil {
		return err
	}
	if err := r.WriteMarkdown(filepath.Join(dir, "report.md")); err != nil {
		return err
	}
	if err := r.WriteHTML(filepath.Join(dir, "report.html")); err != nil {
		return err
	}
	if err := r.PlotAccuracy(filepath.Join(dir, "accuracy.png")); err != nil {
		return err
	}
	if len(r.Examples) > 0 {
		if err := r.WriteExamples(filepath.Join(dir, "examples.png"), 0); err != nil {
			return err
		}
	}
	return nil
}
