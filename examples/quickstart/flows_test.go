package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo/adversarial"
	"github.com/fastgo-ml/fastgo/adversarial/attacks"
	"github.com/fastgo-ml/fastgo/adversarial/robustness"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/vision"
	"github.com/fastgo-ml/fastgo/vision/models"
)

// must returns v, and panics on a non-nil error.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// check panics on a non-nil error.
func check(err error) {
	if err != nil {
		panic(err)
	}
}

// Example_flows is the README's ten-line example, kept here so that the
// compiler checks it (it has no Output comment, so go test compiles it but
// does not run it: the full run takes an hour; main runs the same calls
// with -small in seconds). TestReadmeExample keeps the README in step.
func Example_flows() {
	ctx := context.Background()
	dls := must(vision.EmbeddedFashionMNIST(vision.BatchSize(128)))
	learn := must(vision.CNNLearner(dls, models.ResNet34, learner.Metrics(learner.Accuracy())))
	check(learn.FineTune(ctx, 5))
	adv := adversarial.NewLearner(learn)
	img := must(dls.Valid.Dataset().Image(0))
	x := must(adv.GenerateAdvExample(img, adversarial.TargetLabel(3)))
	pred := must(adv.Predict(x))
	check(adv.FitOneCycle(ctx, 5, learner.Callbacks(adversarial.NewTrainer(nil, attacks.DefaultThreat()))))
	report := must(adv.EvaluateRobustness(ctx, robustness.StandardSuite(0.1)))
	fmt.Println(pred.Class, report.WorstCase)
}

// TestReadmeExample checks that the README's Go example is Example_flows'
// body, line for line.
func TestReadmeExample(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("flows_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(readme), "```go\n")
	if !ok {
		t.Fatal("README.md has no ```go block")
	}
	block, _, _ = strings.Cut(block, "```")
	_, body, _ := strings.Cut(string(src), "func Example_flows() {\n")
	body, _, _ = strings.Cut(body, "\n}\n")
	var want []string
	for _, l := range strings.Split(body, "\n") {
		want = append(want, strings.TrimPrefix(l, "\t"))
	}
	got := strings.Split(strings.TrimRight(block, "\n"), "\n")
	// The README's block may start with an import line for context; the
	// example's body must follow, line for line.
	for len(got) > len(want) && (strings.HasPrefix(got[0], "//") || strings.HasPrefix(got[0], "import") || got[0] == "") {
		got = got[1:]
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("README.md's Go example:\n%s\n\nis not Example_flows' body:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
