// Package learner is fastgo's training loop: fastai's Learner, with the
// behaviour fastai's users rely on, as Go code (contexts, errors, options).
//
// A Learner ties together Data (a training and a validation Loader and the
// class names), a model (a layers.Module), a loss, an optimizer, metrics and
// callbacks:
//
//	learn := learner.New(data, model, learner.Metrics(learner.Accuracy()))
//	err := learn.FitOneCycle(ctx, 3, learner.LR(1e-2))
//	res, err := learn.LRFind(ctx)     // res.Valley: a learning rate to use
//	err = learn.FineTune(ctx, 5)       // transfer learning, see below
//	pred, err := learn.Predict(item)        // class, index, probabilities
//
// vision.CNNLearner builds a Learner for image classification from a model
// zoo architecture; vision.DataLoaders are a Data.
//
// # Defaults
//
// New uses fastai's defaults, so the short call does the right thing:
// cross-entropy loss; Adam with betas (0.9, 0.99), eps 1e-5 and decoupled
// weight decay 0.01 (optim.FastaiAdam), with no weight decay on biases and
// norm-layer parameters (WithWDBNBias to change); learning rate 1e-3; norm
// layers keep training in frozen groups (WithTrainBN). Every fit sets the
// learning rate and weight decay at its start, as fastai's fit does: Fit
// trains at LR (or FitLR's), the schedules at the rate given to them.
//
// # Schedules
//
// FitOneCycle is the 1cycle policy: the learning rate rises from lr/div to
// lr along half a cosine over the first PctStart of the batches, then falls
// along half a cosine to lr/DivFinal, while the momentum (Adam's beta1) goes
// 0.95 -> 0.85 -> 0.95 (defaults div 25, DivFinal 1e5, PctStart 0.25). At
// the fraction p of the fit done before a batch,
//
//	cos(a, b, t) = a + (1 + cos(pi*(1-t))) * (b-a)/2
//	lr(p) = cos(lr/div, lr, p/PctStart)                    for p < PctStart
//	lr(p) = cos(lr, lr/DivFinal, (p-PctStart)/(1-PctStart)) after
//
// exactly as fastai's combined_cos. FitFlatCos holds lr for PctStart (0.75)
// then anneals it; FitSGDR runs cosine cycles with warm restarts, each
// CycleMult (2) times longer. CombinedCos, CombineScheds and the Sched*
// functions build other schedules for a ParamScheduler callback.
//
// A learning rate is a Rate: LR(x) for every layer group, PerGroup for
// explicit values, or Slice(lo, hi), fastai's slice: rates spread
// log-evenly from lo (the first group) to hi (the last); Slice(0, hi) gives
// the last group hi and the others hi/10.
//
// # Layer groups, freezing and fine-tuning
//
// A Splitter cuts the model's parameters into layer groups (vision's CNNs
// use fastai's three for a ResNet: stem to layer2, layer3 and layer4, the
// head). FreezeTo(n) freezes the groups before n (norm layers keep
// training); frozen parameters get no gradient and cost no gradient work.
// As in fastai, freezing or unfreezing clears the optimizer's state.
// FineTune(epochs) is fastai's fine_tune: Freeze, FitOneCycle for
// FreezeEpochs (1) at Slice(0, base_lr) with PctStart 0.99, halve base_lr
// (2e-3), Unfreeze, then FitOneCycle for epochs at
// Slice(base_lr/LRMult, base_lr) (LRMult 100) with PctStart 0.3 and div 5.
//
// # The loop and its events
//
// A fit fires events in fastai's order:
//
//	before_fit
//	  before_epoch
//	    before_train
//	      before_batch after_pred after_loss
//	        before_backward after_backward before_step after_step   (training only)
//	      after_batch                                   (for every batch)
//	    after_train
//	    before_validate ... the batches, without backward and step ... after_validate
//	  after_epoch
//	after_fit
//
// A Callback's Handle runs at every event; callbacks run in the order of
// their Order (fastai's order; the Recorder is at 50, schedules at 60), then
// in the order given. Handle reads and may change the Learner's state: a
// callback can replace the batch's inputs and targets (XB, YB) in
// BeforeBatch, the predictions (Pred) in AfterPred, the loss (LossV) in
// AfterLoss, or the loss function for one batch (LossFuncOverride), which is
// how MixUp and adversarial training plug in; and it can set
// hyper-parameters (SetHyper), which is how schedules work.
//
// A callback skips the rest of a stage by returning a Cancel: CancelBatch,
// CancelStep, CancelBackward, CancelTrain, CancelValidate, CancelEpoch or
// CancelFit. The loop then fires the stage's AfterCancel event and its
// After event, and goes on with the next stage, as fastai's _with_events;
// the After events of the stages inside it are skipped. CancelFit ends the
// fit normally (Fit returns nil). As in fastai, a cancelled backward still
// runs the step, and the gradients are cleared only after the step stage:
// a CancelBatch raised after the backward keeps them for the next batch to
// add to (GradientAccumulation relies on this).
//
// Validation runs in eval mode under autograd.NoGrad; training in train
// mode. Fit takes a context.Context: a cancelled context, a loss that is not
// finite, a callback that fails or panics, a model that panics (an input of
// the wrong shape), or a loader error ends the run with a *FitError naming
// the epoch, the phase and batch, and the callback and event, if any; the
// model is left usable, in training mode, with no pending gradients.
//
// # Results
//
// The Recorder, always present, keeps the smoothed training loss and the
// learning rate and momentum of every batch, and per epoch the row of
// fastai's results table (train_loss, valid_loss, the metrics, time), with
// PNG plots (PlotLoss, PlotSched). Metrics are batch-size weighted averages
// (Accuracy, ErrorRate, TopKAccuracy) or accumulated over the set
// (Precision, Recall, F1, BalancedAccuracy: macro averages, as
// scikit-learn's). GetPreds returns probabilities, targets, decoded classes,
// and optionally inputs and per-item losses in dataset order; Validate the
// loss and metrics; TTA test-time-augmented probabilities;
// ClassificationInterpretation the confusion matrix, the most confused
// classes and the top losses, with PNG plots.
//
// LRFind is fastai's learning-rate finder: a mock training with the rate
// growing exponentially from 1e-7 to 10 over 100 batches, stopped when the
// smoothed loss passes 4 times its best; the model, the optimizer, the
// Recorder and the data epoch are restored afterwards. It suggests fastai's
// valley (the default), slide, minimum and steep, and plots the curve.
//
// # Saving
//
// Save and Load write and read the model's state dict, with PyTorch's names,
// and optionally the optimizer's state, as safetensors; a file saved without
// the optimizer is a plain state dict that PyTorch loads. Every file is
// written to a temporary file, synced and renamed, so a failed or killed
// write leaves the previous file intact (a killed write may leave a
// ".name.tmp*" file behind). The Checkpoint callback saves after every
// epoch with the epoch reached; Resume loads it and returns the epoch to
// pass to StartEpoch, so that the same fit call continues where the run
// stopped, schedules included. A resumed run repeats the uninterrupted one
// bit for bit when the model draws no random numbers of its own (Dropout's
// generator state is not saved).
//
// Export writes what inference needs into one file: the architecture (an
// ArchSpec naming a registered builder and its JSON configuration), the
// weights, the class names and the data's transforms. LoadLearner rebuilds
// the model from it without the training code; the packages that define
// architectures register them (RegisterArch), as vision does for its zoo.
//
// # Repeatability
//
// The loop draws no random numbers itself: the data's shuffles and
// augmentations, the model's initialisation and dropout, MixUp's draws all
// come from seeded generators, and fastgo's kernels split work so that
// results do not depend on GOMAXPROCS. So one seed gives the same run, bit
// for bit, for any GOMAXPROCS.
package learner
