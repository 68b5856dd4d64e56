package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"

	"github.com/fastgo-ml/fastgo/adversarial/robustness"
	"github.com/fastgo-ml/fastgo/data"
	"github.com/fastgo-ml/fastgo/tensor"
)

func init() {
	register(&command{
		name:  "certify",
		short: "certify L2 robustness with randomised smoothing (Cohen et al.'s CERTIFY and PREDICT)",
		run:   runCertify,
	})
}

// certifyResult is certify's RESULT line.
type certifyResult struct {
	Model     string    `json:"model"`
	Sigma     float64   `json:"sigma"`
	N0        int       `json:"n0"`
	N         int       `json:"n"`
	Alpha     float64   `json:"alpha"`
	Samples   int       `json:"samples"`
	Abstained int       `json:"abstained"`
	Radii     []float64 `json:"radii"`
	// CertifiedAccuracy[k] is the share of samples certified correctly
	// within Radii[k] (absent when the true label is unknown).
	CertifiedAccuracy []float64 `json:"certified_accuracy,omitempty"`
	// PredictAccuracy is PREDICT's accuracy (abstentions wrong), with
	// -predict and a known label.
	PredictAccuracy *float64 `json:"predict_accuracy,omitempty"`
	// Note says why figures are missing.
	Note string `json:"note,omitempty"`
}

// noLabelNote is what certify says when an image file comes without -label.
const noLabelNote = "the true label is unknown (give -label N): the accuracy figures are not available"

// certifyRun is one run of certify: its flags, then what it computed.
type certifyRun struct {
	mf                        modelFlags
	dataDir, image, label     string
	jsonOut                   string
	seed                      uint64
	samples, n0, n, batch     int
	sigma, alpha              float64
	predict                   bool
	lm                        *loadedModel
	x                         *tensor.Tensor
	labels                    []int // -1: unknown
	source                    string
	certs                     []robustness.Certificate
	res                       certifyResult
	maxR                      float64
	out                       io.Writer
	labelKnown                bool
	sm                        *robustness.Smoothed
	predictOK, predictAbstain int
}

func runCertify(args []string, stdout, stderr io.Writer) error {
	c := &certifyRun{out: stdout}
	if err := c.parse(args, stderr); err != nil {
		return err
	}
	lm, err := c.mf.load()
	if err != nil {
		return err
	}
	c.lm = lm
	ctx, stop := interruptContext()
	defer stop()
	if err := c.inputs(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "certifying %s: sigma %g, n0 %d, n %d, alpha %g\n", c.source, c.sigma, c.n0, c.n, c.alpha)
	c.sm = &robustness.Smoothed{Model: lm.Learner.Model, Sigma: c.sigma, Batch: c.batch, Seed: c.seed}
	if c.certs, err = c.sm.Certify(ctx, c.x, c.n0, c.n, c.alpha); err != nil {
		return interrupted(ctx, err, "")
	}
	c.summarise()
	if len(c.certs) == 1 {
		c.printOne()
	} else {
		c.printTable()
	}
	if c.predict {
		if err := c.runPredict(ctx); err != nil {
			return interrupted(ctx, err, "")
		}
	}
	if c.jsonOut != "" {
		if err := c.writeJSON(); err != nil {
			return err
		}
	}
	return printResult(stdout, c.res)
}

