package vision

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/fastgo-ml/fastgo/data"
	"github.com/fastgo-ml/fastgo/tensor"
)

// A DataLoader is a data.Loader and DataLoaders a data.Data,
// with test-time augmentation.
var (
	_ data.Loader    = (*DataLoader)(nil)
	_ data.Data      = (*DataLoaders)(nil)
	_ data.Augmented = (*DataLoaders)(nil)
)

// Split says which set a loader serves (fastai's split_idx): the training
// set is shuffled and augmented, the validation and test sets are served in
// order with their transforms in a deterministic form.
type Split int

// The two splits.
const (
	// TrainSplit is the training set.
	TrainSplit Split = iota
	// ValidSplit is the validation (or test) set.
	ValidSplit
)

// ItemTransform changes one image, [C,H,W], before batching. It must not
// modify x (it may return it unchanged) nor keep it after returning (the
// loader reuses its memory), must be safe for concurrent use and must draw
// every random choice from rng. split is ValidSplit for the validation and
// test loaders, where fastai's item transforms are deterministic.
type ItemTransform interface {
	TransformItem(x *tensor.Tensor, rng *tensor.RNG, split Split) *tensor.Tensor
}

// BatchTransform changes a collated batch x, [N,C,H,W], in place. rngs[i] is
// item i's random source. It must be safe for concurrent use. split is
// ValidSplit for the validation and test loaders.
type BatchTransform interface {
	TransformBatch(x *tensor.Tensor, rngs []*tensor.RNG, split Split)
}

// DataLoader serves a Dataset as batches, built by a pool of worker
// goroutines ahead of the consumer. Batches depend only on the seed, the
// epoch and the settings: not on the number of workers or GOMAXPROCS. A
// DataLoader is safe for concurrent use. It is a data.Loader.
type DataLoader struct {
	ds        Dataset
	bs        int
	shuffle   bool
	dropLast  bool
	split     Split
	itemTfms  []ItemTransform
	batchTfms []BatchTransform
	workers   int
	prefetch  int
	seed      uint64
	skipBad   bool
	reuse     bool
	logger    *slog.Logger

	epoch   atomic.Int64
	skipped atomic.Int64
}

// NewDataLoader returns a loader over ds with the options' batch size, seed,
// transforms, workers and SkipBadItems. A TrainSplit loader shuffles each
// epoch, drops the last incomplete batch and applies random transforms; a
// ValidSplit loader serves the items in order, its transforms in their
// validation form.
func NewDataLoader(ds Dataset, split Split, opts ...Option) *DataLoader {
	c := newConfig(opts)
	return newLoader(ds, split, &c)
}

func newLoader(ds Dataset, split Split, c *config) *DataLoader {
	train := split == TrainSplit
	return &DataLoader{
		ds: ds, bs: c.bs, shuffle: train, dropLast: train, split: split,
		itemTfms: c.itemTfms, batchTfms: c.batchTfms,
		workers: c.workers, prefetch: c.prefetch, seed: c.seed,
		skipBad: c.skipBad, reuse: c.reuse, logger: c.logger,
	}
}

// Dataset returns the loader's data set.
func (dl *DataLoader) Dataset() Dataset { return dl.ds }

// BatchSize returns the number of items in a full batch.
func (dl *DataLoader) BatchSize() int { return dl.bs }

// Len returns the number of batches in an epoch.
func (dl *DataLoader) Len() int {
	n := dl.ds.Len()
	if dl.dropLast {
		return n / dl.bs
	}
	return (n + dl.bs - 1) / dl.bs
}

// SetEpoch sets the epoch that the next call of Batches serves (to resume a
// run).
func (dl *DataLoader) SetEpoch(e int) { dl.epoch.Store(int64(e)) }

// Skipped returns the number of bad items left out so far (SkipBadItems).
func (dl *DataLoader) Skipped() int { return int(dl.skipped.Load()) }

// Batches serves the next epoch (0, 1, 2... on successive calls) as
// `for b, err := range dl.Batches(ctx)`. A non-nil error ends the epoch: a
// bad item (naming its file) or ctx's error. Breaking out of the loop stops
// the workers.
func (dl *DataLoader) Batches(ctx context.Context) iter.Seq2[data.Batch, error] {
	e := int(dl.epoch.Add(1) - 1)
	return dl.Epoch(ctx, e)
}

// Epoch serves the batches of the given epoch without touching the counter
// that Batches advances. The same epoch always gives the same batches. The
// workers start when the loop does; while the loop body runs they build
// the next batches (up to Prefetch of them), so that a consumer slower than
// the workers never waits.
func (dl *DataLoader) Epoch(ctx context.Context, epoch int) iter.Seq2[data.Batch, error] {
	return func(yield func(data.Batch, error) bool) {
		dl.run(ctx, epoch, yield)
	}
}

// OneBatch returns the first batch of the current epoch.
func (dl *DataLoader) OneBatch(ctx context.Context) (data.Batch, error) {
	for b, err := range dl.Epoch(ctx, int(dl.epoch.Load())) {
		if err == nil && dl.reuse {
			b = cloneBatch(b)
		}
		return b, err
	}
	return data.Batch{}, fmt.Errorf("vision: OneBatch: the loader has no batch (%d items, batch size %d)", dl.ds.Len(), dl.bs)
}

