package layers

import (
	"reflect"
	"strings"
	"testing"
)

// TestReadStateDictPth checks that ReadStateDict reads torch.save files
// (told by their first bytes, whatever their names) in the state dict's
// order, and names the entry it cannot hold.
func TestReadStateDictPth(t *testing.T) {
	sd, err := ReadStateDict("../tensor/pth/testdata/nested.pth")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"model.f32.t", "model.f16", "model.bn.num_batches_tracked", "ema.f32.slice"}
	if !reflect.DeepEqual(sd.Names, want) {
		t.Errorf("names %v, want %v", sd.Names, want)
	}
	if sd.Ints["model.bn.num_batches_tracked"] != 469 || len(sd.Tensors) != 3 {
		t.Errorf("ints %v, %d tensors", sd.Ints, len(sd.Tensors))
	}
	if x := sd.Tensors["model.f16"]; x == nil || !reflect.DeepEqual(x.Shape(), []int{3, 4}) || x.Data()[2] != 65504 {
		t.Errorf("model.f16: %v", x)
	}
	_, err = ReadStateDict("../tensor/pth/testdata/state_legacy.pth")
	if err == nil || !strings.Contains(err.Error(), `tensor "i64": integer tensor of shape [2 3], want a scalar`) {
		t.Errorf("got %v, want an error naming i64", err)
	}
}
