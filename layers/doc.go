// Package layers holds fastgo's building blocks in torch.nn's image: the
// Module interface, its registration of parameters, buffers and sub-modules,
// state dicts with PyTorch's names, and the layers themselves.
//
// # Modules
//
// A Module is a Forward function over float32 autograd Values plus an
// embedded Base that holds, in registration order, its parameters, buffers
// and children. Registering in the order PyTorch's __init__ assigns gives
// PyTorch's order for NamedParameters and GetStateDict: each module's own
// parameters, then its buffers, then its children's, pre-order. Containers
// call children through Call, which also runs the hooks Summary uses.
//
// The layers: Linear, Conv2d, BatchNorm (NewBatchNorm1d, NewBatchNorm2d),
// Dropout, ReLU, LeakyReLU, GELU, Sigmoid, Tanh, MaxPool2d, AvgPool2d,
// AdaptiveAvgPool2d, AdaptiveMaxPool2d, fastai's AdaptiveConcatPool2d,
// Flatten, Identity, Sequential (children named "0", "1", ...), Normalize
// (per-channel mean and std as a layer, so that models take [0,1] pixels
// and attack budgets are in pixels), and the losses as values
// (CrossEntropyLoss, NLLLoss, MSELoss, BCEWithLogitsLoss, KLDivLoss).
// Constructors initialise as PyTorch's reset_parameters does: Linear and
// Conv2d weights from kaiming_uniform_(a=sqrt(5)), which is
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and biases from the same range;
// BatchNorm with weight 1, bias 0, running mean 0 and variance 1. A nil
// *tensor.RNG draws from a default generator that SeedDefault reseeds, as
// torch.manual_seed does.
//
// # Modes and freezing
//
// Modules start in training mode; Eval and Train switch a whole tree
// (BatchNorm's statistics and Dropout follow). SetRequiresGrad(m, false)
// freezes any sub-tree: frozen parameters get no gradient and cost no
// gradient work. ParamGroups splits a model's parameters into fastai's layer
// groups (a body and a head, say), and FreezeGroups freezes the first ones
// as fastai's freeze_to does, keeping norm layers trainable on request.
//
// In eval mode, with no parameter of the pair needing a gradient (inference,
// or an attack on a frozen model), a Conv2d followed by a BatchNorm (and a
// ReLU) runs as one convolution with the batch-norm folded into its weight
// and bias (CallConvBN; Sequential and the models in vision/models do it),
// equal to the modules run one by one up to float32 rounding.
//
// # Weights
//
// A module tree that mirrors a PyTorch one has the same state-dict names
// (`0.weight`, `layer1.0.conv1.weight`, `bn1.running_mean`...), so weights
// move between fastgo and PyTorch through safetensors files with no renaming:
// SaveFile writes a state dict (F32 tensors, I64 num_batches_tracked),
// LoadFile reads one. LoadStateDict loads strictly (an unknown, missing,
// mis-shaped or wrongly typed entry is an error naming it, and nothing
// changes) or leniently (the matching entries load and a LoadReport lists
// the others).
//
// Summary prints each layer's output shape and parameter count, as fastai's
// learn.summary() does.
//
// # Errors
//
// Wrong input shapes and invalid constructor arguments are programmer errors
// and panic with the layer and the shapes named; reading weights returns an
// error naming the file and the entry.
package layers
