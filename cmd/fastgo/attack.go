package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/fastgo-ml/fastgo/adversarial/attacks"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/render"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/vision"
)

func init() {
	register(&command{
		name:  "attack",
		short: "make an adversarial example of one image (targeted or not) and show it beside the original",
		run:   runAttack,
	})
}

// attackRun is one run of attack: its flags, then what it computed.
type attackRun struct {
	mf                modelFlags
	af                attackFlags
	image, target     string
	label, out        string
	lm                *loadedModel
	x, adv            *tensor.Tensor
	trueLabel         int // -1: unknown
	targetIdx         int // -1: untargeted
	clean, advPred    learner.Prediction
	name, goal        string
	res               *attacks.Result
	tm                attacks.ThreatModel
	misclassified     bool
	advPath, sidePath string
	white             attacks.Attack
	black             attacks.BlackBoxAttack
}

func runAttack(args []string, stdout, stderr io.Writer) error {
	a := &attackRun{targetIdx: -1}
	if err := a.parse(args, stderr); err != nil {
		return err
	}
	if err := a.setup(); err != nil {
		return err
	}
	ctx, stop := interruptContext()
	defer stop()
	if err := a.attack(ctx); err != nil {
		return interrupted(ctx, err, "")
	}
	if err := a.pictures(); err != nil {
		return err
	}
	a.print(stdout)
	return nil
}

