// Package callbacks holds the standard callbacks of a fastgo Learner, the
// ones fastai ships: result logging (CSVLogger), early stopping (EarlyStopping), saving the best model
// (SaveModel), learning-rate reduction on a plateau (ReduceLROnPlateau),
// gradient clipping and accumulation (GradientClip, GradientAccumulation),
// MixUp and CutMix, and the small guards TerminateOnNaN and ShortEpoch. The
// Recorder, which every Learner has, lives in package learner, with its
// plots (Recorder.PlotLoss, Recorder.PlotSched), and so does the progress
// display, which every fit shows when standard output is a terminal
// (learner.NoProgress and learner.ProgressTo change that).
//
// A callback is a learner.Callback: a value whose Handle method the
// training loop calls at every event. Pass callbacks with learner.Callbacks,
// to a fit for that fit only, or to learner.New (or vision.CNNLearner) for
// every fit:
//
//	err := learn.Fit(ctx, 20, learner.Callbacks(
//		&callbacks.SaveModel{Path: "best.safetensors"},
//		&callbacks.EarlyStopping{Patience: 3},
//	))
//
// # Order
//
// Callbacks run in the order of their Order method (fastai's order), then in
// the order they were given. The Recorder runs at 50; everything that reads
// an epoch's results (the progress display, CSVLogger, the trackers) runs
// after it, at fastai's orders: CSVLogger and the progress display at 60, SaveModel at 61,
// ReduceLROnPlateau at 62, EarlyStopping at 63. So the best model is saved
// before EarlyStopping ends the fit, and SaveModel then reloads it.
//
// # Trackers
//
// EarlyStopping, SaveModel and ReduceLROnPlateau watch one column of the
// Recorder's results table (Monitor, "valid_loss" by default) and call an
// epoch an improvement when its value beats the best so far by more than
// MinDelta. A nil Comp infers the direction from the name, as fastai does: a
// name containing "loss" or "error" is minimised, anything else (accuracy,
// f1_score...) maximised. A NaN value is never an improvement. The best
// value is reset at the start of every fit.
//
// # State and reuse
//
// Callbacks keep per-fit state in their own fields and reset it in
// BeforeFit, so one value can serve several fits, but not two fits at the
// same time. Random callbacks (MixUp, CutMix) draw from their own seeded
// generator: the same Seed gives the same draws, so a run repeats.
//
// Callbacks only change a batch during training: MixUp and CutMix leave the
// validation batches untouched.
//
// # LRFind
//
// During Learner.LRFind (l.InLRFind() is true) the trackers, CSVLogger and
// the results table of the progress display do nothing, as in fastai: the mock training
// saves no model, stops nothing early and logs no epoch.
package callbacks
