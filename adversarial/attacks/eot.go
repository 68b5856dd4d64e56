package attacks

import (
	"context"
	"fmt"

	"github.com/fastgo-ml/fastgo/adversarial/internal/batch"
	"github.com/fastgo-ml/fastgo/tensor"
)

// EOT wraps a gradient attack for a randomised model (random resizing or
// padding, input noise, stochastic activations at test time): Expectation
// over Transformation (Athalye, Carlini and Wagner, "Obfuscated Gradients
// Give a False Sense of Security", 2018). The wrapped attack sees
// m.Expectation(Samples), whose outputs and input gradients are the means
// over Samples forward and backward passes, so it follows the gradient of
// the expected loss rather than of one random draw. Against a randomised
// defence, an attack without EOT measures the randomness, not the
// robustness.
//
// The result is still evaluated by the runner on a single pass of the
// model, as any prediction of a randomised model is; run the evaluation
// several times (or on an Expectation) to measure the expected success.
//
// EOT is a MinimumNormAttack exactly when the wrapped attack is one.
type EOT struct {
	// Attack is the wrapped attack.
	Attack Attack
	// Samples is the number of passes averaged per step (0: 16; 1: the
	// wrapped attack unchanged).
	Samples int
}

// Name returns "EOT<k>(<attack>)".
func (e EOT) Name() string {
	inner := "<nil>"
	if e.Attack != nil {
		inner = e.Attack.Name()
	}
	return fmt.Sprintf("EOT%d(%s)", batch.OrDefault(e.Samples, 16), inner)
}

// MinimumNorm reports whether the wrapped attack is a minimum-norm attack.
func (e EOT) MinimumNorm() bool {
	mn, ok := e.Attack.(MinimumNormAttack)
	return ok && mn.MinimumNorm()
}

// Perturb implements Attack: the wrapped attack's Perturb on
// m.Expectation(Samples).
func (e EOT) Perturb(ctx context.Context, m *Model, x *tensor.Tensor, c Criterion, tm ThreatModel) (*tensor.Tensor, error) {
	if e.Attack == nil {
		return nil, fmt.Errorf("EOT: nil attack")
	}
	return e.Attack.Perturb(ctx, m.Expectation(batch.OrDefault(e.Samples, 16)), x, c, tm)
}
