package main

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/fastgo-ml/fastgo/adversarial/robustness"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/render"
)

// demoSummary is report.json.
type demoSummary struct {
	Command      string             `json:"command"`
	Quick        bool               `json:"quick"`
	Seed         uint64             `json:"seed"`
	GOMAXPROCS   int                `json:"gomaxprocs"`
	Plan         demoPlan           `json:"plan"`
	Stages       []stageTime        `json:"stages"`
	TotalSeconds float64            `json:"total_seconds"`
	Training     demoTable          `json:"training"`
	AdvTraining  demoTable          `json:"adversarial_training"`
	Targeted     demoTargeted       `json:"targeted_example"`
	Standard     *robustness.Report `json:"standard"`
	Adversarial  *robustness.Report `json:"adversarial"`
	Files        []string           `json:"files"`
}

// demoTable is a results table of a fit.
type demoTable struct {
	Columns []string      `json:"columns"`
	Rows    [][]jsonFloat `json:"rows"`
	Seconds []float64     `json:"seconds"`
}

// jsonFloat is a float64 that is written to JSON as null when it is not
// finite (a results-table cell of a phase that did not run).
type jsonFloat float64

// MarshalJSON implements json.Marshaler.
func (f jsonFloat) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(f))
}

// demoTargeted is the targeted example.
type demoTargeted struct {
	Index       int     `json:"index"`
	Label       string  `json:"label"`
	Clean       string  `json:"clean_pred"`
	CleanProb   float64 `json:"clean_prob"`
	Target      string  `json:"target"`
	Adversarial string  `json:"adv_pred"`
	TargetProb  float64 `json:"target_prob"`
	Success     bool    `json:"success"`
	Linf        float64 `json:"linf"`
	L2          float64 `json:"l2"`
	Attack      string  `json:"attack"`
}

// recorderTable returns the results table of the epochs from 'from' on.
func recorderTable(r *learner.Recorder, from int) demoTable {
	t := demoTable{Columns: slices.Clone(r.MetricNames)}
	for i, row := range r.Values[from:] {
		cells := make([]jsonFloat, len(row))
		for k, v := range row {
			cells[k] = jsonFloat(v)
		}
		t.Rows = append(t.Rows, cells)
		t.Seconds = append(t.Seconds, r.EpochTimes[from+i].Seconds())
	}
	return t
}

func stageList(st []stageTime) string {
	parts := make([]string, len(st))
	for i, s := range st {
		parts[i] = fmt.Sprintf("%s %.1fs", s.Name, s.Seconds)
	}
	return strings.Join(parts, ", ")
}

// beforeAfterTable compares two reports of the same suite: the clean
// accuracy, each attack at each eps, the worst case and the masking flags.
func beforeAfterTable(before, after *robustness.Report) string {
	return "Robust accuracy (Linf, " + fmt.Sprint(before.Samples) + " validation images):\n" + table(beforeAfterRows(before, after))
}

// beforeAfterRows are beforeAfterTable's rows, the first its header.
func beforeAfterRows(before, after *robustness.Report) [][]string {
	rows := [][]string{{"", "standard", "adversarially trained"}}
	rows = append(rows, []string{"clean accuracy", fmt.Sprintf("%.3f", before.CleanAccuracy), fmt.Sprintf("%.3f", after.CleanAccuracy)})
	for k, a := range before.Attacks {
		if k >= len(after.Attacks) || a.Skipped != "" {
			continue
		}
		for j, r := range a.Results {
			ra := "-"
			if j < len(after.Attacks[k].Results) {
				ra = fmt.Sprintf("%.3f", after.Attacks[k].Results[j].RobustAccuracy)
			}
			rows = append(rows, []string{fmt.Sprintf("%s eps %g", a.Name, r.Eps), fmt.Sprintf("%.3f", r.RobustAccuracy), ra})
		}
	}
	for _, w := range before.WorstCase {
		wa, _ := after.WorstAccuracy(w.Eps)
		rows = append(rows, []string{fmt.Sprintf("worst case eps %g", w.Eps), fmt.Sprintf("%.3f", w.RobustAccuracy), fmt.Sprintf("%.3f", wa)})
	}
	flags := func(r *robustness.Report) string {
		var names []string
		for _, c := range r.Flags() {
			names = append(names, c.Name)
		}
		if len(names) == 0 {
			return "none"
		}
		return strings.Join(names, ", ")
	}
	return append(rows, []string{"masking flags", flags(before), flags(after)})
}

// write writes the demo's files.
func (d *demo) write(l *learner.Learner, targeted []robustness.Example, before, after *robustness.Report) error {
	files := []string{"report.md", "report.json", "loss.png", "robustness.png", "examples.png"}
	if err := l.Recorder.PlotLoss(d.path("loss.png"), learner.SkipStart(0), learner.MarkBatch(d.advStart, "adversarial training starts")); err != nil {
		return err
	}
	if err := plotRobustness(d.path("robustness.png"), before, after); err != nil {
		return err
	}
	img, err := robustness.ExampleGrid(distinctExamples(targeted, before.Examples), before.Classes)
	if err != nil {
		return err
	}
	if err := render.WritePNG(d.path("examples.png"), img); err != nil {
		return err
	}
	if err := before.Save(d.path("standard")); err != nil {
		return err
	}
	if err := after.Save(d.path("adversarial")); err != nil {
		return err
	}
	files = append(files, "standard/report.html", "adversarial/report.html", "standard/report.md", "adversarial/report.md", "learner-standard.safetensors", "learner-adversarial.safetensors")
	d.summary.Files = files
	d.summary.Stages = d.t.stages
	d.summary.TotalSeconds = d.t.total().Seconds()
	if err := d.writeJSON(); err != nil {
		return err
	}
	return writeFileAtomic(d.path("report.md"), []byte(d.markdown(before, after)))
}

