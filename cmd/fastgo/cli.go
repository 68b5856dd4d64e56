package main

// The pieces the train, lr-find, attack, robustness, certify and demo
// commands share: interrupt handling, the -data and -arch flags, loading a
// model from an exported learner or a weights file, and atomic writes.

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/fastgo-ml/fastgo/data"
	"github.com/fastgo-ml/fastgo/internal/atomicfile"

	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/vision"
	"github.com/fastgo-ml/fastgo/vision/models"
)

// interruptContext returns a context cancelled by Ctrl-C (SIGINT) or
// SIGTERM, so that a long run stops at the next batch, keeps its last
// checkpoint and returns an error saying so. A second Ctrl-C, after stop
// has run, kills the process as usual.
func interruptContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// usagef returns a usage error (exit code 2).
func usagef(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

// interrupted turns the error of a run stopped by ctx into a one-line
// message that says what was kept; other errors are returned unchanged.
func interrupted(ctx context.Context, err error, kept string) error {
	if err == nil || ctx.Err() == nil || !errors.Is(err, context.Canceled) {
		return err
	}
	if kept == "" {
		return errors.New("interrupted")
	}
	return fmt.Errorf("interrupted; %s", kept)
}

// setUsage installs a usage text: synopsis, then a paragraph, then the
// flags.
func setUsage(fs *flag.FlagSet, synopsis, text string) {
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s\n\n%s\n\nFlags:\n", synopsis, strings.TrimSpace(text))
		fs.PrintDefaults()
	}
}

// fileExists reports whether path names an existing file or directory; an
// error other than "does not exist" is returned.
func fileExists(path string) (bool, error) {
	_, err := os.Stat(path)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, err
}

// writeAtomic writes what write produces to path through a temporary file
// in the same directory, synced and renamed, so that a failed or killed
// write never leaves a half-written file at path. The directory is created.
func writeAtomic(path string, write func(w io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		if err := write(w); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return nil
	})
}

// writeFileAtomic writes b to path atomically (see writeAtomic).
func writeFileAtomic(path string, b []byte) error {
	return writeAtomic(path, func(w io.Writer) error { _, err := w.Write(b); return err })
}

// parseFloats parses a comma-separated list of numbers ("0,0.05,0.1").
func parseFloats(flagName, s string) ([]float64, error) {
	var out []float64
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return nil, usagef("-%s: %q is not a number", flagName, f)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, usagef("-%s: no values in %q", flagName, s)
	}
	return out, nil
}

// dataFlags are the flags that choose and shape a data set.
type dataFlags struct {
	data      string
	bs        int
	size      int
	channels  int
	validPct  float64
	seed      uint64
	workers   int
	dataDir   string
	augment   bool
	csvHeader bool
	// itemTfms, when set, replace -size for image files (an exported
	// learner's recorded transforms).
	itemTfms []vision.ItemTransform
	// transfer gives image files fastai's transfer-learning transforms,
	// for fine-tuning pretrained weights: RandomResizedCrop for training,
	// Resize for validation, 224 pixels unless -size says otherwise.
	transfer bool
}

// namedData are the data sets -data accepts by name.
var namedData = []string{"embedded", "fashion-mnist", "mnist", "cifar-10", "cifar-100"}

func (d *dataFlags) register(fs *flag.FlagSet, def string) {
	fs.StringVar(&d.data, "data", def, "the data: a folder of images (train/ and valid/, or one sub-folder per class), a CSV file (file name, label), "+
		"a folder of Fashion-MNIST IDX files, or one of "+strings.Join(namedData, ", ")+
		" (embedded: the 10,000 Fashion-MNIST images inside fastgo, split 8,000/2,000; fashion-mnist: the full set, found as vision.FindData says)")
	fs.IntVar(&d.bs, "bs", 64, "batch size")
	fs.IntVar(&d.size, "size", 0, "resize images to SIZE x SIZE (default for image folders and CSV files: 224 when fine-tuning pretrained weights, "+
		"as RandomResizedCrop for training and Resize for validation, else 64; none for the built-in data sets)")
	fs.IntVar(&d.channels, "channels", 3, "channels image files are decoded to: 3 (RGB) or 1 (grey)")
	fs.Float64Var(&d.validPct, "valid-pct", 0.2, "fraction held out for validation when the data has no split")
	fs.Uint64Var(&d.seed, "seed", 42, "seed of the split, the shuffles, the augmentations and the model's initialisation")
	fs.IntVar(&d.workers, "workers", 0, "goroutines decoding images (0: GOMAXPROCS)")
	fs.StringVar(&d.dataDir, "data-dir", "", "directory to look in first for a named data set (see vision.FindData)")
	fs.BoolVar(&d.augment, "augment", false, "train with fastai's aug_transforms (flip, rotate, zoom, warp, lighting)")
	fs.BoolVar(&d.csvHeader, "csv-header", true, "the CSV file's first row is a header")
}

