package layers

import (
	"github.com/fastgo-ml/fastgo/autograd"
)

// ClassLoss is a loss over integer class targets, as the Learner uses.
type ClassLoss interface {
	// Loss returns the loss of predictions pred [N, C] against targets (N labels).
	Loss(pred *autograd.Value, targets []int) *autograd.Value
}

// CrossEntropyLoss is torch.nn.CrossEntropyLoss (optionally with label
// smoothing, class weights and an ignored index, through Opts).
type CrossEntropyLoss struct {
	// Opts are passed to autograd.CrossEntropy (a Reduction,
	// LabelSmoothing, ClassWeights, IgnoreIndex); none means PyTorch's
	// default (mean, no smoothing, no weights, ignore index -100).
	Opts []autograd.LossOption
}

// Loss returns the cross-entropy of logits against targets.
func (l *CrossEntropyLoss) Loss(logits *autograd.Value, targets []int) *autograd.Value {
	return autograd.CrossEntropy(logits, targets, l.Opts...)
}

// NLLLoss is torch.nn.NLLLoss over log-probabilities.
type NLLLoss struct {
	// Opts are passed to autograd.NLLLoss (a Reduction, ClassWeights,
	// IgnoreIndex); none means PyTorch's default.
	Opts []autograd.LossOption
}

// Loss returns the negative log-likelihood of logp against targets.
func (l *NLLLoss) Loss(logp *autograd.Value, targets []int) *autograd.Value {
	return autograd.NLLLoss(logp, targets, l.Opts...)
}

// MSELoss is torch.nn.MSELoss.
type MSELoss struct {
	// Reduction is mean (the zero value), sum or none.
	Reduction autograd.Reduction
}

// Loss returns the mean squared error between pred and target.
func (l *MSELoss) Loss(pred, target *autograd.Value) *autograd.Value {
	return autograd.MSELoss(pred, target, l.Reduction)
}

// BCEWithLogitsLoss is torch.nn.BCEWithLogitsLoss.
type BCEWithLogitsLoss struct {
	// Opts are passed to autograd.BCEWithLogits (a Reduction, PosWeight);
	// none means mean reduction without pos_weight.
	Opts []autograd.LossOption
}

// Loss returns the binary cross-entropy of logits against targets in [0, 1].
func (l *BCEWithLogitsLoss) Loss(logits, target *autograd.Value) *autograd.Value {
	return autograd.BCEWithLogits(logits, target, l.Opts...)
}

// KLDivLoss is torch.nn.KLDivLoss (input log-probabilities, target probabilities).
type KLDivLoss struct {
	// Reduction is mean over elements (the zero value, PyTorch's default),
	// batchmean (the true KL divergence per sample), sum or none.
	Reduction autograd.Reduction
}

// Loss returns KL(target || exp(logp)).
func (l *KLDivLoss) Loss(logp, target *autograd.Value) *autograd.Value {
	return autograd.KLDiv(logp, target, l.Reduction)
}