// parse reads and checks certify's flags.
func (c *certifyRun) parse(args []string, stderr io.Writer) error {
	fs := newFlagSet("certify", stderr)
	c.mf.register(fs)
	fs.StringVar(&c.dataDir, "data", "embedded", "the data whose validation images are certified (as for fastgo train)")
	fs.Uint64Var(&c.seed, "seed", 42, "the data's split seed (train's -seed)")
	fs.IntVar(&c.samples, "samples", 100, "validation images to certify")
	fs.StringVar(&c.image, "image", "", "certify this one image file (or embedded:N) instead of -data's")
	fs.StringVar(&c.label, "label", "", "the true class of -image, by index or name (embedded:N images have theirs); without it the accuracy figures are not available")
	fs.Float64Var(&c.sigma, "sigma", 0.25, "the smoothing noise's standard deviation, in [0,1] pixels (train with the same: fastgo train -defence noise -sigma S)")
	fs.IntVar(&c.n0, "n0", 100, "noisy samples to select the class")
	fs.IntVar(&c.n, "n", 1000, "noisy samples to estimate its probability (the radius grows with n)")
	fs.Float64Var(&c.alpha, "alpha", 0.001, "the probability that a certificate is wrong")
	fs.BoolVar(&c.predict, "predict", false, "also run PREDICT (abstaining when the top two classes are not told apart at level alpha)")
	fs.IntVar(&c.batch, "batch", 256, "noisy copies per forward pass")
	fs.StringVar(&c.jsonOut, "json", "", "write every image's certificate to this JSON file")
	setUsage(fs, "fastgo certify (-model FILE | -weights FILE -arch ARCH) [-data ...|-image FILE [-label K]] [-sigma S] [-n N]", `
Randomised smoothing (Cohen, Rosenfeld and Kolter, 2019): the smoothed
classifier returns the class the model most often predicts for the image plus
Gaussian noise of -sigma. CERTIFY selects that class from -n0 noisy copies,
estimates its probability from -n fresh ones, and, when the lower confidence
bound pA (Clopper-Pearson, level -alpha) exceeds 1/2, certifies that no L2
perturbation of norm below sigma * PhiInv(pA) changes the smoothed class; with
probability at most alpha a certificate is wrong. Otherwise it abstains. It
prints the certified accuracy at several L2 radii (a sample counts when it is
certified, correctly, at a radius at least that large), then a RESULT line.
A certificate says the smoothed class does not change, not that it is right:
for an image file give its true class with -label to know. A model not
trained on noisy inputs certifies almost nothing: train it with
"fastgo train -defence noise -sigma S" first.`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := c.mf.check(); err != nil {
		return err
	}
	switch {
	case !(c.sigma > 0) || math.IsInf(c.sigma, 0):
		return usagef("-sigma %v must be positive", c.sigma)
	case c.n0 < 1 || c.n < 1:
		return usagef("-n0 %d and -n %d must be positive", c.n0, c.n)
	case !(c.alpha > 0 && c.alpha < 1):
		return usagef("-alpha %v must be in (0, 1)", c.alpha)
	case c.samples < 1:
		return usagef("-samples %d must be positive", c.samples)
	case c.batch < 1:
		return usagef("-batch %d must be positive", c.batch)
	case c.label != "" && c.image == "":
		return usagef("-label goes with -image (the -data images have their labels)")
	}
	return nil
}

// inputs loads the images to certify and their labels (-1 when unknown).
func (c *certifyRun) inputs(ctx context.Context) error {
	if c.image != "" {
		img, label, err := imageWithLabel(c.lm, c.image, c.label)
		if err != nil {
			return err
		}
		c.x = img.Reshape(append([]int{1}, img.Shape()...)...)
		c.labels, c.source = []int{label}, c.image
		c.labelKnown = label >= 0
		return nil
	}
	dls, desc, err := c.lm.validData(ctx, dataFlags{data: c.dataDir, bs: 256, seed: c.seed, validPct: 0.2, csvHeader: true})
	if err != nil {
		return err
	}
	b, err := data.First(ctx, dls.Valid, c.samples)
	if err != nil {
		return err
	}
	c.x, c.labels, c.labelKnown = b.X, b.Y, true
	c.source = fmt.Sprintf("the first %d validation %s of %s", len(c.labels), plural(len(c.labels), "image", "images"), desc)
	return nil
}

// imageWithLabel loads -image and its true label: -label's, else the
// embedded image's own, else -1 (unknown). The model's prediction is never
// taken for the label.
func imageWithLabel(lm *loadedModel, image, label string) (*tensor.Tensor, int, error) {
	x, own, err := attackImage(lm, image)
	if err != nil {
		return nil, -1, err
	}
	if label == "" {
		return x, own, nil
	}
	l, err := classIndex(label, lm.Classes)
	if err != nil {
		return nil, -1, fmt.Errorf("-label: %w", err)
	}
	return x, l, nil
}

// summarise fills the RESULT: the radii and, with labels, the certified
// accuracy at each.
func (c *certifyRun) summarise() {
	c.res = certifyResult{Model: c.lm.Source, Sigma: c.sigma, N0: c.n0, N: c.n, Alpha: c.alpha, Samples: len(c.certs)}
	// The largest radius n samples can certify: pA = alpha^(1/n) for a
	// unanimous count.
	c.maxR = c.sigma * normalQuantile(math.Pow(c.alpha, 1/float64(c.n)))
	for _, r := range []float64{0, 0.25, 0.5, 0.75, 1, 1.5, 2} {
		if r == 0 || r < c.maxR {
			c.res.Radii = append(c.res.Radii, r)
		}
	}
	for _, ct := range c.certs {
		if ct.Class == robustness.Abstain {
			c.res.Abstained++
		}
	}
	if !c.labelKnown {
		c.res.Note = noLabelNote
		return
	}
	c.res.CertifiedAccuracy = make([]float64, len(c.res.Radii))
	for i, ct := range c.certs {
		if ct.Class == robustness.Abstain || ct.Class != c.labels[i] {
			continue
		}
		for k, r := range c.res.Radii {
			if ct.Radius >= r {
				c.res.CertifiedAccuracy[k]++
			}
		}
	}
	for k := range c.res.CertifiedAccuracy {
		c.res.CertifiedAccuracy[k] /= float64(len(c.certs))
	}
}

// printOne prints the certificate of one image and whether its class is
// the true one.
func (c *certifyRun) printOne() {
	ct := c.certs[0]
	if ct.Class == robustness.Abstain {
		fmt.Fprintf(c.out, "abstained: the top class got %d of %d noisy samples, pA >= %.4f is not above 1/2\n", ct.Count, ct.N, ct.PA)
		return
	}
	fmt.Fprintf(c.out, "certified %s within L2 radius %.4f (pA >= %.4f, %d of %d noisy samples)\n",
		c.lm.Classes[ct.Class], ct.Radius, ct.PA, ct.Count, ct.N)
	switch l := c.labels[0]; {
	case l < 0:
		fmt.Fprintf(c.out, "true label:  unknown (give -label N to check the certified class against it)\n")
	case l == ct.Class:
		fmt.Fprintf(c.out, "true label:  %s: the certified class is right\n", c.lm.Classes[l])
	default:
		fmt.Fprintf(c.out, "true label:  %s: the certified class is WRONG (a certificate says the class does not change, not that it is right)\n", c.lm.Classes[l])
	}
}

// printTable prints the certified accuracy at each radius, or the radii
// alone without labels.
func (c *certifyRun) printTable() {
	rows := [][]string{{"L2 radius", "certified accuracy"}}
	for k, r := range c.res.Radii {
		rows = append(rows, []string{fmt.Sprintf("%g", r), fmt.Sprintf("%.4f", c.res.CertifiedAccuracy[k])})
	}
	fmt.Fprint(c.out, table(rows))
	radii := make([]float64, 0, len(c.certs))
	for i, ct := range c.certs {
		if ct.Class != robustness.Abstain && ct.Class == c.labels[i] {
			radii = append(radii, ct.Radius)
		}
	}
	sort.Float64s(radii)
	med := 0.0
	if len(radii) > 0 {
		med = radii[len(radii)/2]
	}
	fmt.Fprintf(c.out, "abstained on %d of %d; median radius of the correct certificates %.4f (the most %d samples can certify is %.4f)\n",
		c.res.Abstained, len(c.certs), med, c.n, c.maxR)
}

// runPredict runs PREDICT and, with labels, its accuracy.
func (c *certifyRun) runPredict(ctx context.Context) error {
	pred, err := c.sm.Predict(ctx, c.x, c.n, c.alpha)
	if err != nil {
		return err
	}
	for i, p := range pred {
		switch {
		case p == robustness.Abstain:
			c.predictAbstain++
		case p == c.labels[i]:
			c.predictOK++
		}
	}
	if !c.labelKnown {
		what := "abstained"
		if c.predictAbstain == 0 {
			what = c.lm.Classes[pred[0]]
		}
		fmt.Fprintf(c.out, "PREDICT: %s; accuracy not available (the true label is unknown)\n", what)
		return nil
	}
	acc := float64(c.predictOK) / float64(len(pred))
	c.res.PredictAccuracy = &acc
	fmt.Fprintf(c.out, "PREDICT: accuracy %.4f, abstained on %d of %d\n", acc, c.predictAbstain, len(pred))
	return nil
}

// writeJSON writes -json: the RESULT, the labels (null when unknown) and
// every certificate.
func (c *certifyRun) writeJSON() error {
	var labels any = c.labels
	if !c.labelKnown {
		labels = nil
	}
	b, err := json.MarshalIndent(map[string]any{"result": c.res, "labels": labels, "certificates": c.certs}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(c.jsonOut), 0o755); err != nil {
		return err
	}
	if err := writeFileAtomic(c.jsonOut, append(b, '\n')); err != nil {
		return err
	}
	fmt.Fprintf(c.out, "wrote %s\n", c.jsonOut)
	return nil
}

// plural returns one for n == 1, else many.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// normalQuantile is the standard normal's inverse CDF.
func normalQuantile(p float64) float64 { return math.Sqrt2 * math.Erfinv(2*p-1) }