// Bounds of the data flags: a batch of images must fit in memory.
const (
	maxBatch      = 1 << 16
	maxSize       = 4096
	maxBatchElems = 1 << 30 // floats in one batch: 4 GiB
	maxWorkers    = 1024
)

func (d *dataFlags) check() error {
	switch {
	case d.data == "":
		return usagef("-data is required")
	case d.bs < 1 || d.bs > maxBatch:
		return usagef("-bs %d must be between 1 and %d", d.bs, maxBatch)
	case d.size < 0 || d.size > maxSize:
		return usagef("-size %d must be between 0 (the default) and %d", d.size, maxSize)
	case d.channels != 1 && d.channels != 3:
		return usagef("-channels %d must be 1 or 3", d.channels)
	case int64(d.bs)*int64(d.channels)*int64(max(d.size, 64))*int64(max(d.size, 64)) > maxBatchElems:
		return usagef("-bs %d of %dx%dx%d images is more than %d values a batch: lower -bs or -size", d.bs, d.channels, max(d.size, 64), max(d.size, 64), maxBatchElems)
	case !(d.validPct > 0 && d.validPct < 1):
		return usagef("-valid-pct %v must be between 0 and 1", d.validPct)
	case d.workers < 0 || d.workers > maxWorkers:
		return usagef("-workers %d must be between 0 (GOMAXPROCS) and %d", d.workers, maxWorkers)
	}
	return nil
}

// open builds the DataLoaders that -data names and returns them with a
// description of where they came from.
func (d *dataFlags) open(ctx context.Context) (*vision.DataLoaders, string, error) {
	opts := []vision.Option{vision.BatchSize(d.bs), vision.Seed(d.seed), vision.ValidPct(d.validPct)}
	if d.workers > 0 {
		opts = append(opts, vision.Workers(d.workers))
	}
	if d.augment {
		opts = append(opts, vision.BatchTfms(vision.AugTransforms()))
	}
	files := func() []vision.Option {
		o := append(slices.Clone(opts), vision.Channels(d.channels))
		if d.itemTfms != nil {
			return append(o, vision.ItemTfms(d.itemTfms...))
		}
		size := d.size
		if d.transfer {
			if size == 0 {
				size = 224
			}
			return append(o, vision.ItemTfms(vision.BySplit(vision.RandomResizedCrop(size, size, 0.08), vision.Resize(size, size, vision.Crop))))
		}
		if size == 0 {
			size = 64
		}
		return append(o, vision.Size(size, size))
	}
	builtin := func() []vision.Option {
		if d.size > 0 {
			return append(slices.Clone(opts), vision.Size(d.size, d.size))
		}
		return opts
	}
	switch d.data {
	case "embedded", "fashion-mnist-embedded":
		dls, err := vision.EmbeddedFashionMNIST(builtin()...)
		return dls, "the embedded Fashion-MNIST subset (8,000 training and 2,000 validation images)", err
	case "fashion-mnist":
		dir, err := vision.FindDataContext(ctx, "fashion-mnist", d.dataDir)
		if err != nil {
			return nil, "", err
		}
		dls, err := vision.FashionMNIST(append(builtin(), vision.DataDir(dir))...)
		return dls, "Fashion-MNIST in " + dir, err
	case "mnist":
		dir, err := vision.FindData("mnist", d.dataDir)
		if err != nil {
			return nil, "", err
		}
		dls, err := vision.MNIST(append(builtin(), vision.DataDir(dir))...)
		return dls, "MNIST in " + dir, err
	case "cifar-10":
		dls, err := vision.CIFAR10(d.dataDir, builtin()...)
		return dls, "CIFAR-10", err
	case "cifar-100":
		dls, err := vision.CIFAR100(d.dataDir, builtin()...)
		return dls, "CIFAR-100", err
	}
	st, err := os.Stat(d.data)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", fmt.Errorf("-data %s: no such file or directory (want an image folder, a CSV file or one of %s)", d.data, strings.Join(namedData, ", "))
		}
		return nil, "", err
	}
	if !st.IsDir() {
		if !strings.EqualFold(filepath.Ext(d.data), ".csv") {
			return nil, "", fmt.Errorf("-data %s: a file, but not a .csv file (want an image folder, a CSV file or one of %s)", d.data, strings.Join(namedData, ", "))
		}
		opts := files()
		if !d.csvHeader {
			opts = append(opts, vision.NoCSVHeader())
		}
		dls, err := vision.FromCSV(d.data, opts...)
		return dls, "the images listed in " + d.data, err
	}
	if ok, _ := hasIDX(d.data, "train-images-idx3-ubyte"); ok {
		dls, err := vision.FashionMNIST(append(builtin(), vision.DataDir(d.data))...)
		return dls, "the IDX files in " + d.data, err
	}
	dls, err := vision.ImageFolder(d.data, files()...)
	return dls, "the image folder " + d.data, err
}

