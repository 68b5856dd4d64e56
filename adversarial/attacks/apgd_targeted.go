package attacks

import (
	"context"
	"fmt"

	"github.com/fastgo-ml/fastgo/adversarial/internal/batch"
	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/tensor"
)

// APGDT is AutoAttack's targeted APGD (APGD-T): under Untargeted(y), it
// runs APGD with the targeted DLR loss
//
//	-(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4)/2 + 1e-12)
//
// toward each of the Targets classes the clean input scores highest after
// the top one (the 2nd most likely, then the 3rd...), each time only on the
// samples not yet misclassified, with Restarts runs per target. Success is
// misclassification: any class but y. z_pi1 >= z_pi2 >= ... are the sorted
// logits. The model needs at least 4 classes.
//
// Under Targeted(t) it runs APGD with TargetedDLRLoss toward t alone (the
// same as APGD{Loss: APGDDLR}).
type APGDT struct {
	// Steps is the number of iterations per run (0: 100).
	Steps int
	// Restarts is the number of runs per target class (0: 1).
	Restarts int
	// Targets is the number of target classes (0: 9, AutoAttack's choice;
	// at most the number of classes minus one).
	Targets int
	// Rho is APGD's step-size threshold (0: 0.75).
	Rho float64
	// EOT is the number of passes averaged per gradient (see APGD.EOT).
	EOT int
	// LargeEps runs L1 attacks at 3 eps, 2 eps and eps (see APGD.LargeEps).
	LargeEps bool
	// Seed seeds the random starts.
	Seed uint64
}

// Name returns "APGD-T", with "-EOT<k>" appended when EOT > 1.
func (a APGDT) Name() string { return "APGD-T" + eotSuffix(a.EOT) }

// Perturb implements Attack, for Linf, L2 and L1 threat models.
func (a APGDT) Perturb(ctx context.Context, m *Model, x *tensor.Tensor, c Criterion, tm ThreatModel) (*tensor.Tensor, error) {
	spec, err := newAPGDSpec(a.Steps, a.Restarts, a.Rho, a.EOT, a.LargeEps, a.Seed, tm)
	if err != nil {
		return nil, err
	}
	switch c.(type) {
	case Targeted:
		return APGD{Steps: a.Steps, Restarts: a.Restarts, Loss: APGDDLR, Rho: a.Rho, EOT: a.EOT, LargeEps: a.LargeEps, Seed: a.Seed}.Perturb(ctx, m, x, c, tm)
	case Untargeted:
	default:
		return nil, fmt.Errorf("APGD-T: unsupported criterion %T", c)
	}
	if tm.Eps == 0 {
		return x.Clone(), nil
	}
	m = spec.model(m)
	out, err := m.Outputs(x)
	if err != nil {
		return nil, err
	}
	nc := out.Dim(1)
	if nc < 4 {
		return nil, fmt.Errorf("APGD-T: the targeted DLR loss needs at least 4 classes, the model has %d", nc)
	}
	if err := checkClasses(c, nc); err != nil {
		return nil, err
	}
	n := x.Dim(0)
	labels := c.Classes()
	ranks := make([][]int, n)
	for i := range ranks {
		ranks[i] = sortedDesc(out.Data()[i*nc : (i+1)*nc])
	}
	targets := min(batch.OrDefault(a.Targets, 9), nc-1)
	b := newBest(x)
	b.offer(x, c.IsAdversarial(out), Margins(out, c), nil)
	rngs := SampleRNGs(spec.seed, x)
	for r := 1; r <= targets; r++ {
		var rows []int
		for i := 0; i < n; i++ {
			if !b.adv[i] {
				rows = append(rows, i)
			}
		}
		if len(rows) == 0 {
			break
		}
		tgt := make([]int, n)
		for i := range tgt {
			tgt[i] = ranks[i][r]
			if tgt[i] == labels[i] { // a misclassified clean input (already fooled)
				tgt[i] = ranks[i][0]
			}
		}
		obj := func(rows []int) objective {
			y, t := batch.SelectInts(labels, rows), batch.SelectInts(tgt, rows)
			return func(o *autograd.Value) *autograd.Value { return dlrPair(o, y, t) }
		}
		if err := spec.runs(ctx, m, x, c, tm, obj, b, rngs, rows); err != nil {
			return nil, err
		}
	}
	return b.x, nil
}

// dlrPair is AutoAttack's targeted DLR objective with the label y known:
// (z_t - z_y) / (z_pi1 - (z_pi3 + z_pi4)/2 + 1e-12), to be maximised.
func dlrPair(out *autograd.Value, y, t []int) *autograd.Value {
	return autograd.Div(classDiff(out, t, y), dlrDenominator("APGD-T", out, []float32{1, 0, -0.5, -0.5}))
}
