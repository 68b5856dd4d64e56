// Command advtrain hardens a classifier with each of fastgo's adversarial
// training defences and compares them: it trains a SmallCNN on the embedded
// Fashion-MNIST images, then, from the same weights, fine-tunes one copy per
// defence, and measures every model's clean accuracy and its robust accuracy
// under PGD-20 at several Linf budgets. The defences:
//
//   - PGD-AT (Madry et al.): adversarial.NewTrainer(PGD{...}, threat)
//   - fast AT (Wong et al.): adversarial.NewFastAT(threat), FGSM from a random
//     start with a guard against catastrophic overfitting
//   - TRADES (Zhang et al.): &adversarial.TRADES{Threat: threat}
//
// They are learner callbacks, so a fit takes them as any other:
//
//	learn.FitOneCycle(ctx, epochs, lr, learner.Callbacks(defence))
//
// Run it with
//
//	go run ./examples/advtrain          # a few minutes
//	go run ./examples/advtrain -small   # seconds, for CI
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/fastgo-ml/fastgo/adversarial"
	"github.com/fastgo-ml/fastgo/adversarial/attacks"
	"github.com/fastgo-ml/fastgo/callbacks"
	"github.com/fastgo-ml/fastgo/data"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/vision"
	"github.com/fastgo-ml/fastgo/vision/models"
)

func main() {
	small := flag.Bool("small", false, "short epochs and few evaluation images: runs in seconds")
	eps := flag.Float64("eps", 0.1, "the Linf budget trained against, in [0,1] pixels")
	flag.Parse()
	if err := run(*small, *eps); err != nil {
		log.Fatal(err)
	}
}

func run(small bool, eps float64) error {
	ctx := context.Background()
	pct, n, steps, epochs := 1.0, 500, 7, 2
	if small {
		pct, n, steps, epochs = 0.1, 32, 2, 1
	}
	short := func() []learner.Callback {
		if pct < 1 {
			return []learner.Callback{&callbacks.ShortEpoch{Pct: pct, FullValid: true}}
		}
		return nil
	}
	dls, err := vision.EmbeddedFashionMNIST(vision.BatchSize(128))
	if err != nil {
		return err
	}
	threat := attacks.ThreatModel{Norm: attacks.Linf, Eps: eps}

	// The standard model, trained once; every defence starts from it.
	show := learner.ProgressTo(os.Stdout) // bars in a terminal, the results table in a log
	base, err := vision.CNNLearner(dls, models.SmallCNN, learner.Metrics(learner.Accuracy()), show, vision.InitSeed(1))
	if err != nil {
		return err
	}
	fmt.Println("standard training:")
	if err := base.FitOneCycle(ctx, epochs, learner.LR(5e-3), learner.Callbacks(short()...)); err != nil {
		return err
	}
	start := layers.GetStateDict(base.Model)

	b, err := data.First(ctx, dls.Valid, n)
	if err != nil {
		return err
	}
	x, y := b.X, b.Y
	epsList := []float64{eps / 2, eps, 1.5 * eps}
	rows := [][]string{{"model", "clean"}}
	for _, e := range epsList {
		rows[0] = append(rows[0], fmt.Sprintf("eps %.3g", e))
	}
	measure := func(name string, m layers.Module) error {
		res, err := attacks.RunEps(ctx, attacks.PGD{Steps: 20, RandomStart: true}, m, x, attacks.Untargeted(y), threat, append([]float64{0}, epsList...))
		if err != nil {
			return err
		}
		row := []string{name}
		for _, r := range res {
			row = append(row, fmt.Sprintf("%.3f", r.Accuracy(y)))
		}
		rows = append(rows, row)
		return nil
	}
	if err := measure("standard", base.Model); err != nil {
		return err
	}

	defences := []struct {
		name string
		cb   learner.Callback
	}{
		{"PGD-AT", adversarial.NewTrainer(adversarial.Attack(attacks.PGD{Steps: steps, RandomStart: true, LastIterate: true}), adversarial.Threat(threat))},
		{"fast AT", adversarial.NewFastAT(adversarial.Threat(threat))},
		{"TRADES", &adversarial.TRADES{Threat: threat, Beta: 6, Steps: steps}},
	}
	for _, d := range defences {
		learn, err := vision.CNNLearner(dls, models.SmallCNN, learner.Metrics(learner.Accuracy()), show)
		if err != nil {
			return err
		}
		m := learn.Model
		if _, err := layers.LoadStateDict(m, start); err != nil {
			return err
		}
		fmt.Printf("\n%s:\n", d.name)
		cbs := append(short(), d.cb)
		if err := learn.FitOneCycle(ctx, epochs, learner.LR(2e-3), learner.Callbacks(cbs...)); err != nil {
			return err
		}
		if t, ok := d.cb.(*adversarial.AdversarialTrainer); ok && t.Guard() != nil && t.Guard().Tripped() {
			fmt.Println("the overfitting guard tripped: the last good weights were restored")
		}
		if err := measure(d.name, m); err != nil {
			return err
		}
	}

	fmt.Printf("\naccuracy on the first %d validation images (PGD-20 from a random start, Linf):\n", len(y))
	for _, r := range rows {
		fmt.Printf("%-10s %s\n", r[0], strings.TrimRight(strings.Join(pad(r[1:], 12), ""), " "))
	}
	return nil
}

func pad(cells []string, w int) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = fmt.Sprintf("%-*s", w, c)
	}
	return out
}
