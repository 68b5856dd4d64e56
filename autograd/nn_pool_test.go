package autograd

import (
	"math"
	"testing"

	"github.com/fastgo-ml/fastgo/tensor"
)

func TestPoolGradCheck(t *testing.T) {
	cases := []struct {
		name  string
		shape []int
		f     func(x *Var[float64]) *Var[float64]
	}{
		{"max-k2", []int{2, 3, 6, 6}, func(x *Var[float64]) *Var[float64] {
			return MaxPool2d(x, Pool2dOptions{Kernel: [2]int{2, 2}})
		}},
		{"max-k2-odd", []int{1, 2, 5, 7}, func(x *Var[float64]) *Var[float64] {
			return MaxPool2d(x, Pool2dOptions{Kernel: [2]int{2, 2}})
		}},
		{"max-k3-s2-p1", []int{2, 2, 7, 6}, func(x *Var[float64]) *Var[float64] {
			return MaxPool2d(x, Pool2dOptions{Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}})
		}},
		{"max-dil2", []int{1, 2, 8, 8}, func(x *Var[float64]) *Var[float64] {
			return MaxPool2d(x, Pool2dOptions{Kernel: [2]int{3, 2}, Stride: [2]int{1, 2}, Padding: [2]int{1, 0}, Dilation: [2]int{2, 2}})
		}},
		{"avg-k2", []int{2, 2, 6, 5}, func(x *Var[float64]) *Var[float64] {
			return AvgPool2d(x, Pool2dOptions{Kernel: [2]int{2, 2}})
		}},
		{"avg-k3-s2-p1", []int{2, 2, 7, 6}, func(x *Var[float64]) *Var[float64] {
			return AvgPool2d(x, Pool2dOptions{Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}})
		}},
		{"avg-exclude-pad", []int{1, 2, 5, 6}, func(x *Var[float64]) *Var[float64] {
			return AvgPool2d(x, Pool2dOptions{Kernel: [2]int{3, 2}, Stride: [2]int{1, 2}, Padding: [2]int{1, 1}, ExcludePad: true})
		}},
		{"adaptive-avg-3x2", []int{2, 2, 7, 5}, func(x *Var[float64]) *Var[float64] { return AdaptiveAvgPool2d(x, 3, 2) }},
		{"adaptive-avg-global", []int{2, 3, 4, 5}, func(x *Var[float64]) *Var[float64] { return AdaptiveAvgPool2d(x, 1, 1) }},
		{"adaptive-avg-up", []int{1, 2, 3, 3}, func(x *Var[float64]) *Var[float64] { return AdaptiveAvgPool2d(x, 4, 5) }},
		{"adaptive-max-3x4", []int{2, 2, 7, 9}, func(x *Var[float64]) *Var[float64] { return AdaptiveMaxPool2d(x, 3, 4) }},
		{"adaptive-max-global", []int{2, 2, 5, 5}, func(x *Var[float64]) *Var[float64] { return AdaptiveMaxPool2d(x, 1, 1) }},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := CheckGrad(func(xs []*Var[float64]) *Var[float64] { return c.f(xs[0]) },
				[]*tensor.Tensor64{nnRand(uint64(i+1), c.shape...)}, CheckOptions{})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestMaxPoolTiesGoToFirstIndex(t *testing.T) {
	x := Param(tensor.FromSlice([]float64{
		1, 1, 0, 2,
		1, 0, 2, 2,
	}, 1, 1, 2, 4))
	y := MaxPool2d(x, Pool2dOptions{Kernel: [2]int{2, 2}})
	if d := y.Data().Data(); d[0] != 1 || d[1] != 2 {
		t.Fatalf("MaxPool2d = %v, want [1 2]", d)
	}
	y.BackwardWith(tensor.FromSlice([]float64{10, 20}, 1, 1, 1, 2))
	want := []float64{10, 0, 0, 20, 0, 0, 0, 0}
	for i, v := range want {
		if x.Grad().Data()[i] != v {
			t.Fatalf("grad = %v, want %v", x.Grad().Data(), want)
		}
	}
	// The generic path (stride 1) breaks ties the same way.
	x2 := Param(tensor.FromSlice([]float64{3, 3, 3, 3}, 1, 1, 2, 2))
	y2 := MaxPool2d(x2, Pool2dOptions{Kernel: [2]int{2, 2}, Stride: [2]int{1, 1}, Padding: [2]int{1, 1}})
	y2.BackwardWith(tensor.Full[float64](1, y2.Shape()...))
	if g := x2.Grad().Data(); g[0] != 4 || g[1] != 2 || g[2] != 2 || g[3] != 1 {
		// Windows over the padded 4x4: each output picks its first valid pixel.
		t.Fatalf("grad = %v, want [4 2 2 1]", g)
	}
}

