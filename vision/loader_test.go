package vision

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/fastgo-ml/fastgo/data"
	"github.com/fastgo-ml/fastgo/tensor"
)

// toyDataset is n random 3x8x8 images labelled i%4.
func toyDataset(n int) *TensorDataset {
	x := tensor.Uniform[float32](tensor.NewRNG(3), 0, 1, n, 3, 8, 8)
	y := make([]int, n)
	for i := range y {
		y[i] = i % 4
	}
	ds, _ := NewTensorDataset(x, y)
	return ds
}

// plainDataset hides the row fast path of a TensorDataset.
type plainDataset struct{ ds *TensorDataset }

func (p plainDataset) Len() int                            { return p.ds.Len() }
func (p plainDataset) Label(i int) int                     { return p.ds.Label(i) }
func (p plainDataset) Image(i int) (*tensor.Tensor, error) { return p.ds.Image(i) }

func sameBatches(t *testing.T, a, b []data.Batch) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d and %d batches", len(a), len(b))
	}
	for i := range a {
		if !slices.Equal(a[i].Y, b[i].Y) || !slices.Equal(a[i].Index, b[i].Index) {
			t.Fatalf("batch %d: labels %v / %v", i, a[i].Y, b[i].Y)
		}
		if !tensor.SameShape(a[i].X.Shape(), b[i].X.Shape()) || !slices.Equal(a[i].X.Data(), b[i].X.Data()) {
			t.Fatalf("batch %d: pixels differ", i)
		}
	}
}

func TestLoaderCounts(t *testing.T) {
	ds := toyDataset(50)
	dl := NewDataLoader(ds, TrainSplit, BatchSize(8))
	if dl.Len() != 6 {
		t.Errorf("train Len %d, want 6 (drop last)", dl.Len())
	}
	bs := allBatches(t, dl, 0)
	seen := map[int]bool{}
	for _, b := range bs {
		if b.X.Dim(0) != 8 || len(b.Y) != 8 {
			t.Fatalf("batch of %d", b.X.Dim(0))
		}
		for k, i := range b.Index {
			if seen[i] {
				t.Fatalf("item %d twice", i)
			}
			seen[i] = true
			if b.Y[k] != ds.Y[i] || !slices.Equal(b.X.Data()[k*192:(k+1)*192], ds.row(i)) {
				t.Fatalf("item %d: wrong label or pixels", i)
			}
		}
	}
	vl := NewDataLoader(ds, ValidSplit, BatchSize(8))
	vb := allBatches(t, vl, 0)
	if vl.Len() != 7 || len(vb) != 7 || vb[6].X.Dim(0) != 2 || vb[0].Index[3] != 3 {
		t.Errorf("valid: Len %d, %d batches, last of %d", vl.Len(), len(vb), vb[len(vb)-1].X.Dim(0))
	}
	// Epochs shuffle differently; Batches advances the epoch.
	e0, e1 := allBatches(t, dl, 0), allBatches(t, dl, 1)
	if slices.Equal(e0[0].Index, e1[0].Index) {
		t.Error("epochs 0 and 1 have the same order")
	}
	var first [][]int
	for range 2 {
		for b, err := range dl.Batches(context.Background()) {
			if err != nil {
				t.Fatal(err)
			}
			first = append(first, b.Index)
			break
		}
	}
	if !slices.Equal(first[0], e0[0].Index) || !slices.Equal(first[1], e1[0].Index) {
		t.Error("Batches does not serve epochs 0, 1...")
	}
	dl.SetEpoch(0)
	if b, _ := dl.OneBatch(context.Background()); !slices.Equal(b.Index, e0[0].Index) {
		t.Error("SetEpoch(0) then OneBatch is not epoch 0's first batch")
	}
}

