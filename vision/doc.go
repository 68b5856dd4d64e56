// Package vision turns images into batches for training: data sets (IDX,
// CIFAR, image folders, CSV files, labels from file names), fastai's
// transforms and augmentation, and DataLoaders that build batches ahead of
// the model on a pool of goroutines.
//
// The short call does the right thing:
//
//	dls, err := vision.EmbeddedFashionMNIST(vision.BatchSize(128))
//	for b, err := range dls.Train.Batches(ctx) {
//		// b.X is [128,1,28,28] float32 in [0,1]; b.Y holds 128 labels.
//	}
//
// # Data sets
//
// Each constructor returns *DataLoaders: a training and a validation
// DataLoader and the class names (Vocab, with C classes).
//
//   - EmbeddedFashionMNIST: the 10,000-image Fashion-MNIST test split that
//     ships inside the module (MIT licence, see EmbeddedLicense), split
//     8,000/2,000 with a fixed seed. It works on a fresh machine.
//   - FashionMNIST, MNIST: the full sets, from IDX files (gzip or raw) found
//     as described below. ReadMNIST, DecodeIDX and LoadIDX read IDX files.
//   - CIFAR10, CIFAR100: the binary versions; DecodeCIFAR reads one file.
//   - DataBlock (fastai's DataBlock): any source of image files and class
//     names, described below.
//   - ImageFolder (fastai's from_folder): train/ and valid/ with one
//     sub-folder per class, or one tree of class folders split by ValidPct.
//   - FromCSV (from_csv, from_df), FromLists (from_lists): file names and
//     labels given as rows. As in fastai, a CSV's validation column is used
//     only when named (ValidCol); otherwise ValidPct splits.
//   - FromNameFunc, FromNameRe (from_name_func, from_name_re): labels from
//     the file's name (the regular expression's first group, searched in
//     the base name).
//
// The last four are shorthands: each builds a DataBlock from its options
// (its documentation says which) and serves exactly what that DataBlock
// serves.
//
// Image files may be PNG, JPEG, GIF (the standard library), BMP, TIFF or
// WebP (golang.org/x/image). They are decoded to RGB (or grey with
// Channels(1), PIL's "L" of the RGB values) when a batch needs them. A
// split by ValidPct holds out int(ValidPct*n) items, as fastai's
// RandomSplitter, and depends only on the Seed option.
//
// # DataBlock
//
// A DataBlock is fastai's data block API as a struct of functions and
// values: GetItems lists the items of a source, Splitter divides them into
// training and validation items, GetX gives each item's image file and GetY
// its class name, Image (ImageBlock: 1 or 3 channels) and Category
// (CategoryBlock: an optional fixed vocabulary) are the blocks, ItemTfms
// and BatchTfms the transforms. DataLoaders(source, options) builds the
// loaders; its options are the loaders' settings only (BatchSize, Seed,
// Workers, Prefetch, ReuseBatches, SkipBadItems, Logger,
// AllowOutsidePaths): an option that describes the data, such as ItemTfms
// or ValidPct, is an error that names the block's field for it.
//
//	dls, err := vision.DataBlock{
//		GetItems: vision.GetImageFiles(),
//		Splitter: vision.RandomSplitter(0.2, 42),
//		GetY:     vision.RegexLabeller(regexp.MustCompile(`^(.+)_\d+\.jpg$`)),
//		ItemTfms: []vision.ItemTransform{vision.Resize(224, 224, vision.Crop)},
//	}.DataLoaders(path, vision.BatchSize(64))
//
// The components are fastai's: GetImageFiles (get_image_files, with
// folders=), CSVRows (the rows of a CSV file), ClassFolders (ImageFolder's
// layout: class folders whose images may sit deeper, an empty one an
// error); ParentLabel (parent_label), FolderLabel (the class folder of
// ClassFolders' items), RegexLabeller, ColReader (with Suffix); and the
// splitters RandomSplitter, GrandparentSplitter, FolderSplitter,
// ColSplitter and FuncSplitter. Any function of the right type serves as
// well. Items are Item values: a file (Path) or a table's Row. The file of
// a row read from a CSV is checked when the block is built (inside the
// item's Folder unless AllowOutsidePaths, an existing regular file); an
// item without a file or a label is a bad item (see Bad data). Items are
// labelled first; the split is made over the items that remain.
//
// # Where data comes from
//
// FindData looks for a named data set in this order, as fastai's untar_data:
// the explicit directory (the DataDir option), then $FASTGO_DATA/<name>, then
// <user cache directory>/fastgo/<name>, then, for Fashion-MNIST, the files of
// Debian's dataset-fashion-mnist package (/usr/share/datasets/fashion-mnist),
// and last, for Fashion-MNIST, a download from FashionMNISTURL
// (http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/) into the
// first of the first three directories. Setting FASTGO_OFFLINE turns the
// download off; FindDataContext bounds it with a context. A download is
// written to a temporary file that is renamed only once its size and
// SHA-256 check out, so a partial download never counts as data; a failed
// one is an error that names the files and the places to put them.
//
// The check is on the uncompressed contents, because mirrors and packagers
// rewrite gzip headers: Debian's copies, for instance, are 23 or 24 bytes
// shorter than the official files (strip-nondeterminism removed the original
// file name and reset the time) but hold the same deflate stream. The
// official files and what they hold:
//
//	file                        Debian .gz bytes  uncompressed  SHA-256 of the uncompressed bytes
//	train-images-idx3-ubyte.gz  26421856          47040016      c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888
//	train-labels-idx1-ubyte.gz  29491             60008         bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9
//	t10k-images-idx3-ubyte.gz   4422079           7840016       5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b
//	t10k-labels-idx1-ubyte.gz   5125              10008         0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34
//
// The SHA-256s of Debian's .gz files themselves are cc1d090a...6eaa
// (t10k-images), 8d3605d1...1a05 (t10k-labels), b0564c3e...00c7
// (train-images) and 0ae29f65...b056 (train-labels); the embedded files are
// Debian's t10k pair.
//
// # Batches and determinism
//
// A data.Batch holds X, [N,C,H,W] float32 pixels in
// [0,1], Y, N int labels, and Index, the items' places in the data set.
// Normalisation belongs to the model (a Normalize layer), so that attack
// budgets are in pixels. Iterate with
//
//	for b, err := range dl.Batches(ctx) { ... }
//
// Each call serves the next epoch; Epoch(ctx, e) serves a given one, which
// makes a DataLoader a data.Loader and DataLoaders a data.Data (with
// AugmentedValid for test-time augmentation). A training loader shuffles and
// drops the last incomplete batch; a validation or test loader (TestDL)
// keeps the order and every item. Batches are built by Workers goroutines,
// up to Prefetch batches ahead of the loop, so a model slower than the
// workers never waits; cancelling ctx or breaking out of the loop stops
// them. Workers reuse their file and pixel buffers; with ReuseBatches the
// loader also recycles the batches' own memory once the loop body is done
// with them. The shuffle of epoch e depends on (seed, e), and every random
// transform of item i draws from a generator seeded by (seed, e, i) alone,
// so the same seed gives the same batches, bit for bit, whatever the number
// of workers or GOMAXPROCS. In-memory data sets (IDX, CIFAR) without item
// transforms are batched by copying rows.
//
// # Transforms
//
// Item transforms (ItemTfms: Resize with Crop, Pad or Squish,
// RandomResizedCrop, CenterCrop; Size(h, w) is Resize(h, w, Crop); BySplit
// gives training and validation items different ones, as fastai's usual
// RandomResizedCrop for training and Resize for validation) run on each
// decoded image. They compute fastai's integer crop boxes and resample
// as PIL's antialiased bilinear resize does, and match fastai's transforms on
// a PIL float image to float32 rounding (testdata/resize_parity.json).
// Batch transforms (BatchTfms) run on a collated batch: AugTransforms
// returns fastai's aug_transforms defaults (flip p=0.5; rotate ±10°, zoom
// 1-1.1, warp 0.2 and lighting 0.2, each with p=0.75) as one Augment that
// composes flip, rotation, zoom (fastai's aspect-corrected affine matrix)
// and the perspective warp into a single coordinate map and resamples each
// image once (bilinear, reflection padding, as grid_sample), then changes
// brightness and contrast in logit space; it matches fastai's pipeline in
// PyTorch for the same draws (testdata/augment_parity.json). RandomErasing
// erases rectangles. As in fastai, the random transforms act on training
// batches only; validation gets the deterministic form (a centred crop) or
// nothing. Every transform keeps pixels in [0,1] and labels as they are.
// Where this package departs from fastai it says so: RandomErasing draws per
// image and fills with uniform noise, Augment draws per image (fastai's
// batch=False) and keeps the image size.
//
// # Learners and pretrained weights
//
// CNNLearner is fastai's cnn_learner (vision_learner): a learner.Learner
// for an architecture of the model zoo (vision/models) or a model
// function. As in fastai, a ResNet of the zoo is pretrained by default:
//
//	learn, err := vision.CNNLearner(dls, models.ResNet34, learner.Metrics(learner.Accuracy()))
//	err = learn.FineTune(ctx, 5)
//
// starts the body from torchvision's ImageNet weights (resnet34-b627a593.pth),
// found on this machine ($FASTGO_WEIGHTS, fastgo's cache, PyTorch's
// ~/.cache/torch/hub/checkpoints) or downloaded once into fastgo's cache
// and verified by SHA-256 (package vision/models/weights says how), puts
// the ImageNet normalisation in front and freezes the body, so that
// FineTune does fastai's recipe. Weights(path) gives a file of your own
// (.pth or .safetensors); FromScratch() trains from scratch, with
// nothing looked for. Offline (FASTGO_OFFLINE=1, or no network) with the
// file nowhere on the machine, CNNLearner returns an error wrapping
// fastgo.ErrNotFound that names the file, its address and the places to
// put it: it never falls back to training from scratch on its own.
// CNNLearnerContext bounds the download with a context.
//
// # Bad data
//
// A file that cannot be used is an error that names it (and the CSV row): a
// truncated or corrupt image, an empty class folder, a CSV row naming a
// missing file, an IDX file whose header disagrees with its length (or
// whose gzip stream is cut short), a CIFAR file that is not a whole number
// of records. Format problems are *FormatError values. With
// SkipBadItems() such items are left out instead and a warning counting
// them goes to the Logger. Nothing in this package panics on bad data: the
// IDX, CIFAR and image readers are fuzzed (FuzzIDX, FuzzReadIDXFloats,
// FuzzCIFAR, FuzzLoadImage, seeded from testdata).
//
// Show a batch with ShowBatch (a PNG grid with the class names, drawn by
// package render) and a trained model's predictions with ShowResults
// (fastai's show_results: the target above the prediction, green when they
// agree, red when not); FromImage converts an image.Image to a [C,H,W] tensor and
// render.Image converts it back.
//
// # Security Considerations
//
// The parsers take hostile input. IDX and CIFAR sizes are checked against
// the bytes actually present before anything is allocated: a raw IDX file
// must hold exactly the bytes its header claims, a gzip stream is read in
// growing steps that stop where its real data ends (so the cost is bounded
// by the decompressed size, at most 4 GiB, which a gzip bomb can reach from
// about 4 MiB of input), and a CIFAR file must be whole records. An image's
// width and height are read from its header, and an image of more than
// MaxImagePixels pixels (64 Mi) is refused before its pixels are decoded;
// a file larger than MaxImageBytes is not read. So the memory a hostile image
// can cost is about MaxImagePixels times 16 bytes (the decoded image and its
// float32 tensor), and the images decoded at once, across every worker,
// share the budget MaxPixelsInFlight (about 2 GiB by default); its time is
// the decoders' (linear in the input for the standard library's). A download is limited to slightly more
// than the expected size, checked before use, and only then renamed into
// place. File names in a CSV must stay inside its data folder (no absolute
// path, no ".." climbing out) unless AllowOutsidePaths is given, and every
// file read must be a regular file: a FIFO, a device or a directory named
// in a CSV is an error, not a hang. CIFAR files are read whole only up to
// the size of their largest official file, and an export's input shape is
// checked against MaxImagePixels before it sizes anything.
package vision