// hasIDX reports whether dir holds base or base.gz.
func hasIDX(dir, base string) (bool, error) {
	for _, n := range []string{base, base + ".gz"} {
		ok, err := fileExists(filepath.Join(dir, n))
		if ok || err != nil {
			return ok, err
		}
	}
	return false, nil
}

// itemShape returns the [C,H,W] of the validation items of dls.
func itemShape(ctx context.Context, dls *vision.DataLoaders) ([]int, error) {
	b, err := dls.Valid.OneBatch(ctx)
	if err != nil {
		return nil, err
	}
	if b.X == nil || b.X.Rank() != 4 || b.X.Dim(0) == 0 {
		return nil, fmt.Errorf("the validation set serves no images")
	}
	return b.X.Shape()[1:], nil
}

// trainArchs are the architectures train and lr-find build by -arch name.
var trainArchs = []string{"smallcnn", "resnet18", "resnet34", "resnet50", "cifar-resnet18"}

// buildLearner makes a Learner for arch over dls with vision.CNNLearner
// (fastai's vision_learner): SmallCNN and the CIFAR ResNet-18 trained from
// scratch, the ImageNet ResNets from the weights file given (see
// pretrainedWeights), or from scratch when it is "".
func buildLearner(ctx context.Context, dls *vision.DataLoaders, arch, weightsFile string, seed uint64, opts ...learner.Option) (*learner.Learner, error) {
	shape, err := itemShape(ctx, dls)
	if err != nil {
		return nil, err
	}
	var a models.Arch
	switch arch {
	case "smallcnn":
		if !slices.Equal(shape, []int{1, 28, 28}) {
			return nil, usagef("-arch smallcnn takes 1x28x28 images, the data's are %s (use -channels 1 -size 28, or -arch resnet18)", shapeString(shape))
		}
		a = models.SmallCNN
	case "cifar-resnet18":
		if shape[1] != 32 || shape[2] != 32 {
			return nil, usagef("-arch cifar-resnet18 takes 32x32 images, the data's are %s (use -size 32)", shapeString(shape))
		}
		a = models.CIFARResNet18
	case "resnet18", "resnet34", "resnet50":
		a, _ = models.ArchByName(arch)
	default:
		return nil, usagef("unknown -arch %q (have auto, %s)", arch, strings.Join(trainArchs, ", "))
	}
	opts = append(opts, vision.InitSeed(seed))
	if weightsFile != "" {
		opts = append(opts, vision.Weights(weightsFile))
	} else {
		opts = append(opts, vision.FromScratch())
	}
	return vision.CNNLearnerContext(ctx, dls, a, opts...)
}

func shapeString(s []int) string {
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = strconv.Itoa(v)
	}
	return strings.Join(parts, "x")
}

