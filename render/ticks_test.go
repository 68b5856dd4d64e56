package render

import (
	"testing"
)

func TestTicksAt(t *testing.T) {
	ticks := TicksAt(0.1, 0, 0.05, 0.15, 0.1, 0.152)
	var vals []float64
	var labels []string
	for _, tk := range ticks {
		vals = append(vals, tk.Value)
		labels = append(labels, tk.Label)
	}
	wantV := []float64{0, 0.05, 0.1, 0.15, 0.152}
	wantL := []string{"0", "0.05", "0.1", "0.15", ""}
	if len(vals) != len(wantV) {
		t.Fatalf("ticks at %v, want %v", vals, wantV)
	}
	for i := range wantV {
		if vals[i] != wantV[i] || labels[i] != wantL[i] {
			t.Errorf("tick %d: %v %q, want %v %q", i, vals[i], labels[i], wantV[i], wantL[i])
		}
	}
	if len(TicksAt()) != 0 {
		t.Error("ticks with no value")
	}
}