func TestAvgPoolHandCases(t *testing.T) {
	x := Const(tensor.FromSlice([]float64{
		1, 2, 3,
		4, 5, 6,
		7, 8, 9,
	}, 1, 1, 3, 3))
	// 3x3 kernel, padding 1, stride 2: corners see 4 pixels of 9 slots.
	y := AvgPool2d(x, Pool2dOptions{Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}})
	want := []float64{12.0 / 9, 16.0 / 9, 24.0 / 9, 28.0 / 9}
	ye := AvgPool2d(x, Pool2dOptions{Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}, ExcludePad: true})
	wantE := []float64{3, 4, 6, 7}
	for i := range want {
		if math.Abs(y.Data().Data()[i]-want[i]) > 1e-15 || math.Abs(ye.Data().Data()[i]-wantE[i]) > 1e-15 {
			t.Fatalf("AvgPool2d = %v / %v, want %v / %v", y.Data().Data(), ye.Data().Data(), want, wantE)
		}
	}
	// Adaptive bins of 3 into 2: [0,2) and [1,3).
	a := AdaptiveAvgPool2d(x, 2, 2).Data().Data()
	wantA := []float64{3, 4, 6, 7}
	m := AdaptiveMaxPool2d(x, 2, 1).Data().Data()
	for i := range wantA {
		if a[i] != wantA[i] {
			t.Fatalf("AdaptiveAvgPool2d = %v, want %v", a, wantA)
		}
	}
	if m[0] != 6 || m[1] != 9 {
		t.Fatalf("AdaptiveMaxPool2d(2,1) = %v, want [6 9]", m)
	}
}

func TestPoolShapeErrors(t *testing.T) {
	x := Const(tensor.New[float64](1, 1, 4, 4))
	nnExpectPanic(t, func() { MaxPool2d(x, Pool2dOptions{}) }, "autograd.MaxPool2d", "kernel")
	nnExpectPanic(t, func() { MaxPool2d(x, Pool2dOptions{Kernel: [2]int{2, 2}, Padding: [2]int{2, 0}}) }, "autograd.MaxPool2d", "half the kernel")
	nnExpectPanic(t, func() { AvgPool2d(x, Pool2dOptions{Kernel: [2]int{2, 2}, Dilation: [2]int{2, 2}}) }, "autograd.AvgPool2d", "dilation")
	nnExpectPanic(t, func() { MaxPool2d(x, Pool2dOptions{Kernel: [2]int{5, 5}}) }, "autograd.MaxPool2d", "[1 1 4 4]")
	nnExpectPanic(t, func() { AdaptiveAvgPool2d(Const(tensor.New[float64](4, 4)), 1, 1) }, "autograd.AdaptiveAvgPool2d", "[4 4]")
	nnExpectPanic(t, func() { AdaptiveMaxPool2d(x, 0, 1) }, "autograd.AdaptiveMaxPool2d", "0x1")
}

func TestPoolNoGradSkipsIndices(t *testing.T) {
	x := Const(nnRand(3, 1, 2, 4, 4))
	var y *Var[float64]
	NoGrad(func() { y = MaxPool2d(Param(x.Data()), Pool2dOptions{Kernel: [2]int{2, 2}}) })
	if y.RequiresGrad() {
		t.Fatal("MaxPool2d under NoGrad recorded a graph")
	}
}

func TestMaxPoolNaNWins(t *testing.T) {
	nan := math.NaN()
	x := Const(tensor.FromSlice([]float64{1, nan, 5, nan}, 1, 1, 2, 2))
	for name, y := range map[string]*Var[float64]{
		"MaxPool2d-2x2":     MaxPool2d(x, Pool2dOptions{Kernel: [2]int{2, 2}}),
		"MaxPool2d-generic": MaxPool2d(x, Pool2dOptions{Kernel: [2]int{2, 2}, Stride: [2]int{1, 1}}),
		"AdaptiveMaxPool2d": AdaptiveMaxPool2d(x, 1, 1),
	} {
		if v := y.Data().Data()[0]; !math.IsNaN(v) {
			t.Errorf("%s = %v, want NaN", name, v)
		}
	}
}