// modelFlags choose a trained model: an exported learner (-model) or a
// state dict with PyTorch names (-weights, with -arch), safetensors or
// torch.save's .pth.
type modelFlags struct {
	model   string
	weights string
	arch    string
	classes int
}

// weightArchs are the architectures a bare weights file may be for, with
// their input shapes.
var weightArchs = map[string][]int{"smallcnn": {1, 28, 28}, "cifar-resnet18": {3, 32, 32}}

func (m *modelFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&m.model, "model", "", "an exported learner (fastgo train's output, learner.Export)")
	fs.StringVar(&m.weights, "weights", "", "or a state dict with PyTorch names, for -arch: safetensors, or torch.save's .pth/.pt")
	fs.StringVar(&m.arch, "arch", "smallcnn", "the architecture of -weights: smallcnn (1x28x28) or cifar-resnet18 (3x32x32)")
	fs.IntVar(&m.classes, "classes", 10, "the number of classes of -weights (Fashion-MNIST's names for 10 classes and smallcnn)")
}

func (m *modelFlags) check() error {
	switch {
	case m.model == "" && m.weights == "":
		return usagef("give -model FILE (an exported learner) or -weights FILE")
	case m.model != "" && m.weights != "":
		return usagef("give -model or -weights, not both")
	case m.weights != "" && weightArchs[m.arch] == nil:
		return usagef("unknown -arch %q for -weights (have cifar-resnet18, smallcnn)", m.arch)
	case m.classes < 2:
		return usagef("-classes %d must be at least 2", m.classes)
	}
	return nil
}

// loadedModel is a trained model with what is needed to feed it images.
type loadedModel struct {
	// Learner holds the model in eval mode and the class names.
	Learner *learner.Learner
	// Classes are the class names.
	Classes []string
	// Channels is the number of channels images are decoded to.
	Channels int
	// InputShape is the model's input [C,H,W], or nil when unknown.
	InputShape []int
	// Exported is the loaded export file, or nil for a weights file.
	Exported *vision.ExportedLearner
	// Source names the file.
	Source string
}

// load reads the model the flags name. Errors name the file.
func (m *modelFlags) load() (*loadedModel, error) {
	if m.model != "" {
		if err := checkReadable(m.model); err != nil {
			return nil, err
		}
		e, err := vision.LoadLearner(m.model)
		if err != nil {
			return nil, err
		}
		return &loadedModel{Learner: e.Learner, Classes: e.Classes, Channels: e.Channels, InputShape: e.InputShape, Exported: e, Source: m.model}, nil
	}
	if err := checkReadable(m.weights); err != nil {
		return nil, err
	}
	shape := weightArchs[m.arch]
	var mod layers.Module
	switch m.arch {
	case "smallcnn":
		mod = models.NewSmallCNN(m.classes, tensor.NewRNG(0))
	case "cifar-resnet18":
		mod = models.NewCIFARResNet18(3, m.classes, tensor.NewRNG(0))
	}
	if err := loadWeights(m.weights, mod); err != nil {
		return nil, err
	}
	layers.Eval(mod)
	classes := make([]string, m.classes)
	for i := range classes {
		classes[i] = strconv.Itoa(i)
	}
	if m.classes == 10 && m.arch == "smallcnn" {
		classes = slices.Clone(vision.FashionMNISTClasses)
	}
	l := learner.New(&data.SliceData{Vocab: classes}, mod)
	return &loadedModel{Learner: l, Classes: classes, Channels: shape[0], InputShape: shape, Source: m.weights}, nil
}

// checkReadable returns an error naming path when it is missing, a
// directory or empty.
func checkReadable(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.IsDir() {
		return fmt.Errorf("%s: is a directory, want a file", path)
	}
	if st.Size() == 0 {
		return fmt.Errorf("%s: empty file", path)
	}
	return nil
}

// loadImage reads an image file for lm: decoded to its channels, through
// the exported item transforms, and, when its size still differs from
// the model's input, resized (squished) to it. It returns [C,H,W] in [0,1].
func (lm *loadedModel) loadImage(path string) (*tensor.Tensor, error) {
	x, err := vision.LoadImage(path, lm.Channels)
	if err != nil {
		return nil, err
	}
	if lm.Exported != nil {
		x = lm.Exported.Prepare(x)
	}
	if s := lm.InputShape; len(s) == 3 && !tensor.SameShape(x.Shape(), s) {
		if x.Dim(0) != s[0] {
			return nil, fmt.Errorf("%s: an image of %d channels, the model takes %d", path, x.Dim(0), s[0])
		}
		x = vision.Resize(s[1], s[2], vision.Squish).TransformItem(x, nil, vision.ValidSplit)
	}
	return x, nil
}

