// Package weights finds published pretrained weights (torchvision's
// ImageNet ResNets and any file described the same way) on this machine,
// or downloads them once into fastgo's cache, verified. It is what makes
// vision.CNNLearner(dls, models.ResNet34) mean what fastai's
// cnn_learner(dls, resnet34) means; models.Arch.ResolveWeights is its face
// in the model zoo, and models.ResNet18, ResNet34 and ResNet50 carry the
// File of torchvision's IMAGENET1K_V1 weights.
//
// # Where weights are looked for
//
// Resolve looks, in order, at:
//
//  1. an explicit path (the Path option; vision.Weights; the command's
//     -pretrained FILE): a .pth, .pt or .safetensors file of any name,
//     used as it is;
//  2. $FASTGO_WEIGHTS: a weights file, used as it is, or a directory
//     holding the published file under its name;
//  3. the fastgo cache: $FASTGO_CACHE/weights, else
//     <user cache directory>/fastgo/weights (~/.cache/fastgo/weights on
//     Linux, ~/Library/Caches/fastgo/weights on macOS);
//  4. PyTorch's cache, where torchvision keeps what it downloaded:
//     $TORCH_HOME/hub/checkpoints, else $XDG_CACHE_HOME/torch/hub/checkpoints,
//     else ~/.cache/torch/hub/checkpoints (a torchvision user already has
//     the files there, under the same names);
//  5. a download from the file's official address into the fastgo cache.
//
// A file found under its published name (2 to 4) is verified against the
// published SHA-256 before use (once per process and file version); a file
// that does not match is an error naming it, never used and never skipped
// in silence.
//
// # Downloads
//
// The download goes to NAME.part in the fastgo cache and is renamed to
// NAME only once its SHA-256 matches, so a file under its published name
// in the cache is always a verified one. A dropped connection is resumed
// where it stopped (HTTP Range from the end of NAME.part), up to five
// requests as long as each brings bytes; a later run resumes an
// interrupted one the same way. A wrong checksum deletes NAME.part (a
// part left by an earlier run is given one fresh download first); a
// server's error status, a stall of IdleTimeout (60 seconds) with no
// bytes, and the context's cancellation end the download with an error
// and keep NAME.part for the next run. Connections, TLS handshakes and
// response headers wait at most 30 seconds each, so an unreachable
// network fails promptly and a stalled one within a minute: nothing
// hangs. Progress is a bar on a terminal (mpb: bytes, percentage, speed,
// time left) and a line at every tenth of the file otherwise, on standard
// error unless ProgressTo or NoProgress says otherwise.
//
// Downloads within one process are serialised per file. Two processes
// downloading the same file at once may spoil each other's NAME.part: the
// checksum then fails, the part is deleted and nothing unverified is ever
// renamed into place; run again.
//
// # Offline use
//
// With FASTGO_OFFLINE set (to anything but 0), or the Offline option,
// nothing is downloaded. When the file is nowhere and cannot be
// downloaded (offline, no network, a server error, a wrong checksum, a
// cancelled context), Resolve's error wraps fastgo.ErrNotFound (test it
// with errors.Is), and the cause, and names the file, its address and
// every place it may be put. To work offline, download the file elsewhere
// and copy it into one of those places under its published name, or pass
// its path.
//
// # Checksums
//
// torchvision's file names carry the first 8 hexadecimal digits of the
// file's SHA-256 (resnet18-f37072fd.pth), and torch.hub's check_hash
// compares only those. The zoo's Files pin all 64 digits (as published
// checksum lists give them), and Verify compares them all; a File whose
// SHA256 holds a prefix only is checked on that prefix, as torch.hub does.
package weights
