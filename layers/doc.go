// Package layers holds fastgo's building blocks in torch.nn's image: the
// Module interface, its registration of parameters, buffers and sub-modules,
// state dicts with PyTorch's names, and the layers themselves.
//
// A module tree that mirrors a PyTorch one has the same state-dict names
// (`0.weight`, `layer1.0.conv1.weight`, `bn1.running_mean`...), so weights move
// between fastgo and PyTorch through safetensors files with no renaming.
//
// Modules start in training mode; Eval and Train switch a whole tree.
// Freezing is SetRequiresGrad(m, false) on any sub-tree: frozen parameters get
// no gradient and cost no gradient work.
package layers