// validData opens the data of df (default: embedded) for lm: images
// decoded to the model's channels and through its recorded item
// transforms, with the model's classes and input shape checked.
func (lm *loadedModel) validData(ctx context.Context, df dataFlags) (*vision.DataLoaders, string, error) {
	if df.data == "" {
		df.data = "embedded"
	}
	df.channels = lm.Channels
	if lm.Exported != nil {
		df.itemTfms = lm.Exported.ItemTfms
	}
	if df.itemTfms == nil && len(lm.InputShape) == 3 {
		df.size = lm.InputShape[1]
	}
	dls, desc, err := df.open(ctx)
	if err != nil {
		return nil, "", err
	}
	if !slices.Equal(dls.Vocab, lm.Classes) && (lm.Exported != nil || len(dls.Vocab) != len(lm.Classes)) {
		return nil, "", fmt.Errorf("-data %s: its classes %q are not the model's %q", df.data, dls.Vocab, lm.Classes)
	}
	if lm.InputShape != nil {
		shape, err := itemShape(ctx, dls)
		if err != nil {
			return nil, "", err
		}
		if !slices.Equal(shape, lm.InputShape) {
			return nil, "", fmt.Errorf("-data %s: its images are %s, the model %s takes %s", df.data, shapeString(shape), lm.Source, shapeString(lm.InputShape))
		}
	}
	return dls, desc, nil
}

// classIndex resolves a class given by index or by name.
func classIndex(s string, classes []string) (int, error) {
	if i, err := strconv.Atoi(s); err == nil {
		if i < 0 || i >= len(classes) {
			return 0, usagef("class %d out of range: the model has %d classes (0-%d)", i, len(classes), len(classes)-1)
		}
		return i, nil
	}
	for i, c := range classes {
		if strings.EqualFold(c, s) {
			return i, nil
		}
	}
	return 0, usagef("no class %q (have %s)", s, strings.Join(classes, ", "))
}

// stageTimer prints how long each stage of a run took.
type stageTimer struct {
	out    io.Writer
	start  time.Time
	last   time.Time
	stages []stageTime
}

// stageTime is one stage's name and duration.
type stageTime struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

func newStageTimer(out io.Writer) *stageTimer {
	now := time.Now()
	return &stageTimer{out: out, start: now, last: now}
}

// begin announces a stage.
func (s *stageTimer) begin(title string) {
	fmt.Fprintf(s.out, "\n== %s\n", title)
	s.last = time.Now()
}

// done records and prints the stage's time.
func (s *stageTimer) done(name string) {
	d := time.Since(s.last)
	s.stages = append(s.stages, stageTime{Name: name, Seconds: d.Seconds()})
	fmt.Fprintf(s.out, "-- %s: %.1fs (total %.1fs)\n", name, d.Seconds(), time.Since(s.start).Seconds())
	s.last = time.Now()
}

// total is the time since the timer started.
func (s *stageTimer) total() time.Duration { return time.Since(s.start) }

// table renders rows as aligned columns, the first row being the header.
func table(rows [][]string) string {
	width := map[int]int{}
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	var b bytes.Buffer
	for _, r := range rows {
		for i, c := range r {
			if i > 0 {
				b.WriteString("  ")
			}
			if i == len(r)-1 {
				b.WriteString(c)
			} else {
				b.WriteString(c + strings.Repeat(" ", width[i]-utf8.RuneCountInString(c)))
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// inRange checks a numeric flag read from the command line: a value
// outside [lo, hi], or NaN, is a usage error naming the flag.
func inRange[T int | float64](name string, v, lo, hi T) error {
	if !(v >= lo && v <= hi) {
		return usagef("-%s %v must be between %v and %v", name, v, lo, hi)
	}
	return nil
}

// firstErr returns the first non-nil error.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
