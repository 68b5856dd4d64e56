package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/fastgo-ml/fastgo/learner"
)

func init() {
	register(&command{
		name:  "lr-find",
		short: "run fastai's learning-rate finder: print its four suggestions and plot the curve",
		run:   runLRFind,
	})
}

func runLRFind(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("lr-find", stderr)
	var tf trainFlags
	tf.register(fs)
	png := fs.String("png", "lr_find.png", "the plot of the loss against the learning rate, with the suggestions marked")
	startLR := fs.Float64("start-lr", 1e-7, "first learning rate")
	endLR := fs.Float64("end-lr", 10, "last learning rate")
	numIt := fs.Int("num-it", 100, "batches of the mock training (at least 6)")
	setUsage(fs, "fastgo lr-find [-data ...] [-arch ARCH] [-png FILE]", `
Runs fastai's learning-rate finder (lr_find) on a fresh model: a mock training
whose learning rate grows exponentially from -start-lr to -end-lr over -num-it
batches, stopped when the smoothed loss passes 4 times its best. It prints
fastai's four suggestions (valley, the default, slide, minimum and steep) and
writes the curve to -png. The data and model flags are train's; pass the lr you
pick to "fastgo train -lr".`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := tf.check(); err != nil {
		return err
	}
	switch {
	case !(*startLR > 0) || !(*endLR > *startLR) || !(*endLR <= 1e6):
		return usagef("want 0 < -start-lr < -end-lr <= 1e6, got %v and %v", *startLR, *endLR)
	case *numIt < 6 || *numIt > 1_000_000:
		return usagef("-num-it %d must be between 6 and 1000000", *numIt)
	case *png == "":
		return usagef("-png must name a file")
	}
	if err := os.MkdirAll(filepath.Dir(*png), 0o755); err != nil {
		return err
	}
	ctx, stop := interruptContext()
	defer stop()
	l, arch, undo, err := tf.setup(ctx, stdout)
	if err != nil {
		return err
	}
	defer undo()
	fmt.Fprintf(stdout, "model: %s; %d mock training batches from lr %.3g to %.3g\n", arch, *numIt, *startLR, *endLR)
	res, err := l.LRFind(ctx, learner.StartLR(*startLR), learner.EndLR(*endLR), learner.NumIt(*numIt), learner.ProgressTo(stdout))
	if err != nil {
		return interrupted(ctx, err, "")
	}
	fmt.Fprintf(stdout, "%s", table([][]string{
		{"suggestion", "lr"},
		{"valley", fmt.Sprintf("%.3g", res.Valley)},
		{"slide", fmt.Sprintf("%.3g", res.Slide)},
		{"minimum", fmt.Sprintf("%.3g", res.Minimum)},
		{"steep", fmt.Sprintf("%.3g", res.Steep)},
	}))
	if err := res.Plot(*png); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "plot: %s (%d points)\ntrain at the valley: fastgo train -lr %.3g ...\n", *png, len(res.LRs), res.Valley)
	return nil
}
