package layers

import (
	"reflect"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/tensor"
)

// leaf is a test module with a weight, a bias and a buffer.
type leaf struct {
	Base
	count int64
}

func newLeaf(n int) *leaf {
	l := &leaf{}
	l.AddParam("weight", autograd.Param(tensor.Full[float32](1, n, 2)))
	l.AddParam("bias", autograd.Param(tensor.Zeros(n)))
	l.AddBuffer("running_mean", tensor.Zeros(n))
	l.AddIntBuffer("num_batches_tracked", &l.count)
	return l
}

func (l *leaf) Forward(x *autograd.Value) *autograd.Value { return x }

type tree struct {
	Base
	a, b *leaf
}

func newTree() *tree {
	t := &tree{}
	t.AddParam("scale", autograd.Param(tensor.Ones(1)))
	t.a = Register(&t.Base, "a", newLeaf(2))
	t.b = Register(&t.Base, "b", newLeaf(3))
	return t
}

func (t *tree) Forward(x *autograd.Value) *autograd.Value { return t.b.Forward(t.a.Forward(x)) }

func TestNamesFollowPyTorchOrder(t *testing.T) {
	m := newTree()
	var names []string
	for _, np := range NamedParameters(m) {
		names = append(names, np.Name)
	}
	want := []string{"scale", "a.weight", "a.bias", "b.weight", "b.bias"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("NamedParameters = %v, want %v", names, want)
	}
	sd := GetStateDict(m)
	wantSD := []string{"scale", "a.weight", "a.bias", "a.running_mean", "a.num_batches_tracked",
		"b.weight", "b.bias", "b.running_mean", "b.num_batches_tracked"}
	if !reflect.DeepEqual(sd.Names, wantSD) {
		t.Fatalf("state dict names = %v, want %v", sd.Names, wantSD)
	}
	if got := NumParams(m); got != 1+4+2+6+3 {
		t.Fatalf("NumParams = %d, want 16", got)
	}
}

func TestTrainEvalIsRecursive(t *testing.T) {
	m := newTree()
	if !m.a.Training() {
		t.Fatal("default mode is not training")
	}
	Eval(m)
	if m.Training() || m.a.Training() || m.b.Training() {
		t.Fatal("Eval did not reach every module")
	}
	Train(m)
	if !m.b.Training() {
		t.Fatal("Train did not reach every module")
	}
}

func TestLoadStateDictStrictAndLenient(t *testing.T) {
	src := newTree()
	src.a.count = 7
	src.a.params[0].p.Data().Fill(5)
	sd := GetStateDict(src)

	dst := newTree()
	if _, err := LoadStateDict(dst, sd); err != nil {
		t.Fatal(err)
	}
	if dst.a.params[0].p.Data().At(1, 1) != 5 || dst.a.count != 7 {
		t.Fatal("strict load did not copy weights and int buffers")
	}

	// A mis-shaped, a missing and an unexpected entry.
	bad := &StateDict{Tensors: map[string]*tensor.Tensor{}, Ints: map[string]int64{}}
	for n, v := range sd.Tensors {
		bad.Tensors[n] = v
	}
	for n, v := range sd.Ints {
		bad.Ints[n] = v
	}
	bad.Tensors["b.weight"] = tensor.Zeros(4, 2)
	delete(bad.Tensors, "a.bias")
	bad.Tensors["extra.weight"] = tensor.Zeros(1)
	fresh := newTree()
	_, err := LoadStateDict(fresh, bad)
	if err == nil {
		t.Fatal("strict load accepted a bad state dict")
	}
	for _, want := range []string{"a.bias", "extra.weight", "b.weight", "[3 2]", "[4 2]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if fresh.a.params[0].p.Data().At(0, 0) != 1 {
		t.Fatal("a failed strict load changed the module")
	}
	rep, err := LoadStateDict(fresh, bad, NonStrict())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Missing) != 1 || len(rep.Unexpected) != 1 || len(rep.Mismatched) != 1 {
		t.Fatalf("lenient report = %+v", rep)
	}
	if fresh.a.params[0].p.Data().At(0, 0) != 5 || fresh.b.params[0].p.Data().At(0, 0) != 1 {
		t.Fatal("lenient load did not load exactly the matching entries")
	}
}

func TestDuplicateNamePanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(fastgo.Error).Error(), `"weight"`) {
			t.Fatalf("recover() = %v, want a panic naming \"weight\"", r)
		}
	}()
	l := newLeaf(1)
	l.AddParam("weight", autograd.Param(tensor.Zeros(1)))
}

func TestFreeze(t *testing.T) {
	m := newTree()
	SetRequiresGrad(m.a, false)
	for _, np := range NamedParameters(m) {
		want := !strings.HasPrefix(np.Name, "a.")
		if np.Param.RequiresGrad() != want {
			t.Errorf("%s requires grad = %v, want %v", np.Name, np.Param.RequiresGrad(), want)
		}
	}
}
