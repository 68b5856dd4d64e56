package vision

import (
	"log/slog"
	"runtime"
)

// Option configures a data set constructor (FashionMNIST, ImageFolder,
// FromCSV...) or DataBlock.DataLoaders. Options that do not apply to a
// constructor are ignored, except by DataBlock.DataLoaders and CSVRows,
// which refuse them: a DataBlock holds what describes the data (its
// transforms, channels, split and columns) and takes as options only the
// loaders' settings.
type Option func(*config)

// named wraps an option's effect with its name, which the calls that check
// their options (DataBlock.DataLoaders, CSVRows) report.
func named(name string, f func(*config)) Option {
	return func(c *config) {
		f(c)
		c.given = append(c.given, name)
	}
}

type config struct {
	bs        int
	seed      uint64
	validPct  float64
	itemTfms  []ItemTransform
	batchTfms []BatchTransform
	workers   int
	prefetch  int
	skipBad   bool
	channels  int
	logger    *slog.Logger

	trainName, validName string
	dataDir              string

	fnCol, labelCol int
	header          bool
	folder          string
	suffix          string
	validCol        string

	reuse   bool
	coarse  bool
	outside bool

	given []string // the names of the options applied, in order
}

func newConfig(opts []Option) config {
	c := config{
		bs:        64,
		seed:      42,
		validPct:  0.2,
		workers:   runtime.GOMAXPROCS(0),
		channels:  3,
		trainName: "train",
		validName: "valid",
		fnCol:     0,
		labelCol:  1,
		header:    true,
	}
	for _, o := range opts {
		o(&c)
	}
	if c.bs < 1 {
		c.bs = 1
	}
	if c.workers < 1 {
		c.workers = 1
	}
	if c.prefetch < 1 {
		c.prefetch = 2 * c.workers
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	return c
}

// BatchSize sets the number of items in a batch (default 64).
func BatchSize(n int) Option { return named("BatchSize", func(c *config) { c.bs = n }) }

// Seed sets the seed of every random choice: the train/valid split, the
// shuffle of each epoch and each item's random transforms (default 42).
func Seed(s uint64) Option { return named("Seed", func(c *config) { c.seed = s }) }

// ValidPct sets the fraction of items held out for validation when the data
// has no split of its own (default 0.2, as fastai's). A DataBlock's
// Splitter does this instead (RandomSplitter).
func ValidPct(p float64) Option { return named("ValidPct", func(c *config) { c.validPct = p }) }

// ItemTfms appends item transforms, applied to each decoded image before
// batching (fastai's item_tfms). A DataBlock holds them in its ItemTfms.
func ItemTfms(t ...ItemTransform) Option {
	return named("ItemTfms", func(c *config) { c.itemTfms = append(c.itemTfms, t...) })
}

// BatchTfms appends batch transforms, applied to each collated batch
// (fastai's batch_tfms), for example AugTransforms(). A DataBlock holds
// them in its BatchTfms.
func BatchTfms(t ...BatchTransform) Option {
	return named("BatchTfms", func(c *config) { c.batchTfms = append(c.batchTfms, t...) })
}

// Size appends the item transform Resize(h, w, Crop): every image is brought
// to h x w (fastai's item_tfms=Resize(size)).
func Size(h, w int) Option {
	return named("Size", func(c *config) { c.itemTfms = append(c.itemTfms, Resize(h, w, Crop)) })
}

// Workers sets the number of goroutines that build batches (default
// GOMAXPROCS). Batches do not depend on it.
func Workers(n int) Option { return named("Workers", func(c *config) { c.workers = n }) }

// Prefetch sets how many batches may be built ahead of the consumer (default
// twice the workers).
func Prefetch(n int) Option { return named("Prefetch", func(c *config) { c.prefetch = n }) }

// SkipBadItems makes a data set leave out items it cannot use (a missing or
// undecodable file, a file name the label pattern does not match, an empty
// class folder) with a logged warning that counts them, instead of failing.
func SkipBadItems() Option {
	return named("SkipBadItems", func(c *config) { c.skipBad = true })
}

// Channels sets the channels of decoded image files: 3 (RGB, the default) or
// 1 (grey). In-memory data sets keep their own. A DataBlock says it in its
// Image block.
func Channels(n int) Option { return named("Channels", func(c *config) { c.channels = n }) }

// Logger sets where warnings go (default slog.Default()).
func Logger(l *slog.Logger) Option { return named("Logger", func(c *config) { c.logger = l }) }

// TrainValid names the training and validation folders of ImageFolder
// (default "train" and "valid").
func TrainValid(train, valid string) Option {
	return named("TrainValid", func(c *config) { c.trainName, c.validName = train, valid })
}

// DataDir sets the explicit directory that FashionMNIST and MNIST look in
// first (see FindData).
func DataDir(dir string) Option { return named("DataDir", func(c *config) { c.dataDir = dir }) }

// CSVColumns sets FromCSV's file-name and label columns (0-based; default 0
// and 1, as fastai's fn_col and label_col).
func CSVColumns(file, label int) Option {
	return named("CSVColumns", func(c *config) { c.fnCol, c.labelCol = file, label })
}

// NoCSVHeader says the CSV has no header row: its first row is an item (by
// default the first row is a header and is skipped).
func NoCSVHeader() Option { return named("NoCSVHeader", func(c *config) { c.header = false }) }

// ValidCol names the CSV column that marks validation rows (fastai's
// valid_col, for example "is_valid"): rows whose value is "1" or "true" (in
// any case) form the validation set. Without it, as in fastai, the split is
// ValidPct. It needs a header row.
func ValidCol(name string) Option { return named("ValidCol", func(c *config) { c.validCol = name }) }

// Folder sets the directory that FromCSV's file names are relative to
// (fastai's folder): a relative dir is taken inside the CSV's directory, the
// default being that directory itself.
func Folder(dir string) Option { return named("Folder", func(c *config) { c.folder = dir }) }

// CSVSuffix appends a suffix to every file name of a CSV (fastai's suff, for
// CSVs that name images without their extension).
func CSVSuffix(s string) Option { return named("CSVSuffix", func(c *config) { c.suffix = s }) }

// ReuseBatches lets a loader reuse the memory of the batches it serves: a
// batch's X, Y and Index are then valid only until the loop body that
// received it returns, after which the loader overwrites them with a later
// batch. It saves an allocation per batch in a training loop that does not
// keep batches; leave it off (the default) for anything that keeps them,
// such as collecting predictions together with their inputs.
func ReuseBatches() Option {
	return named("ReuseBatches", func(c *config) { c.reuse = true })
}

// CoarseLabels makes CIFAR100 use the 20 coarse labels instead of the 100
// fine ones.
func CoarseLabels() Option { return named("CoarseLabels", func(c *config) { c.coarse = true }) }

// AllowOutsidePaths lets a CSV (FromCSV) name files outside its data folder:
// absolute paths and paths that climb out with "..". By default such a row
// is refused, so that a CSV from elsewhere cannot make the loader read any
// file the process may read.
func AllowOutsidePaths() Option {
	return named("AllowOutsidePaths", func(c *config) { c.outside = true })
}
