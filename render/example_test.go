package render_test

import (
	"fmt"

	"github.com/fastgo-ml/fastgo/render"
	"github.com/fastgo-ml/fastgo/tensor"
)

// A grid of captioned images: here two 28x28 grey images side by side,
// enlarged 3 times, under a title.
func ExampleGrid() {
	a, b := tensor.Zeros(1, 28, 28), tensor.Ones(1, 28, 28)
	img, err := render.Grid([][]render.Cell{{
		{Image: a, Caption: []string{"black"}},
		{Image: b, Caption: []string{"white"}},
	}}, render.Title("two images"), render.Frames())
	if err != nil {
		panic(err)
	}
	fmt.Println(img.Bounds().Dx(), img.Bounds().Dy())
	// Output: 186 124
}