// parse reads and checks attack's flags.
func (a *attackRun) parse(args []string, stderr io.Writer) error {
	fs := newFlagSet("attack", stderr)
	a.mf.register(fs)
	a.af.register(fs, "pgd", 40)
	fs.StringVar(&a.image, "image", "", "the image file to attack (PNG, JPEG, GIF, BMP, TIFF, WebP), or embedded:N for image N of the embedded Fashion-MNIST validation set")
	fs.StringVar(&a.target, "target", "", "the class to push the image to, by index or name (a targeted attack); empty: untargeted, away from the true label")
	fs.StringVar(&a.label, "label", "", "the image's true class, by index or name (embedded:N images have theirs); an untargeted attack on an image file needs it")
	fs.StringVar(&a.out, "out", ".", "the folder for adversarial.png (the adversarial image at the model's input size) and side_by_side.png")
	setUsage(fs, "fastgo attack (-model FILE | -weights FILE -arch ARCH) -image FILE [-label K] [-target K] [-attack NAME] [-eps E]", `
Attacks one image: decodes it as the model's data was (channels, recorded item
transforms, then resized to the model's input), runs the attack within the
threat model (-norm, -eps in [0,1] pixels) and writes the adversarial image
and a side-by-side PNG (original, perturbation, adversarial, with the
predictions). It prints the model's predictions on both and whether the attack
reached its goal; an attack that fails is reported, not an error. An
untargeted attack moves the image away from its true class (-label, or an
embedded image's own); if the model already gets the image wrong, it says so.

The attacks:
`+attackList()+`
Examples:
  fastgo attack -model export.safetensors -image shoe.png -label Sneaker
  fastgo attack -model export.safetensors -image embedded:0 -target Bag -eps 0.05
  fastgo attack -weights w2.safetensors -arch smallcnn -image embedded:7 -attack fgsm`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := a.mf.check(); err != nil {
		return err
	}
	if a.image == "" {
		return usagef("-image FILE is required")
	}
	var err error
	if a.tm, err = a.af.threat(); err != nil {
		return err
	}
	a.white, a.black, err = a.af.build()
	return err
}

// setup loads the model and the image, its true label and the target.
func (a *attackRun) setup() error {
	lm, err := a.mf.load()
	if err != nil {
		return err
	}
	a.lm = lm
	if a.x, a.trueLabel, err = imageWithLabel(lm, a.image, a.label); err != nil {
		return err
	}
	if a.target != "" {
		if a.targetIdx, err = classIndex(a.target, lm.Classes); err != nil {
			return fmt.Errorf("-target: %w", err)
		}
	}
	if a.targetIdx < 0 && a.trueLabel < 0 {
		return usagef("an untargeted attack moves %s away from its true class: give it with -label (a class index or name), or give -target", a.image)
	}
	if err := os.MkdirAll(a.out, 0o755); err != nil {
		return err
	}
	if a.clean, err = lm.Learner.Predict(a.x); err != nil {
		return fmt.Errorf("%s: %w", a.image, err)
	}
	a.misclassified = a.trueLabel >= 0 && a.clean.Index != a.trueLabel
	return nil
}

// attack runs the attack and predicts the adversarial image.
func (a *attackRun) attack(ctx context.Context) error {
	var crit attacks.Criterion
	if a.targetIdx >= 0 {
		crit = attacks.Targeted{a.targetIdx}
		a.goal = fmt.Sprintf("targeted: to %s", a.lm.Classes[a.targetIdx])
	} else {
		crit = attacks.Untargeted{a.trueLabel}
		a.goal = fmt.Sprintf("untargeted: away from %s", a.lm.Classes[a.trueLabel])
	}
	xb := a.x.Reshape(append([]int{1}, a.x.Shape()...)...)
	var err error
	if a.white != nil {
		a.name = a.white.Name()
		a.res, err = attacks.Run(ctx, a.white, a.lm.Learner.Model, xb, crit, a.tm)
	} else {
		a.name = a.black.Name()
		a.res, err = attacks.RunBlackBox(ctx, a.black, a.af.oracle(a.lm.Learner.Model), xb, crit, a.tm)
	}
	if err != nil {
		return err
	}
	a.adv = a.res.Adv.Reshape(a.x.Shape()...)
	a.advPred, err = a.lm.Learner.Predict(a.adv)
	return err
}

// pictures writes adversarial.png and side_by_side.png.
func (a *attackRun) pictures() error {
	a.advPath = filepath.Join(a.out, "adversarial.png")
	advImg, err := render.Image(a.adv)
	if err != nil {
		return err
	}
	if err := render.WritePNG(a.advPath, advImg); err != nil {
		return err
	}
	pert, scale, _ := render.Perturbation(a.x, a.adv)
	label := "label: unknown"
	if a.trueLabel >= 0 {
		label = "label: " + a.lm.Classes[a.trueLabel]
	}
	a.sidePath = filepath.Join(a.out, "side_by_side.png")
	side, err := render.Grid([][]render.Cell{{
		{Image: a.x, Caption: []string{label, "pred: " + predCaption(a.clean)}},
		{Image: pert, Caption: []string{fmt.Sprintf("x%.3g, %s %.3g", scale, a.tm.Norm, a.res.Norms[0])}},
		{Image: a.adv, Caption: []string{"pred: " + predCaption(a.advPred)}},
	}}, render.Title(fmt.Sprintf("%s, %s, %s", a.name, a.tm, a.goal)), render.ColumnTitles("original", "perturbation", "adversarial"), render.MinCellWidth(150))
	if err != nil {
		return err
	}
	return render.WritePNG(a.sidePath, side)
}

// print prints the predictions, the perturbation and the outcome.
func (a *attackRun) print(stdout io.Writer) {
	fmt.Fprintf(stdout, "attack:      %s within %s, %s\n", a.name, a.tm, a.goal)
	if a.trueLabel >= 0 {
		fmt.Fprintf(stdout, "true label:  %s\n", a.lm.Classes[a.trueLabel])
	} else {
		fmt.Fprintf(stdout, "true label:  unknown (give -label N)\n")
	}
	fmt.Fprintf(stdout, "clean:       %s (p=%.3f)\n", a.clean.Class, a.clean.Probs[a.clean.Index])
	fmt.Fprintf(stdout, "adversarial: %s (p=%.3f)", a.advPred.Class, a.advPred.Probs[a.advPred.Index])
	if a.targetIdx >= 0 {
		fmt.Fprintf(stdout, ", p(%s)=%.3f", a.lm.Classes[a.targetIdx], a.advPred.Probs[a.targetIdx])
	}
	fmt.Fprintln(stdout)
	xb := a.x.Reshape(append([]int{1}, a.x.Shape()...)...)
	dist := attacks.ThreatModel{Norm: attacks.L2}.Norms(xb, a.res.Adv)[0]
	linf := attacks.ThreatModel{Norm: attacks.Linf}.Norms(xb, a.res.Adv)[0]
	fmt.Fprintf(stdout, "perturbation: Linf %.4f, L2 %.4f", linf, dist)
	if a.res.Queries != nil {
		fmt.Fprintf(stdout, ", %d queries", a.res.Queries[0])
	}
	fmt.Fprintln(stdout)
	switch {
	case a.misclassified && a.targetIdx < 0:
		fmt.Fprintf(stdout, "result:      the model already misclassifies this image (true label %s, predicted %s): the untargeted attack had nothing to do\n",
			a.lm.Classes[a.trueLabel], a.clean.Class)
	case a.res.Success[0]:
		if a.misclassified {
			fmt.Fprintf(stdout, "note:        the model already misclassified this image (true label %s, predicted %s)\n", a.lm.Classes[a.trueLabel], a.clean.Class)
		}
		fmt.Fprintln(stdout, "result:      the attack succeeded")
	default:
		if a.misclassified {
			fmt.Fprintf(stdout, "note:        the model already misclassified this image (true label %s, predicted %s)\n", a.lm.Classes[a.trueLabel], a.clean.Class)
		}
		fmt.Fprintln(stdout, "result:      the attack failed within this budget (try a larger -eps or more -steps)")
	}
	fmt.Fprintf(stdout, "wrote %s and %s\n", a.advPath, a.sidePath)
}

// predCaption is "Class p=0.93".
func predCaption(p learner.Prediction) string {
	return fmt.Sprintf("%s p=%.2f", p.Class, p.Probs[p.Index])
}

// attackImage loads -image: a file, or embedded:N (image N of the embedded
// Fashion-MNIST validation set, with its label). The label is -1 for a file.
func attackImage(lm *loadedModel, spec string) (*tensor.Tensor, int, error) {
	if rest, ok := strings.CutPrefix(spec, "embedded:"); ok {
		i, err := strconv.Atoi(rest)
		if err != nil || i < 0 || i >= 2000 {
			return nil, -1, usagef("-image %s: want embedded:N with N from 0 to 1999 (the validation images)", spec)
		}
		dls, err := vision.EmbeddedFashionMNIST(vision.BatchSize(1))
		if err != nil {
			return nil, -1, err
		}
		x, err := dls.Valid.Dataset().Image(i)
		if err != nil {
			return nil, -1, err
		}
		if s := lm.InputShape; s != nil && !tensor.SameShape(x.Shape(), s) {
			return nil, -1, fmt.Errorf("-image %s: a 1x28x28 Fashion-MNIST image, the model %s takes %s", spec, lm.Source, shapeString(s))
		}
		return x, dls.Valid.Dataset().Label(i), nil
	}
	x, err := lm.loadImage(spec)
	return x, -1, err
}