// TestDeterminism checks that batches depend on the seed only, not on the
// number of workers, prefetch or GOMAXPROCS, and that the row fast path
// gives what the generic path gives.
func TestDeterminism(t *testing.T) {
	ds := toyDataset(40)
	tfms := []Option{BatchSize(6), Seed(11), BatchTfms(AugTransforms(), RandomErasing{})}
	ref := allBatches(t, NewDataLoader(ds, TrainSplit, append(tfms, Workers(1))...), 2)
	for _, procs := range []int{1, 2, 4} {
		old := runtime.GOMAXPROCS(procs)
		for _, w := range []int{1, 3, 8} {
			got := allBatches(t, NewDataLoader(ds, TrainSplit, append(tfms, Workers(w), Prefetch(1))...), 2)
			sameBatches(t, ref, got)
		}
		runtime.GOMAXPROCS(old)
	}
	sameBatches(t, ref, allBatches(t, NewDataLoader(plainDataset{ds}, TrainSplit, append(tfms, Workers(3))...), 2))
	other := allBatches(t, NewDataLoader(ds, TrainSplit, BatchSize(6), Seed(12), BatchTfms(AugTransforms())), 2)
	if slices.Equal(other[0].Index, ref[0].Index) {
		t.Error("seeds 11 and 12 give the same order")
	}
	// Item transforms too, through the generic path.
	itfms := append(tfms, ItemTfms(RandomResizedCrop(6, 6, 0.35)))
	a := allBatches(t, NewDataLoader(ds, TrainSplit, append(itfms, Workers(1))...), 0)
	b := allBatches(t, NewDataLoader(ds, TrainSplit, append(itfms, Workers(4))...), 0)
	sameBatches(t, a, b)
}

func TestLoaderCancel(t *testing.T) {
	before := runtime.NumGoroutine()
	ds := toyDataset(200)
	dl := NewDataLoader(ds, TrainSplit, BatchSize(2), Workers(4), BatchTfms(AugTransforms()))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	var gotErr error
	for _, err := range dl.Batches(ctx) {
		if err != nil {
			gotErr = err
			break
		}
		n++
		if n == 3 {
			cancel()
		}
	}
	if !errors.Is(gotErr, context.Canceled) || n > 3+dl.prefetch+4 {
		t.Errorf("after cancel: %d batches, error %v", n, gotErr)
	}
	// Breaking out early stops the workers.
	for range dl.Batches(context.Background()) {
		break
	}
	// A cancelled context before the start is reported at once.
	for _, err := range dl.Batches(ctx) {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v", err)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before {
		t.Errorf("%d goroutines left running (%d before)", g, before)
	}
}

func TestLoaderSmallAndEmpty(t *testing.T) {
	ds := toyDataset(3)
	if dl := NewDataLoader(ds, TrainSplit, BatchSize(8)); dl.Len() != 0 || len(allBatches(t, dl, 0)) != 0 {
		t.Error("train loader smaller than a batch should serve nothing (drop last)")
	}
	if _, err := NewDataLoader(ds, TrainSplit, BatchSize(8)).OneBatch(context.Background()); err == nil {
		t.Error("OneBatch on an empty loader: no error")
	}
	if bs := allBatches(t, NewDataLoader(ds, ValidSplit, BatchSize(8)), 0); len(bs) != 1 || bs[0].X.Dim(0) != 3 {
		t.Error("valid loader should serve the partial batch")
	}
	if _, err := NewTensorDataset(tensor.Zeros(2, 3), []int{1, 2}); err == nil {
		t.Error("NewTensorDataset of a 2-d tensor: no error")
	}
}

// TestFolderDeterminism builds the same epochs from an image folder with
// random item and batch transforms under several GOMAXPROCS, worker counts
// and prefetch depths: the batches are identical bit for bit.
func TestFolderDeterminism(t *testing.T) {
	dir := t.TempDir()
	makeClassTree(t, dir, []string{"cat", "dog", "emu"}, 2)
	opts := []Option{Seed(5), BatchSize(5), ValidPct(0.25),
		ItemTfms(RandomResizedCrop(10, 10, 0.3)), BatchTfms(AugTransforms(), RandomErasing{P: 0.5})}
	load := func(extra ...Option) *DataLoaders {
		t.Helper()
		dls, err := ImageFolder(dir, append(slices.Clone(opts), extra...)...)
		if err != nil {
			t.Fatal(err)
		}
		return dls
	}
	ref := load(Workers(1))
	want := [][]data.Batch{allBatches(t, ref.Train, 0), allBatches(t, ref.Train, 1), allBatches(t, ref.Valid, 0)}
	if len(want[0]) == 0 || len(want[2]) == 0 {
		t.Fatal("no batches")
	}
	for _, procs := range []int{1, 2, 3} {
		old := runtime.GOMAXPROCS(procs)
		for _, w := range []int{1, 2, 5} {
			for _, pf := range []int{1, 4} {
				dls := load(Workers(w), Prefetch(pf))
				sameBatches(t, want[0], allBatches(t, dls.Train, 0))
				sameBatches(t, want[1], allBatches(t, dls.Train, 1))
				sameBatches(t, want[2], allBatches(t, dls.Valid, 0))
			}
		}
		runtime.GOMAXPROCS(old)
	}
	if slices.Equal(want[0][0].X.Data(), want[1][0].X.Data()) {
		t.Error("epochs 0 and 1 gave the same first batch")
	}
	other := load(Seed(6))
	if slices.Equal(allBatches(t, other.Train, 0)[0].X.Data(), want[0][0].X.Data()) {
		t.Error("seeds 5 and 6 gave the same first batch")
	}
}

