package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo/adversarial"
	"github.com/fastgo-ml/fastgo/adversarial/attacks"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/vision"
	"github.com/fastgo-ml/fastgo/vision/models"
)

// check panics on a non-nil error (it stands for your error handling).
func check(err error) {
	if err != nil {
		panic(err)
	}
}

// Example_flows is the README's example, kept here so that the compiler
// checks it (it has no Output comment, so go test compiles it but does not
// run it: the full run takes an hour; main runs the same calls with -small
// in seconds). TestReadmeExample keeps the README in step.
func Example_flows() {
	ctx := context.Background()
	dls, err := vision.EmbeddedFashionMNIST(vision.BatchSize(128))
	check(err)
	learn, err := vision.CNNLearner(dls, models.ResNet34, learner.Metrics(learner.Accuracy()))
	check(err)
	err = learn.FineTune(ctx, 5)
	check(err)
	adv := adversarial.NewLearner(learn)
	img, err := dls.Valid.Dataset().Image(0)
	check(err)
	x, err := adv.GenerateAdvExample(ctx, img, attacks.TargetLabel(3))
	check(err)
	pred, err := adv.Predict(x)
	check(err)
	err = adv.FitOneCycle(ctx, 5, learner.Callbacks(adversarial.NewTrainer()))
	check(err)
	report, err := adv.EvaluateRobustness(ctx)
	check(err)
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
