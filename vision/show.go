package vision

import (
	"fmt"
	"image"
	"strconv"

	"github.com/fastgo-ml/fastgo/data"
	"github.com/fastgo-ml/fastgo/render"
)

// GridImage lays out the first maxN images of b (all when maxN <= 0) in a
// square grid, each enlarged to at least 64 pixels and captioned with its
// label's name from vocab (its number when vocab does not cover it).
func GridImage(b data.Batch, vocab []string, maxN int) (image.Image, error) {
	if b.X == nil || b.X.Rank() != 4 {
		var s []int
		if b.X != nil {
			s = b.X.Shape()
		}
		return nil, fmt.Errorf("vision: GridImage: x of shape %v: want [N,C,H,W]", s)
	}
	items := render.Items(b.X)
	if maxN > 0 {
		items = items[:min(len(items), maxN)]
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("vision: GridImage: empty batch")
	}
	cells := make([]render.Cell, len(items))
	for i, x := range items {
		label := ""
		if i < len(b.Y) {
			label = strconv.Itoa(b.Y[i])
			if b.Y[i] >= 0 && b.Y[i] < len(vocab) {
				label = vocab[b.Y[i]]
			}
		}
		cells[i] = render.Cell{Image: x, Caption: []string{label}}
	}
	return render.Grid(render.Square(cells), render.MinSide(64), render.MaxCaption(14))
}

// ShowBatch writes the first maxN images of b with their labels to a PNG file
// (fastai's show_batch). The file is written under a temporary name and
// renamed into place, so an existing file is never left half written.
func ShowBatch(path string, b data.Batch, vocab []string, maxN int) (err error) {
	img, err := GridImage(b, vocab, maxN)
	if err != nil {
		return err
	}
	if err := render.WritePNG(path, img); err != nil {
		return fmt.Errorf("vision: ShowBatch: %w", err)
	}
	return nil
}

// ShowBatch writes a PNG grid of maxN images of a training batch with their
// class names (fastai's dls.show_batch(max_n=...)).
func (d *DataLoaders) ShowBatch(path string, maxN int) error {
	b, err := d.OneBatch()
	if err != nil {
		return err
	}
	return ShowBatch(path, b, d.Vocab, maxN)
}