// collectClones runs an epoch and keeps deep copies of its batches.
func collectClones(t *testing.T, dl *DataLoader, epoch int) []data.Batch {
	t.Helper()
	var out []data.Batch
	for b, err := range dl.Epoch(context.Background(), epoch) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, cloneBatch(b))
	}
	return out
}

// TestReuseBatches: a loader that recycles batch memory serves the same
// batches as one that does not, and does recycle it.
func TestReuseBatches(t *testing.T) {
	ds := toyDataset(64)
	for _, tc := range []struct {
		name string
		ds   Dataset
		opts []Option
	}{
		{"rows", ds, nil},
		{"rows+augment", ds, []Option{BatchTfms(AugTransforms())}},
		{"items", plainDataset{ds}, []Option{ItemTfms(Resize(6, 5, Squish))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := append([]Option{BatchSize(4), Workers(3), Prefetch(2)}, tc.opts...)
			want := collectClones(t, NewDataLoader(tc.ds, TrainSplit, opts...), 3)
			dl := NewDataLoader(tc.ds, TrainSplit, append(opts, ReuseBatches())...)
			got := collectClones(t, dl, 3)
			sameBatches(t, want, got)
			// The memory of a batch comes back in a later one.
			seen := map[*float32]int{}
			for b, err := range dl.Epoch(context.Background(), 0) {
				if err != nil {
					t.Fatal(err)
				}
				seen[&b.X.Data()[0]]++
			}
			if len(seen) > 2+2+1 {
				t.Errorf("%d distinct buffers for %d batches", len(seen), dl.Len())
			}
			// OneBatch hands out a copy the caller may keep.
			b1, _ := dl.OneBatch(context.Background())
			b2, _ := dl.OneBatch(context.Background())
			if &b1.X.Data()[0] == &b2.X.Data()[0] {
				t.Error("OneBatch returned recycled memory")
			}
		})
	}
}

// TestLearnerInterfaces drives DataLoaders through the learner's
// interfaces only, as the training loop does.
func TestLearnerInterfaces(t *testing.T) {
	var d data.Data
	dls, err := EmbeddedFashionMNIST(BatchSize(500), BatchTfms(AugTransforms()))
	if err != nil {
		t.Fatal(err)
	}
	d = dls
	if d.TrainLoader().Len() != 16 || d.ValidLoader().Len() != 4 || len(d.Classes()) != 10 {
		t.Fatalf("lengths %d %d %d", d.TrainLoader().Len(), d.ValidLoader().Len(), len(d.Classes()))
	}
	var first data.Batch
	for b, err := range d.ValidLoader().Epoch(context.Background(), 0) {
		if err != nil {
			t.Fatal(err)
		}
		first = b
		break
	}
	if !slices.Equal(first.X.Shape(), []int{500, 1, 28, 28}) || first.Index[499] != 499 {
		t.Errorf("valid batch %v, index %v...", first.X.Shape(), first.Index[:3])
	}
	// Test-time augmentation: the validation items in order, augmented, a
	// new draw each epoch; every item is kept.
	aug := d.(data.Augmented).AugmentedValid()
	var e0, e1 []data.Batch
	for e, dst := range []*[]data.Batch{&e0, &e1} {
		for b, err := range aug.Epoch(context.Background(), e) {
			if err != nil {
				t.Fatal(err)
			}
			*dst = append(*dst, b)
		}
	}
	if len(e0) != 4 || !slices.Equal(e0[0].Index, first.Index) || !slices.Equal(e0[0].Y, first.Y) {
		t.Fatalf("augmented valid: %d batches, first index %v", len(e0), e0[0].Index[:3])
	}
	if slices.Equal(e0[0].X.Data(), first.X.Data()) || slices.Equal(e0[0].X.Data(), e1[0].X.Data()) {
		t.Error("augmented validation batches are not augmented, or the same every epoch")
	}
	inUnit(t, "augmented", e0[0].X.Data())
}
