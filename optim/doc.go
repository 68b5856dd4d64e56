// Package optim holds fastgo's optimizers: SGD (momentum, dampening, Nesterov,
// L2 weight decay), Adam with L2 weight decay, AdamW with decoupled weight
// decay, RMSProp (centered, momentum), and FastaiAdam, fastai's defaults.
//
// Each follows torch.optim's update formulas, in float32, step for step; the
// tests check three steps of every optimizer against PyTorch 1.13. SGD and
// RMSProp agree to float32 rounding (about 1e-7 relative; PyTorch fuses some
// multiply-adds). Adam and AdamW agree to within 1e-6 (4e-7 measured): their
// inner loop, shared with the SIMD kernels, rounds 1-beta1 and 1-beta2 to
// float32 from the float32 betas, where PyTorch rounds them from float64,
// which changes exp_avg_sq by 1.3e-5 relative for beta2 = 0.999.
//
// # Parameter groups and hyper-parameters
//
// An optimizer holds one or more ParamGroups. Each group has its parameters
// and its own named hyper-parameters, float64 values that a schedule reads
// and sets between steps by name, as fastai's schedulers set "lr" and "mom"
// on every group every batch:
//
//	for _, g := range opt.ParamGroups() {
//		g.Set("lr", lr)
//		g.Set("mom", mom)
//	}
//
// The names are fastai's:
//
//	lr         learning rate
//	mom        SGD's momentum, Adam's beta1, RMSProp's momentum
//	sqr_mom    Adam's beta2, RMSProp's alpha (the square average's decay)
//	eps        the term added to the denominator (Adam, RMSProp)
//	wd         weight decay: L2 (added to the gradient) for SGD, Adam and
//	           RMSProp; decoupled (p *= 1 - lr*wd) for AdamW and FastaiAdam
//	dampening  SGD's dampening of the momentum
//	nesterov   SGD's Nesterov momentum: 1 on, 0 off
//	centered   RMSProp's centered variant: 1 on, 0 off
//
// PyTorch's names are accepted as aliases wherever a name is taken:
// "momentum" and "beta1" mean "mom", "beta2" and "alpha" mean "sqr_mom",
// "weight_decay" means "wd". Options such as LR and Betas set the defaults
// of an optimizer; a group made with NewGroup may override any of them, as a
// torch.optim param group dict does. SplitNoDecay makes the usual pair of
// groups: one with weight decay and one, for biases and norm layers, without.
//
// # Frozen parameters
//
// Step skips a parameter that does not require a gradient or has none (nil
// Grad), so freezing a layer with SetRequiresGrad(false) freezes it in the
// optimizer too; its state (and step count) stays as it was. ZeroGrad
// clears every parameter's gradient.
//
// # State
//
// StateDict returns a copy of an optimizer's hyper-parameters, step counts
// and buffers (momentum_buffer, exp_avg, exp_avg_sq, square_avg, grad_avg,
// named as in PyTorch); LoadStateDict restores it into an optimizer built
// over the same parameter groups, and the next step is bit-identical to the
// one the saved optimizer would have taken. Save and Load store a state in
// a safetensors file.
//
// # Errors
//
// Constructors panic on invalid hyper-parameters (a negative learning rate,
// a beta outside [0, 1), Nesterov without momentum, a name the optimizer does
// not use) and on a parameter listed twice, as torch.optim raises: these are
// programmer errors. Step panics when a gradient's shape differs from its
// parameter's. Loading a state that does not fit returns an error.
//
// An optimizer is not safe for concurrent use.
package optim