// distinctExamples returns the examples of the lists in order, each clean
// image once: the targeted example is a validation image the evaluation
// may have fooled too.
func distinctExamples(lists ...[]robustness.Example) []robustness.Example {
	var out []robustness.Example
	for _, l := range lists {
		for _, e := range l {
			if !slices.ContainsFunc(out, func(o robustness.Example) bool { return slices.Equal(o.Clean.Data(), e.Clean.Data()) }) {
				out = append(out, e)
			}
		}
	}
	return out
}

func (d *demo) writeJSON() error {
	b, err := json.MarshalIndent(d.summary, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(d.path("report.json"), append(b, '\n'))
}

// markdown is report.md: the story of the run with its figures.
func (d *demo) markdown(before, after *robustness.Report) string {
	var b strings.Builder
	s := d.summary
	p := d.plan
	fmt.Fprintf(&b, "# fastgo demo\n\n")
	if d.quick {
		b.WriteString("A `-quick` run: the figures below come from a fraction of an epoch and a few dozen images; run `fastgo demo` for the real ones.\n\n")
	}
	fmt.Fprintf(&b, "A SmallCNN trained on the Fashion-MNIST images embedded in fastgo (8,000 training, 2,000 validation), attacked, adversarially trained and attacked again; seed %d, GOMAXPROCS %d.\n\n", s.Seed, s.GOMAXPROCS)
	b.WriteString("## Training\n\n")
	fmt.Fprintf(&b, "`fit_one_cycle(%d, lr_max=%g)`, batch 128:\n\n", p.Epochs, p.LR)
	b.WriteString(markdownTable(s.Training))
	fmt.Fprintf(&b, "\n![loss](loss.png)\n\nThe smoothed training loss of both fits, with the validation loss at the end of each epoch; the jump is where adversarial training begins (its loss is on adversarial examples, and the smoothing restarts with each fit).\n\n")
	b.WriteString("## A targeted white-box example\n\n")
	t := s.Targeted
	fmt.Fprintf(&b, "Validation image %d, a %s, predicted %s (p=%.3f). %s toward the runner-up class, %s, within Linf %g: the model now says **%s** (p(%s)=%.3f), with a perturbation of Linf %.3f and L2 %.3f. The first row of the grid below.\n\n",
		t.Index, t.Label, t.Clean, t.CleanProb, t.Attack, t.Target, p.Eps, t.Adversarial, t.Target, t.TargetProb, t.Linf, t.L2)
	b.WriteString("![examples](examples.png)\n\n")
	b.WriteString("## Robustness, before and after adversarial training\n\n")
	fmt.Fprintf(&b, "PGD adversarial training: `fit_one_cycle(%d, lr_max=%g)` with `adversarial.NewTrainer(adversarial.Attack(attacks.PGD{Steps: %d, RandomStart: true, LastIterate: true}), adversarial.Eps(%g))`:\n\n", p.AdvEpochs, p.AdvLR, p.AdvSteps, p.Eps)
	b.WriteString(markdownTable(s.AdvTraining))
	fmt.Fprintf(&b, "\nRobust accuracy on the first %d validation images (FGSM; PGD-%d from a random start; Square with %d score queries per image at eps %g; the worst case over them):\n\n", before.Samples, p.PGDSteps, p.SquareQueries, p.Eps)
	for i, row := range beforeAfterRows(before, after) {
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
		if i == 0 {
			b.WriteString("|---|---|---|\n")
		}
	}
	b.WriteString("\n![robust accuracy against eps](robustness.png)\n\n")
	b.WriteString("Each model's full report, with the gradient-masking checks and how to read them: [standard/report.md](standard/report.md), [adversarial/report.md](adversarial/report.md); the same with charts and pictures, to open in a browser: [standard/report.html](standard/report.html), [adversarial/report.html](adversarial/report.html).\n\n")
	b.WriteString("## Time\n\n| stage | seconds |\n|---|---|\n")
	for _, st := range s.Stages {
		fmt.Fprintf(&b, "| %s | %.1f |\n", st.Name, st.Seconds)
	}
	fmt.Fprintf(&b, "| total | %.1f |\n", d.t.total().Seconds())
	return b.String()
}

// markdownTable renders a results table as fastai prints it.
func markdownTable(t demoTable) string {
	var b strings.Builder
	b.WriteString("| " + strings.Join(t.Columns, " | ") + " |\n|")
	for range t.Columns {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for i, row := range t.Rows {
		cells := []string{fmt.Sprint(i)}
		for _, v := range row {
			if f := float64(v); math.IsNaN(f) {
				cells = append(cells, "#na#")
			} else {
				cells = append(cells, fmt.Sprintf("%.6f", f))
			}
		}
		if len(cells) < len(t.Columns) && i < len(t.Seconds) {
			cells = append(cells, fmt.Sprintf("%.1fs", t.Seconds[i]))
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	return b.String()
}
