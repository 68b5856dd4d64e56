// Package render draws what fastgo shows its users: tensors as images,
// captioned grids of images (a batch with its labels, the top losses, the
// clean, perturbation and adversarial triples of an attack), and plots,
// written as PNG files that are never left half written.
//
//	img, err := render.Image(x)                    // [C,H,W] in [0,1] -> image.Image
//	grid, err := render.Grid(render.Square(cells), render.Title("Prediction/Actual"))
//	err = render.WritePNG("batch.png", grid)
//	err = render.SavePlot("loss.png", p, 6*vg.Inch, 4*vg.Inch)  // a gonum plot
//
// Pixels are in [0,1]: one channel is drawn grey, three as RGB; values
// outside [0,1] are clamped and NaN is black. Small images are enlarged by
// an integer factor, nearest neighbour, so that a single pixel of a
// perturbation stays visible.
//
// Every file is written to a temporary name in the same directory, synced
// and renamed into place: an interrupted write leaves the previous file.
package render
