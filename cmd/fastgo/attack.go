package main

import (
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

func runAttack(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("attack", stderr)
	var mf modelFlags
	mf.register(fs)
	var af attackFlags
	af.register(fs, "pgd", 40)
	image := fs.String("image", "", "the image file to attack (PNG, JPEG, GIF, BMP, TIFF, WebP), or embedded:N for image N of the embedded Fashion-MNIST validation set")
	target := fs.String("target", "", "the class to push the image to, by index or name (a targeted attack); empty: untargeted, away from -label")
	label := fs.String("label", "", "the image's true class, by index or name (default: the model's prediction on it)")
	out := fs.String("out", ".", "the folder for adversarial.png (the adversarial image at the model's input size) and side_by_side.png")
	setUsage(fs, "fastgo attack (-model FILE | -weights FILE -arch ARCH) -image FILE [-target K] [-attack NAME] [-eps E]", `
Attacks one image: decodes it as the model's data was (channels, recorded item
transforms, then resized to the model's input), runs the attack within the
threat model (-norm, -eps in [0,1] pixels) and writes the adversarial image
and a side-by-side PNG (original, perturbation, adversarial, with the
predictions). It prints the model's predictions on both and whether the attack
reached its goal; an attack that fails is reported, not an error.

The attacks:
`+attackList()+`
Examples:
  fastgo attack -model export.safetensors -image shoe.png -target 3
  fastgo attack -model export.safetensors -image embedded:0 -target Bag -eps 0.05
  fastgo attack -weights w2.safetensors -arch smallcnn -image embedded:7 -attack fgsm`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := mf.check(); err != nil {
		return err
	}
	if *image == "" {
		return usagef("-image FILE is required")
	}
	tm, err := af.threat()
	if err != nil {
		return err
	}
	white, black, err := af.build()
	if err != nil {
		return err
	}
	lm, err := mf.load()
	if err != nil {
		return err
	}
	x, trueLabel, err := attackImage(lm, *image)
	if err != nil {
		return err
	}
	if *label != "" {
		if trueLabel, err = classIndex(*label, lm.Classes); err != nil {
			return err
		}
	}
	targetIdx := -1
	if *target != "" {
		if targetIdx, err = classIndex(*target, lm.Classes); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}

	clean, err := lm.Learner.Predict(x)
	if err != nil {
		return fmt.Errorf("%s: %w", *image, err)
	}
	if trueLabel < 0 {
		trueLabel = clean.Index
	}
	var crit attacks.Criterion = attacks.Untargeted{trueLabel}
	goal := fmt.Sprintf("untargeted: away from %s", lm.Classes[trueLabel])
	if targetIdx >= 0 {
		crit = attacks.Targeted{targetIdx}
		goal = fmt.Sprintf("targeted: to %s", lm.Classes[targetIdx])
	}
	ctx, stop := interruptContext()
	defer stop()
	xb := x.Reshape(append([]int{1}, x.Shape()...)...)
	var res *attacks.Result
	name := ""
	if white != nil {
		name = white.Name()
		res, err = attacks.Run(ctx, white, lm.Learner.Model, xb, crit, tm)
	} else {
		name = black.Name()
		res, err = attacks.RunBlackBox(ctx, black, af.oracle(lm.Learner.Model), xb, crit, tm)
	}
	if err != nil {
		return interrupted(ctx, err, "")
	}
	adv := res.Adv.Reshape(x.Shape()...)
	advPred, err := lm.Learner.Predict(adv)
	if err != nil {
		return err
	}

	advPath := filepath.Join(*out, "adversarial.png")
	advImg, err := render.Image(adv)
	if err != nil {
		return err
	}
	if err := render.WritePNG(advPath, advImg); err != nil {
		return err
	}
	pert, scale, _ := render.Perturbation(x, adv)
	sidePath := filepath.Join(*out, "side_by_side.png")
	side, err := render.Grid([][]render.Cell{{
		{Image: x, Caption: []string{"original", predCaption(clean)}},
		{Image: pert, Caption: []string{"perturbation", fmt.Sprintf("x%.3g, %s %.3g", scale, tm.Norm, res.Norms[0])}},
		{Image: adv, Caption: []string{"adversarial", predCaption(advPred)}},
	}}, render.Title(fmt.Sprintf("%s, %s, %s", name, tm, goal)), render.MinCellWidth(150))
	if err != nil {
		return err
	}
	if err := render.WritePNG(sidePath, side); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "attack:      %s within %s, %s\n", name, tm, goal)
	fmt.Fprintf(stdout, "clean:       %s (p=%.3f)\n", clean.Class, clean.Probs[clean.Index])
	fmt.Fprintf(stdout, "adversarial: %s (p=%.3f)", advPred.Class, advPred.Probs[advPred.Index])
	if targetIdx >= 0 {
		fmt.Fprintf(stdout, ", p(%s)=%.3f", lm.Classes[targetIdx], advPred.Probs[targetIdx])
	}
	fmt.Fprintln(stdout)
	dist := attacks.ThreatModel{Norm: attacks.L2}.Norms(xb, res.Adv)[0]
	linf := attacks.ThreatModel{Norm: attacks.Linf}.Norms(xb, res.Adv)[0]
	fmt.Fprintf(stdout, "perturbation: Linf %.4f, L2 %.4f", linf, dist)
	if res.Queries != nil {
		fmt.Fprintf(stdout, ", %d queries", res.Queries[0])
	}
	fmt.Fprintln(stdout)
	if res.Success[0] {
		fmt.Fprintln(stdout, "result:      the attack succeeded")
	} else {
		fmt.Fprintln(stdout, "result:      the attack failed within this budget (try a larger -eps or more -steps)")
	}
	fmt.Fprintf(stdout, "wrote %s and %s\n", advPath, sidePath)
	return nil
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