func cloneBatch(b data.Batch) data.Batch {
	return data.Batch{X: b.X.Clone(), Y: slices.Clone(b.Y), Index: slices.Clone(b.Index)}
}

// order returns the item indices of an epoch.
func (dl *DataLoader) order(epoch int) []int {
	n := dl.ds.Len()
	if dl.shuffle {
		return tensor.NewRNG(mix(dl.seed, uint64(epoch), 0x5af1e)).Perm(n)
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// batchBuf is the memory of one batch, which ReuseBatches recycles.
type batchBuf struct {
	x        []float32
	y, index []int
}

type batchResult struct {
	b        data.Batch
	buf      *batchBuf
	err      error
	skipped  int
	firstBad error
}

// scratch is a worker's reusable memory.
type scratch struct {
	file []byte    // the bytes of the file being decoded
	pix  []float32 // its decoded pixels, before the item transforms
}

func (dl *DataLoader) run(ctx context.Context, epoch int, yield func(data.Batch, error) bool) {
	if err := ctx.Err(); err != nil {
		yield(data.Batch{}, err)
		return
	}
	order := dl.order(epoch)
	nb := dl.Len()
	if nb == 0 {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	pending, free := dl.produce(ctx, &wg, epoch, order, nb)
	skipped := 0
	var firstBad error
	defer func() {
		if skipped > 0 {
			dl.logger.Warn(fmt.Sprintf("vision: skipped %d bad items in epoch %d", skipped, epoch), "first", firstBad)
		}
	}()
	for out := range pending {
		var r batchResult
		select {
		case r = <-out:
		case <-ctx.Done():
			yield(data.Batch{}, ctx.Err())
			return
		}
		if r.skipped > 0 {
			skipped += r.skipped
			if firstBad == nil {
				firstBad = r.firstBad
			}
		}
		if r.err != nil {
			yield(data.Batch{}, r.err)
			return
		}
		if len(r.b.Y) > 0 { // else every item of the batch was bad and skipped
			if !yield(r.b, nil) {
				return
			}
		}
		if r.buf != nil {
			free <- r.buf // the consumer is done with it
		}
	}
	if err := ctx.Err(); err != nil {
		yield(data.Batch{}, err)
	}
}

// produce starts the goroutines that build the epoch's nb batches: one
// hands out the jobs in batch order, the workers build them. It returns the
// result channels in batch order (a job is handed to the workers only once
// its channel is in pending, so at most prefetch+1 batches exist beyond
// the one being consumed) and, with ReuseBatches, the pool of batch
// buffers the consumer gives back. The goroutines stop when ctx is done;
// wg counts them.
func (dl *DataLoader) produce(ctx context.Context, wg *sync.WaitGroup, epoch int, order []int, nb int) (chan chan batchResult, chan *batchBuf) {
	type job struct {
		b   int
		out chan batchResult
	}
	jobs := make(chan job)
	pending := make(chan chan batchResult, dl.prefetch)
	var free chan *batchBuf
	if dl.reuse {
		free = make(chan *batchBuf, dl.prefetch+2)
		for range dl.prefetch + 2 {
			free <- new(batchBuf)
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(jobs)
		defer close(pending)
		for b := 0; b < nb; b++ {
			out := make(chan batchResult, 1)
			select {
			case pending <- out:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- job{b, out}:
			case <-ctx.Done():
				return
			}
		}
	}()
	for range min(dl.workers, nb) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var s scratch
			for j := range jobs {
				var buf *batchBuf
				if free != nil {
					select {
					case buf = <-free:
					case <-ctx.Done():
						return
					}
				}
				if ctx.Err() != nil {
					return
				}
				lo := j.b * dl.bs
				hi := min(lo+dl.bs, len(order))
				j.out <- dl.build(epoch, order[lo:hi], buf, &s)
			}
		}()
	}
	return pending, free
}

// build makes the batch of the given items, in buf's memory when buf is not
// nil.
func (dl *DataLoader) build(epoch int, items []int, buf *batchBuf, s *scratch) batchResult {
	res := batchResult{buf: buf}
	if buf == nil {
		buf = new(batchBuf)
	}
	random := len(dl.itemTfms)+len(dl.batchTfms) > 0
	var rngs []*tensor.RNG
	if random {
		rngs = make([]*tensor.RNG, 0, len(items))
	}
	y := buf.y[:0]
	index := buf.index[:0]
	var x *tensor.Tensor
	if rs, ok := dl.ds.(rowSource); ok && len(dl.itemTfms) == 0 {
		shape := append([]int{len(items)}, rs.itemShape()...)
		d := grow(&buf.x, numel(shape))
		off := 0
		for _, i := range items {
			off += copy(d[off:], rs.row(i))
			y = append(y, rs.Label(i))
			index = append(index, i)
			if random {
				rngs = append(rngs, dl.itemRNG(epoch, i))
			}
		}
		x = tensor.FromSlice(d, shape...)
	} else {
		var d []float32
		var s0 []int
		n := 0
		for _, i := range items {
			img, err := dl.decode(i, s)
			if err != nil {
				if !dl.skipBad {
					return batchResult{buf: res.buf, err: err}
				}
				dl.skipped.Add(1)
				res.skipped++
				if res.firstBad == nil {
					res.firstBad = err
				}
				continue
			}
			var rng *tensor.RNG
			if random {
				rng = dl.itemRNG(epoch, i)
			}
			for _, t := range dl.itemTfms {
				img = t.TransformItem(img, rng, dl.split)
			}
			if s0 == nil {
				s0 = slices.Clone(img.Shape())
				n = img.Len()
				d = grow(&buf.x, len(items)*n)
			} else if !tensor.SameShape(img.Shape(), s0) {
				return batchResult{buf: res.buf, err: fmt.Errorf(
					"vision: item %d is %v but item %d is %v after the item transforms: add Size(h, w) or a Resize item transform",
					i, img.Shape(), index[0], s0)}
			}
			copy(d[len(index)*n:], img.Data())
			y = append(y, dl.ds.Label(i))
			index = append(index, i)
			if random {
				rngs = append(rngs, rng)
			}
		}
		buf.y, buf.index = y, index
		if len(index) == 0 {
			return res
		}
		x = tensor.FromSlice(d[:len(index)*n], append([]int{len(index)}, s0...)...)
	}
	buf.y, buf.index = y, index
	for _, t := range dl.batchTfms {
		t.TransformBatch(x, rngs, dl.split)
	}
	res.b = data.Batch{X: x, Y: y, Index: index}
	return res
}

// decode returns item i's image. Files are read into the worker's scratch
// memory and decoded into its pixel buffer, which the next decode reuses:
// the image is copied into the batch before that.
func (dl *DataLoader) decode(i int, s *scratch) (*tensor.Tensor, error) {
	if fd, ok := dl.ds.(*FileDataset); ok {
		return fd.imageScratch(i, s)
	}
	return dl.ds.Image(i)
}

// grow returns (*b)[:n], reallocating when its capacity is short.
func grow(b *[]float32, n int) []float32 {
	if cap(*b) < n {
		*b = make([]float32, n)
	}
	return (*b)[:n]
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// itemRNG is the random source of item i in an epoch: it depends on nothing
// else, so batches do not depend on the order in which workers run.
func (dl *DataLoader) itemRNG(epoch, i int) *tensor.RNG {
	return tensor.NewRNG(mix(dl.seed, uint64(epoch), uint64(i), 0x17e3))
}

// DataLoaders holds the training and validation loaders of a data set and its
// class names (fastai's DataLoaders).
type DataLoaders struct {
	// Train serves the training set: shuffled, augmented, drop-last.
	Train *DataLoader
	// Valid serves the validation set in order, every item, no random
	// transforms.
	Valid *DataLoader
	// Vocab holds the class names; label i is Vocab[i].
	Vocab []string

	cfg config
}

// C returns the number of classes.
func (d *DataLoaders) C() int { return len(d.Vocab) }

// TrainLoader returns d.Train (data.Data).
func (d *DataLoaders) TrainLoader() data.Loader { return d.Train }

// ValidLoader returns d.Valid (data.Data).
func (d *DataLoaders) ValidLoader() data.Loader { return d.Valid }

// Classes returns d.Vocab (data.Data).
func (d *DataLoaders) Classes() []string { return d.Vocab }

// AugmentedValid returns a loader over the validation items with the
// training transforms, in order and keeping every item, for test-time
// augmentation (data.Augmented, fastai's tta): each epoch draws
// other augmentations.
func (d *DataLoaders) AugmentedValid() data.Loader {
	dl := newLoader(d.Valid.ds, TrainSplit, &d.cfg)
	dl.shuffle, dl.dropLast = false, false
	return dl
}

// OneBatch returns the first batch of the training loader's current epoch.
func (d *DataLoaders) OneBatch() (data.Batch, error) { return d.Train.OneBatch(context.Background()) }

// TestDL returns a loader over items with the validation settings: in order,
// every item kept, the transforms in their validation form.
func (d *DataLoaders) TestDL(items Dataset) *DataLoader {
	if fd, ok := items.(*FileDataset); ok && fd.Channels == 0 {
		c := *fd
		c.Channels = d.cfg.channels
		items = &c
	}
	return newLoader(items, ValidSplit, &d.cfg)
}

// newDataLoaders builds the loaders of a train/valid pair.
func newDataLoaders(train, valid Dataset, vocab []string, opts []Option) (*DataLoaders, error) {
	c := newConfig(opts)
	return newDataLoadersConfig(train, valid, vocab, c)
}

func newDataLoadersConfig(train, valid Dataset, vocab []string, c config) (*DataLoaders, error) {
	if train.Len() == 0 {
		return nil, errors.New("vision: the training set is empty")
	}

	return &DataLoaders{
		Train: newLoader(train, TrainSplit, &c),
		Valid: newLoader(valid, ValidSplit, &c),
		Vocab: vocab,
		cfg:   c,
	}, nil
}
