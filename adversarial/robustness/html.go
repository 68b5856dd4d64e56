package robustness

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html"
	"html/template"
	"image/color"
	"image/png"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/fastgo-ml/fastgo/render"
)

// checkMeanings says, for each gradient-masking check, what a flag means.
var checkMeanings = map[string]string{
	CheckOneStep: "An iterative attack takes the one-step attack's direction and refines it, so it should never do worse; " +
		"when it does, its gradients are leading it astray.",
	CheckBlackBox: "Black-box attacks see only the model's outputs, so with true gradients the white-box attacks are the stronger; " +
		"a black-box success where every white-box attack failed points at misleading gradients.",
	CheckEpsMonotone: "A larger ball contains the smaller one, so robust accuracy can only fall as eps grows; " +
		"a rise means the attack failed to find adversarials it had within reach.",
	CheckUnbounded: "With no bound on the perturbation any image can be turned into one of another class, " +
		"so an unbounded attack should fool every image the model gets right.",
	CheckGradients: "An attack that follows the gradient cannot move from a point where the gradient is zero or not a number, " +
		"so robustness measured there says nothing.",
	CheckRandomised: "A model whose outputs change between two passes on the same input (dropout left on, random transforms) " +
		"gives each attack a moving target: one pass may miss an adversarial another would find, so every example is scored over several passes.",
}

// CheckMeaning returns a sentence on what the gradient-masking check called
// name looks for and what a flag means ("" for an unknown name).
func CheckMeaning(name string) string { return checkMeanings[name] }

// WriteHTML writes the report as one self-contained HTML page to path,
// atomically: the summary, robust accuracy against eps (an inline SVG
// chart, each attack drawn only at the eps it ran at), the table, the
// gradient-masking checks with what each means and, when the report holds
// examples, the clean/perturbation/adversarial grid with true and predicted
// labels (an embedded PNG). The page loads nothing: no script, font or
// image from elsewhere, so it opens from disk in any browser.
func (r *Report) WriteHTML(path string) error {
	return writeAtomically(path, r.writeHTML)
}

// HTML returns WriteHTML's page.
func (r *Report) HTML() (string, error) {
	var b bytes.Buffer
	if err := r.writeHTML(&b); err != nil {
		return "", err
	}
	return b.String(), nil
}

// htmlPage is what the page's template fills in.
type htmlPage struct {
	Title    string
	Summary  string
	Worst    string
	Chart    template.HTML
	Header   []string
	Rows     [][]string
	Checks   []htmlCheck
	Examples template.URL
	NumEx    int
	Note     string
}

type htmlCheck struct {
	Name, Status, Detail, Meaning string
	Flagged                       bool
}

func (r *Report) writeHTML(w io.Writer) error {
	pg := htmlPage{
		Title: fmt.Sprintf("Robustness report (%s)", r.Norm),
		Summary: fmt.Sprintf("%s threat model, pixel box [%g, %g], %d %s: clean accuracy %.4f (%d correct); %.1f s.",
			r.Norm, r.Lo, r.Hi, r.Samples, plural(r.Samples, "sample", "samples"), r.CleanAccuracy, r.Correct, r.Seconds),
	}
	var worst []string
	for _, wc := range r.WorstCase {
		worst = append(worst, fmt.Sprintf("%.4f at eps %g", wc.RobustAccuracy, wc.Eps))
	}
	if len(worst) > 0 {
		pg.Worst = "Worst-case robust accuracy over every attack: " + strings.Join(worst, ", ") + "."
	}
	pg.Chart = template.HTML(r.accuracySVG(900, 420))
	pg.Header, pg.Rows = r.rows()
	for _, c := range r.Checks {
		st := "ok"
		if c.Flagged {
			st = "FLAGGED"
		}
		pg.Checks = append(pg.Checks, htmlCheck{Name: c.Name, Status: st, Detail: c.Detail, Meaning: CheckMeaning(c.Name), Flagged: c.Flagged})
	}
	if len(r.Examples) > 0 {
		img, err := ExampleGrid(r.Examples, r.Classes)
		if err != nil {
			return fmt.Errorf("robustness: HTML report: %w", err)
		}
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			return fmt.Errorf("robustness: HTML report: %w", err)
		}
		pg.Examples = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b.Bytes()))
		pg.NumEx = len(r.Examples)
	}
	return htmlTemplate.Execute(w, pg)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

var htmlTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body { font-family: -apple-system, "Segoe UI", "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #222; background: #fff; margin: 24px auto; max-width: 1100px; padding: 0 16px; }
h1 { font-size: 24px; margin-bottom: 4px; }
h2 { font-size: 18px; margin-top: 28px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
p.summary { font-size: 15px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; }
th { background: #f2f2f2; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.flagged td { background: #fde8e8; }
td.ok { color: #2c7a2c; font-weight: bold; }
td.bad { color: #c62828; font-weight: bold; }
.note { color: #555; font-size: 13px; max-width: 900px; }
img.grid { image-rendering: pixelated; border: 1px solid #ddd; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p class="summary">{{.Summary}}</p>
{{if .Worst}}<p class="summary"><b>{{.Worst}}</b></p>{{end}}
<h2>Robust accuracy against eps</h2>
{{.Chart}}
<p class="note">Each attack is drawn at the eps it was run at; the dotted line is the clean accuracy. The worst case counts an image as robust only if no attack, at that eps or a smaller one, fooled it.</p>
<h2>Attacks</h2>
<table>
<tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range $i, $c := .}}{{if lt $i 2}}<td>{{$c}}</td>{{else}}<td class="num">{{$c}}</td>{{end}}{{end}}</tr>
{{end}}</table>
{{if .Checks}}<h2>Gradient-masking checks</h2>
<table>
<tr><th>check</th><th>result</th><th>what was measured</th><th>what it means</th></tr>
{{range .Checks}}<tr{{if .Flagged}} class="flagged"{{end}}><td>{{.Name}}</td><td class="{{if .Flagged}}bad{{else}}ok{{end}}">{{.Status}}</td><td>{{.Detail}}</td><td>{{.Meaning}}</td></tr>
{{end}}</table>
<p class="note">A flagged check means the white-box figures above are likely too optimistic: the model's gradients mislead the attacks (gradient masking), and only the worst case over diverse attacks, black-box ones included, approaches its true robustness.</p>
{{end}}
{{if .Examples}}<h2>Adversarial examples</h2>
<p class="note">{{.NumEx}} images the attacks fooled at the largest eps: the clean image with its true label and the model's prediction, the perturbation (amplified; grey is zero) and the adversarial image with the model's prediction on it.</p>
<img class="grid" alt="clean, perturbation and adversarial images" src="{{.Examples}}">
{{end}}
</body>
</html>
`))

// svgSeries is one line of the accuracy charts (the HTML page's and
// PlotAccuracy's).
type svgSeries struct {
	name   string
	eps    []float64
	acc    []float64
	color  string
	c      color.Color
	dashed bool
	width  float64
}

// accuracySeries returns the chart's lines: each attack that ran, the
// cascade and the worst case, each at the eps it has figures for.
func (r *Report) accuracySeries() []svgSeries {
	var out []svgSeries
	hex := func(c color.Color) string {
		cr, cg, cb, _ := c.RGBA()
		return fmt.Sprintf("#%02x%02x%02x", cr>>8, cg>>8, cb>>8)
	}
	next := func() color.Color { return render.Color(len(out)) }
	for _, a := range r.Attacks {
		if a.Skipped != "" || len(a.Results) == 0 {
			continue
		}
		s := svgSeries{name: a.Name, c: next(), width: 1.8}
		for _, res := range a.Results {
			s.eps, s.acc = append(s.eps, res.Eps), append(s.acc, res.RobustAccuracy)
		}
		out = append(out, s)
	}
	if len(r.AutoAttack) > 0 {
		s := svgSeries{name: "AutoAttack cascade", c: next(), width: 2.6}
		for _, c := range r.AutoAttack {
			s.eps, s.acc = append(s.eps, c.Eps), append(s.acc, c.RobustAccuracy)
		}
		out = append(out, s)
	}
	if len(r.WorstCase) > 0 {
		s := svgSeries{name: "worst case", c: color.Black, dashed: true, width: 4}
		for _, w := range r.WorstCase {
			s.eps, s.acc = append(s.eps, w.Eps), append(s.acc, w.RobustAccuracy)
		}
		out = append(out, s)
	}
	for i := range out {
		out[i].color = hex(out[i].c)
	}
	return out
}

// drawOrder returns series with the worst case first, drawn underneath
// the attacks it often coincides with.
func drawOrder(series []svgSeries) []svgSeries {
	out := slices.Clone(series)
	slices.SortStableFunc(out, func(a, b svgSeries) int {
		wa, wb := a.name == "worst case", b.name == "worst case"
		switch {
		case wa && !wb:
			return -1
		case wb && !wa:
			return 1
		}
		return 0
	})
	return out
}

// chartEps returns the eps the chart has figures at, ascending, without
// duplicates.
func chartEps(series []svgSeries) []float64 {
	var eps []float64
	for _, s := range series {
		for _, e := range s.eps {
			if !math.IsInf(e, 0) && !math.IsNaN(e) {
				eps = append(eps, e)
			}
		}
	}
	slices.Sort(eps)
	return slices.Compact(eps)
}

// accuracySVG draws robust accuracy against eps as an inline SVG of w x h
// pixels: the plot area on the left with ticks at every evaluated eps, the
// legend on the right, both inside the picture.
func (r *Report) accuracySVG(w, h int) string {
	series := r.accuracySeries()
	eps := chartEps(series)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif" font-size="12" role="img" aria-label="robust accuracy against eps">`, w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/>`, w, h)
	if len(eps) == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">no attack ran: nothing to draw</text></svg>`, w/2, h/2)
		return b.String()
	}
	const left, top, bottom, legendW = 56.0, 16.0, 48.0, 200.0
	pw, ph := float64(w)-left-legendW-16, float64(h)-top-bottom
	xmax := eps[len(eps)-1] * 1.05
	if xmax <= 0 {
		xmax = 1
	}
	x := func(e float64) float64 { return left + pw*e/xmax }
	y := func(a float64) float64 { return top + ph*(1-a) }
	// Frame, grid and y ticks.
	for k := 0; k <= 5; k++ {
		a := float64(k) / 5
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`, left, y(a), left+pw, y(a))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%.1f</text>`, left-6, y(a)+4, a)
	}
	// x ticks at 0 and every evaluated eps, labels that would overlap left out.
	ticks := eps
	if eps[0] > 0 {
		ticks = append([]float64{0}, eps...)
	}
	lastLabel := math.Inf(-1)
	for _, e := range ticks {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`, x(e), top, x(e), top+ph)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333"/>`, x(e), top+ph, x(e), top+ph+5)
		if x(e)-lastLabel >= 34 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, x(e), top+ph+18, html.EscapeString(fmt.Sprintf("%.3g", e)))
			lastLabel = x(e)
		}
	}
	fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#333"/>`, left, top, pw, ph)
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">eps (%s, pixels in [%g, %g])</text>`, left+pw/2, float64(h)-8, html.EscapeString(r.Norm), r.Lo, r.Hi)
	fmt.Fprintf(&b, `<text transform="translate(14 %.1f) rotate(-90)" text-anchor="middle">robust accuracy</text>`, top+ph/2)
	// Clean accuracy.
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#888" stroke-dasharray="2 3"/>`, left, y(r.CleanAccuracy), left+pw, y(r.CleanAccuracy))
	// Series, the worst case underneath: an attack whose figures are the
	// worst case's stays visible on top of it.
	for _, s := range drawOrder(series) {
		dash := ""
		if s.dashed {
			dash = ` stroke-dasharray="6 4" stroke-opacity="0.7"`
		}
		var pts []string
		for k := range s.eps {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(s.eps[k]), y(s.acc[k])))
		}
		if len(pts) > 1 {
			fmt.Fprintf(&b, `<polyline data-series="%s" points="%s" fill="none" stroke="%s" stroke-width="%.1f"%s/>`,
				html.EscapeString(s.name), strings.Join(pts, " "), s.color, s.width, dash)
		}
		for k := range s.eps {
			fmt.Fprintf(&b, `<circle data-series="%s" data-eps="%g" cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s at eps %g: %.4f</title></circle>`,
				html.EscapeString(s.name), s.eps[k], x(s.eps[k]), y(s.acc[k]), s.color, html.EscapeString(s.name), s.eps[k], s.acc[k])
		}
	}
	// Legend, right of the plot area.
	lx, ly := left+pw+16, top+4
	fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%d" fill="#fff" stroke="#ccc"/>`, lx-6, ly-2, legendW-4, 20*(len(series)+1)+4)
	row := func(i int, name, color, dash string, width float64, dot bool) {
		yy := ly + 10 + 20*float64(i)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="%.1f"%s/>`, lx, yy, lx+26, yy, color, width, dash)
		if dot {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"/>`, lx+13, yy, color)
		}
		name = truncRunes(name, 24)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s</text>`, lx+32, yy+4, html.EscapeString(name))
	}
	for i, s := range series {
		dash := ""
		if s.dashed {
			dash = ` stroke-dasharray="6 4"`
		}
		row(i, s.name, s.color, dash, s.width, true)
	}
	row(len(series), fmt.Sprintf("clean (%.3f)", r.CleanAccuracy), "#888", ` stroke-dasharray="2 3"`, 1, false)
	b.WriteString(`</svg>`)
	return b.String()
}

// truncRunes cuts s to n runes, marking a cut with "…".
func truncRunes(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
