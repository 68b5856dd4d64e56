// Package models is fastgo's model zoo: the SmallCNN of the benchmarks,
// ResNet-18/34/50 with torchvision's layout and parameter names, the CIFAR
// variant of ResNet-18, and fastai's transfer-learning model (CNN: a
// ResNet's body cut before its pooling, followed by fastai's head) that
// vision.CNNLearner builds.
//
// Every model's state-dict names equal its PyTorch counterpart's, so weights
// saved by PyTorch (torch.save's .pth, or safetensors) load unchanged (see
// layers.LoadFile):
// a torchvision ResNet's for ResNet (and, with LoadPretrained, for a CNN's
// body), a fastai vision_learner model's for CNN ("0.*" the body, "1.*" the
// head).
//
// Models take [0,1] pixels; put a layers.Normalize first when the weights
// expect normalised input (a CNN with pretrained weights has one: see
// ImageNetStats). Initialisation follows PyTorch (SmallCNN, the CIFAR
// ResNet), torchvision (ResNet) and fastai (the CNN's head: kaiming-normal
// Linears, BatchNorm bias 1e-3; a stem for other than 3 channels with
// PyTorch's default), drawing from the generator given.
//
// # Transfer learning
//
// fastai's vision_learner does four things to an ImageNet architecture,
// which this package provides one by one: it adapts the stem to n_in input
// channels (AdaptFirstConv: the sum of the RGB filters for one channel, so
// that a grey image gives what its grey RGB copy would), loads the
// pretrained weights (LoadPretrained, from a torchvision state dict: its
// own .pth file, or the same saved as safetensors), cuts the body before
// the pooling and adds a new head (CNNFromResNet, Head), and splits the
// parameters into three layer groups for discriminative learning rates and
// freezing (Split: the stem to layer2, layer3 and layer4, the head).
//
// # Pretrained weights
//
// ResNet18, ResNet34 and ResNet50 publish torchvision's ImageNet weights
// (IMAGENET1K_V1: resnet18-f37072fd.pth, resnet34-b627a593.pth,
// resnet50-0676ba61.pth at TorchvisionURL, with their full SHA-256 and
// sizes): Arch.Published describes them and Arch.ResolveWeights finds them
// on this machine (an explicit path, $FASTGO_WEIGHTS, fastgo's cache,
// PyTorch's hub cache) or downloads them once into fastgo's cache,
// verified, as package weights (vision/models/weights) says.
// vision.CNNLearner does this by default, as fastai's cnn_learner does.
// Another architecture publishes its own weights with Arch.WithWeights.
package models
