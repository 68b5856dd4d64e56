package main

import (
	"strings"
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

// TestTableLinesUp: every column of the command's tables starts at the
// same offset on every line, names with non-ASCII letters included.
func TestTableLinesUp(t *testing.T) {
	rows := [][]string{{"", "standard", "adversarially trained"}, {"clean accuracy", "0.860", "0.820"},
		{"Square-250 eps 0.1", "0.440", "0.650"}, {"robe d'été à manches longues", "0.1", "0.2"}}
	lines := strings.Split(strings.TrimSuffix(table(rows), "\n"), "\n")
	if len(lines) != len(rows) {
		t.Fatalf("%d lines for %d rows", len(lines), len(rows))
	}
	col := func(l string, k int) int { // rune offset of cell k
		r := []rune(l)
		want := rows[0][k]
		for i, row := range rows {
			if lines[i] == l {
				want = row[k]
			}
		}
		for i := range r {
			if strings.HasPrefix(string(r[i:]), want) && (i == 0 || r[i-1] == ' ') {
				return i
			}
		}
		return -1
	}
	for k := 1; k < 3; k++ {
		at := col(lines[0], k)
		for _, l := range lines[1:] {
			if got := col(l, k); got != at {
				t.Errorf("column %d at %d in %q, %d in the header\n%s", k, got, l, at, strings.Join(lines, "\n"))
			}
		}
	}
}
