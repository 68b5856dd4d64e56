package main

import (
	"testing"

	"github.com/fastgo-ml/fastgo/adversarial/robustness"
	"github.com/fastgo-ml/fastgo/tensor"
)

func TestDistinctExamples(t *testing.T) {
	img := func(v float32) *tensor.Tensor { return tensor.FromSlice([]float32{v, v, v, v}, 1, 2, 2) }
	targeted := []robustness.Example{{Index: 0, Attack: "PGD-40 to Coat", Clean: img(0.5), Adv: img(0.6)}}
	evaluated := []robustness.Example{
		{Index: 0, Attack: "FGSM", Clean: img(0.5), Adv: img(0.4)},
		{Index: 3, Attack: "FGSM", Clean: img(0.2), Adv: img(0.3)},
	}
	got := distinctExamples(targeted, evaluated)
	if len(got) != 2 || got[0].Attack != "PGD-40 to Coat" || got[1].Index != 3 {
		t.Fatalf("distinct examples %+v, want the targeted one and image 3", got)
	}
}
