// Package fastgo is the root of fastgo, a pure-Go deep-learning library with
// fastai's idioms and first-class adversarial robustness: train an image
// classifier the fastai way, attack it (white-box and black-box, targeted and
// untargeted), harden it with adversarial training and measure how robust it
// is, with one go get, no cgo and no Python.
//
//	dls, err := vision.EmbeddedFashionMNIST(vision.BatchSize(128))
//	learn, err := vision.CNNLearner(dls, models.ResNet34, learner.Metrics(learner.Accuracy()))
//	err = learn.FineTune(ctx, 5)
//	adv := adversarial.NewLearner(learn)
//	x, err := adv.GenerateAdvExample(ctx, img, adversarial.TargetLabel(3))
//	err = adv.FitOneCycle(ctx, 5, learner.Callbacks(adversarial.NewTrainer()))
//	report, err := adv.EvaluateRobustness(ctx)
//
// The packages, from the bottom up: tensor (N-d arrays and their kernels),
// autograd (reverse-mode differentiation), layers (modules, PyTorch's names
// and weights), optim, data (batches and loaders), render (pictures),
// learner (fastai's training loop), callbacks, vision (image data sets,
// transforms, the model zoo and CNNLearner), adversarial (attacks, defences
// and robustness evaluation), and the command fastgo.
//
// This package holds what every other one shares: the classes of failure a
// caller may branch on, and the type of the panics that report programmer
// errors.
//
// # Errors
//
// A function that reads files, takes user data or runs long returns an
// error naming the file, field, batch or shape at fault. Where a caller may
// want to tell one kind of failure from another, the error wraps one of the
// sentinels below, for errors.Is:
//
//	ErrFormat     a file or stream is not what it claims (bad header, cut short, corrupt, wrong dtype)
//	ErrShape      user data of the wrong shape (images of different sizes, a label count that does not match)
//	ErrNonFinite  a loss, parameter or statistic became NaN or infinite
//	ErrBudget     a black-box attack ran out of queries
//	ErrNotFound   a data set or weights file is in none of the places looked in
//
// A cancelled run returns an error that wraps its context's error
// (context.Canceled or context.DeadlineExceeded).
//
// A programmer error inside an operation (tensors of shapes that cannot be
// added, an axis out of range, an option given to a call it does not apply
// to) panics with an Error naming the operation and the shapes, as gonum
// does; Maybe turns such a panic into an error.
package fastgo
