package fmnistdata

import _ "embed"

// Images is t10k-images-idx3-ubyte.gz: 10,000 28x28 grey images.
//
//go:embed t10k-images-idx3-ubyte.gz
var Images []byte

// Labels is t10k-labels-idx1-ubyte.gz: 10,000 labels in [0, 10).
//
//go:embed t10k-labels-idx1-ubyte.gz
var Labels []byte

// License is the MIT licence notice that covers Images and Labels.
//
//go:embed LICENSE
var License string
