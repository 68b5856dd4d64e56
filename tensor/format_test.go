package tensor

import (
	"fmt"
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	cases := []struct {
		t    fmt.Stringer
		want string
	}{
		{Scalar[float32](3.5), "tensor(3.5)"},
		{FromSlice([]float32{1, -2.5, 30}, 3), "tensor([   1, -2.5,   30], shape=[3])"},
		{Arange[float64](0, 6, 1).Reshape(2, 3), "tensor([[0, 1, 2],\n        [3, 4, 5]], shape=[2 3])"},
		{Arange[float64](0, 8, 1).Reshape(2, 2, 2), "tensor([[[0, 1],\n         [2, 3]],\n\n        [[4, 5],\n         [6, 7]]], shape=[2 2 2])"},
		{New[float32](0, 3), "tensor([], shape=[0 3])"},
		{FromSlice([]float32{0.1, 1.0 / 3}, 2), "tensor([     0.1, 0.333333], shape=[2])"},
	}
	for _, c := range cases {
		if got := c.t.String(); got != c.want {
			t.Errorf("got\n%s\nwant\n%s", got, c.want)
		}
	}
	big := Arange[float32](0, 2000, 1).Reshape(2, 1000)
	want := "tensor([[   0,    1,    2, ...,  997,  998,  999],\n        [1000, 1001, 1002, ..., 1997, 1998, 1999]], shape=[2 1000])"
	if got := big.String(); got != want {
		t.Errorf("summarised:\n%s\nwant\n%s", got, want)
	}
	tall := Arange[float32](0, 3000, 1).Reshape(1000, 3)
	if got := tall.String(); !strings.Contains(got, " ...,\n") || strings.Count(got, "\n") != 6 {
		t.Errorf("summarised rows:\n%s", got)
	}
	if got := fmt.Sprintf("%.2f", FromSlice([]float64{1, 0.125}, 2)); got != "tensor([1.00, 0.12], shape=[2])" {
		t.Errorf("%%.2f: %s", got)
	}
	if got := fmt.Sprintf("%v", Scalar[float64](2)); got != "tensor(2)" {
		t.Errorf("%%v: %s", got)
	}
}
