// Package models is fastgo's model zoo: the SmallCNN of the benchmarks,
// ResNet-18/34/50 with torchvision's layout and parameter names, the CIFAR
// variant of ResNet-18, and fastai's body/head split that vision_learner
// (CNNLearner) builds on.
//
// Every model's state-dict names equal its PyTorch counterpart's, so weights
// saved by PyTorch as safetensors load unchanged (see layers.LoadStateDict).
// Models take [0,1] pixels; put a layers.Normalize first when the weights
// expect normalised input.
package models
