package main

import (
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
	// within Radii[k].
	CertifiedAccuracy []float64 `json:"certified_accuracy"`
	// PredictAccuracy is PREDICT's accuracy (abstentions wrong), with -predict.
	PredictAccuracy *float64 `json:"predict_accuracy,omitempty"`
}

func runCertify(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("certify", stderr)
	var mf modelFlags
	mf.register(fs)
	dataDir := fs.String("data", "embedded", "the data whose validation images are certified (as for fastgo train)")
	seed := fs.Uint64("seed", 42, "the data's split seed (train's -seed)")
	samples := fs.Int("samples", 100, "validation images to certify")
	image := fs.String("image", "", "certify this one image file (or embedded:N) instead of -data's")
	sigma := fs.Float64("sigma", 0.25, "the smoothing noise's standard deviation, in [0,1] pixels (train with the same: fastgo train -defence noise -sigma S)")
	n0 := fs.Int("n0", 100, "noisy samples to select the class")
	n := fs.Int("n", 1000, "noisy samples to estimate its probability (the radius grows with n)")
	alpha := fs.Float64("alpha", 0.001, "the probability that a certificate is wrong")
	predict := fs.Bool("predict", false, "also run PREDICT (abstaining when the top two classes are not told apart at level alpha)")
	batch := fs.Int("batch", 256, "noisy copies per forward pass")
	jsonOut := fs.String("json", "", "write every image's certificate to this JSON file")
	setUsage(fs, "fastgo certify (-model FILE | -weights FILE -arch ARCH) [-data ...|-image FILE] [-sigma S] [-n N]", `
Randomised smoothing (Cohen, Rosenfeld and Kolter, 2019): the smoothed
classifier returns the class the model most often predicts for the image plus
Gaussian noise of -sigma. CERTIFY selects that class from -n0 noisy copies,
estimates its probability from -n fresh ones, and, when the lower confidence
bound pA (Clopper-Pearson, level -alpha) exceeds 1/2, certifies that no L2
perturbation of norm below sigma * PhiInv(pA) changes the smoothed class; with
probability at most alpha a certificate is wrong. Otherwise it abstains. It
prints the certified accuracy at several L2 radii (a sample counts when it is
certified, correctly, at a radius at least that large), then a RESULT line.
A model not trained on noisy inputs certifies almost nothing: train it with
"fastgo train -defence noise -sigma S" first.`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := mf.check(); err != nil {
		return err
	}
	switch {
	case !(*sigma > 0) || math.IsInf(*sigma, 0):
		return usagef("-sigma %v must be positive", *sigma)
	case *n0 < 1 || *n < 1:
		return usagef("-n0 %d and -n %d must be positive", *n0, *n)
	case !(*alpha > 0 && *alpha < 1):
		return usagef("-alpha %v must be in (0, 1)", *alpha)
	case *samples < 1:
		return usagef("-samples %d must be positive", *samples)
	case *batch < 1:
		return usagef("-batch %d must be positive", *batch)
	}
	lm, err := mf.load()
	if err != nil {
		return err
	}
	ctx, stop := interruptContext()
	defer stop()
	var x *tensor.Tensor
	var labels []int
	source := ""
	if *image != "" {
		img, label, err := attackImage(lm, *image)
		if err != nil {
			return err
		}
		x = img.Reshape(append([]int{1}, img.Shape()...)...)
		if label < 0 {
			p, err := lm.Learner.Predict(img)
			if err != nil {
				return fmt.Errorf("%s: %w", *image, err)
			}
			label = p.Index
		}
		labels = []int{label}
		source = *image
	} else {
		dls, desc, err := lm.validData(ctx, dataFlags{data: *dataDir, bs: 256, seed: *seed, validPct: 0.2, csvHeader: true})
		if err != nil {
			return err
		}
		b, err := data.First(ctx, dls.Valid, *samples)
		if err != nil {
			return err
		}
		x, labels = b.X, b.Y
		source = fmt.Sprintf("the first %d validation images of %s", len(labels), desc)
	}
	fmt.Fprintf(stdout, "certifying %s: sigma %g, n0 %d, n %d, alpha %g\n", source, *sigma, *n0, *n, *alpha)
	sm := &robustness.Smoothed{Model: lm.Learner.Model, Sigma: *sigma, Batch: *batch, Seed: *seed}
	certs, err := sm.Certify(ctx, x, *n0, *n, *alpha)
	if err != nil {
		return interrupted(ctx, err, "")
	}
	res := certifyResult{Model: lm.Source, Sigma: *sigma, N0: *n0, N: *n, Alpha: *alpha, Samples: len(certs)}
	// The largest radius n samples can certify: pA = alpha^(1/n) for a
	// unanimous count.
	maxR := *sigma * normalQuantile(math.Pow(*alpha, 1/float64(*n)))
	for _, r := range []float64{0, 0.25, 0.5, 0.75, 1, 1.5, 2} {
		if r == 0 || r < maxR {
			res.Radii = append(res.Radii, r)
		}
	}
	res.CertifiedAccuracy = make([]float64, len(res.Radii))
	for i, c := range certs {
		if c.Class == robustness.Abstain {
			res.Abstained++
			continue
		}
		if c.Class != labels[i] {
			continue
		}
		for k, r := range res.Radii {
			if c.Radius >= r {
				res.CertifiedAccuracy[k]++
			}
		}
	}
	for k := range res.CertifiedAccuracy {
		res.CertifiedAccuracy[k] /= float64(len(certs))
	}
	if len(certs) == 1 {
		c := certs[0]
		if c.Class == robustness.Abstain {
			fmt.Fprintf(stdout, "abstained: the top class got %d of %d noisy samples, pA >= %.4f is not above 1/2\n", c.Count, c.N, c.PA)
		} else {
			fmt.Fprintf(stdout, "certified %s within L2 radius %.4f (pA >= %.4f, %d of %d noisy samples); the label is %s\n",
				lm.Classes[c.Class], c.Radius, c.PA, c.Count, c.N, lm.Classes[labels[0]])
		}
	} else {
		rows := [][]string{{"L2 radius", "certified accuracy"}}
		for k, r := range res.Radii {
			rows = append(rows, []string{fmt.Sprintf("%g", r), fmt.Sprintf("%.4f", res.CertifiedAccuracy[k])})
		}
		fmt.Fprint(stdout, table(rows))
		radii := make([]float64, 0, len(certs))
		for i, c := range certs {
			if c.Class != robustness.Abstain && c.Class == labels[i] {
				radii = append(radii, c.Radius)
			}
		}
		sort.Float64s(radii)
		med := 0.0
		if len(radii) > 0 {
			med = radii[len(radii)/2]
		}
		fmt.Fprintf(stdout, "abstained on %d of %d; median radius of the correct certificates %.4f (the most %d samples can certify is %.4f)\n",
			res.Abstained, len(certs), med, *n, maxR)
	}
	if *predict {
		pred, err := sm.Predict(ctx, x, *n, *alpha)
		if err != nil {
			return interrupted(ctx, err, "")
		}
		ok, abst := 0, 0
		for i, p := range pred {
			switch {
			case p == robustness.Abstain:
				abst++
			case p == labels[i]:
				ok++
			}
		}
		acc := float64(ok) / float64(len(pred))
		res.PredictAccuracy = &acc
		fmt.Fprintf(stdout, "PREDICT: accuracy %.4f, abstained on %d of %d\n", acc, abst, len(pred))
	}
	if *jsonOut != "" {
		b, err := json.MarshalIndent(map[string]any{"result": res, "labels": labels, "certificates": certs}, "", "  ")
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(*jsonOut), 0o755); err != nil {
			return err
		}
		if err := writeFileAtomic(*jsonOut, append(b, '\n')); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", *jsonOut)
	}
	return printResult(stdout, res)
}

// normalQuantile is the standard normal's inverse CDF.
func normalQuantile(p float64) float64 { return math.Sqrt2 * math.Erfinv(2*p-1) }