// TestMaxPoolInteriorMatchesNaive checks MaxPool2d's output and the argmax
// its backward scatters to (each output's gradient is distinct) against a
// naive scan of every window, on inputs with ties and NaNs, over window
// geometries whose interior takes the unrolled 3x3 loop, the general
// interior loop, or none at all.
func TestMaxPoolInteriorMatchesNaive(t *testing.T) {
	rng := tensor.NewRNG(31)
	for _, o := range []Pool2dOptions{
		{Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}},
		{Kernel: [2]int{3, 3}, Stride: [2]int{1, 1}, Padding: [2]int{1, 1}},
		{Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}},
		{Kernel: [2]int{2, 3}, Stride: [2]int{1, 2}, Padding: [2]int{1, 1}},
		{Kernel: [2]int{3, 2}, Stride: [2]int{1, 2}, Padding: [2]int{1, 0}, Dilation: [2]int{2, 2}},
		{Kernel: [2]int{5, 5}, Stride: [2]int{2, 2}, Padding: [2]int{2, 2}},
	} {
		for _, hw := range [][2]int{{7, 9}, {8, 8}, {3, 4}, {13, 6}} {
			if hw[0]+2*o.Padding[0] < max(1, o.Dilation[0])*(o.Kernel[0]-1)+1 || hw[1]+2*o.Padding[1] < max(1, o.Dilation[1])*(o.Kernel[1]-1)+1 {
				continue
			}
			xd := tensor.New[float32](2, 3, hw[0], hw[1])
			for i := range xd.Data() {
				switch r := rng.IntN(20); {
				case r == 0:
					xd.Data()[i] = float32(math.NaN())
				case r < 8:
					xd.Data()[i] = float32(rng.IntN(3)) // ties
				default:
					xd.Data()[i] = float32(rng.NormFloat64())
				}
			}
			x := Param(xd)
			y := MaxPool2d(x, o)
			want, wantArg := naiveMaxPool(xd, o, y.Shape())
			gy := tensor.New[float32](y.Shape()...)
			for i := range gy.Data() {
				gy.Data()[i] = float32(i + 1)
			}
			got := y.Data().Clone()
			y.BackwardWith(gy)
			wantGrad := make([]float32, xd.Len())
			for i, a := range wantArg {
				wantGrad[a] += float32(i + 1)
			}
			for i, v := range want {
				if g := got.Data()[i]; math.Float32bits(g) != math.Float32bits(v) && !(g != g && v != v) {
					t.Fatalf("%+v %v: output %d = %v, want %v", o, hw, i, g, v)
				}
			}
			for i, v := range wantGrad {
				if x.Grad().Data()[i] != v {
					t.Fatalf("%+v %v: input gradient %d = %v, want %v", o, hw, i, x.Grad().Data()[i], v)
				}
			}
		}
	}
}

// naiveMaxPool returns MaxPool2d's output and each output's argmax (an
// index into x) by scanning every window tap with bounds tests.
func naiveMaxPool(x *tensor.Dense[float32], o Pool2dOptions, ys []int) ([]float32, []int) {
	xs := x.Shape()
	h, w, oh, ow := xs[2], xs[3], ys[2], ys[3]
	sh, sw := o.Stride[0], o.Stride[1]
	if sh == 0 {
		sh, sw = o.Kernel[0], o.Kernel[1]
	}
	dh, dw := max(1, o.Dilation[0]), max(1, o.Dilation[1])
	var out []float32
	var arg []int
	for pl := 0; pl < xs[0]*xs[1]; pl++ {
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				bi := -1
				var best float32
				for a := 0; a < o.Kernel[0]; a++ {
					for b := 0; b < o.Kernel[1]; b++ {
						ih, iw := i*sh-o.Padding[0]+a*dh, j*sw-o.Padding[1]+b*dw
						if ih < 0 || ih >= h || iw < 0 || iw >= w {
							continue
						}
						idx := pl*h*w + ih*w + iw
						v := x.Data()[idx]
						if bi < 0 || v > best || (v != v && best == best) {
							best, bi = v, idx
						}
					}
				}
				out = append(out, best)
				arg = append(arg, bi)
			}
		}
	}
	return out, arg
}
