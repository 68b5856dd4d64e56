package vision

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/tensor"
)

// TestBySplit: training items get the training transform, validation items
// the validation one, and an export records the validation transform,
// which LoadLearner rebuilds.
func TestBySplit(t *testing.T) {
	x := tensor.Zeros(3, 40, 60)
	for i := range x.Data() {
		x.Data()[i] = float32(i%97) / 97
	}
	rrc, rs := RandomResizedCrop(16, 16, 0.1), Resize(16, 16, Crop)
	b := BySplit(rrc, rs)
	if got, want := b.TransformItem(x, tensor.NewRNG(3), TrainSplit).Data(), rrc.TransformItem(x, tensor.NewRNG(3), TrainSplit).Data(); !reflect.DeepEqual(got, want) {
		t.Error("training items do not get the training transform")
	}
	if got, want := b.TransformItem(x, nil, ValidSplit).Data(), rs.TransformItem(x, nil, ValidSplit).Data(); !reflect.DeepEqual(got, want) {
		t.Error("validation items do not get the validation transform")
	}
	if s := describe(b); s != "BySplit(RandomResizedCrop(16, 16, 0.1), Resize(16, 16, Crop))" {
		t.Errorf("String() = %q", s)
	}
	dls := tinyData(t, 12, 3, 40, 60)
	dls.cfg.itemTfms = []ItemTransform{b}
	raw, err := dls.TransformSpec()
	if err != nil {
		t.Fatal(err)
	}
	var spec transformSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(spec.ItemTfms, []string{"Resize(16, 16, Crop)"}) || !reflect.DeepEqual(spec.InputShape, []int{3, 16, 16}) {
		t.Errorf("spec %+v, want the validation transform", spec)
	}
	if _, err := parseItemTransform(spec.ItemTfms[0]); err != nil {
		t.Error(err)
	}
	if err := fastgo.Maybe(func() { BySplit(nil, rs) }); err == nil {
		t.Error("BySplit(nil, ...) did not panic")
	}
}
