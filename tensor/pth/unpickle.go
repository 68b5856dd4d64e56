package pth

import (
	"bytes"
	"errors"
	"fmt"
	"math/bits"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"
)

// allowedGlobal reports whether module.name is one of the globals that a
// state dict saved by torch.save needs. Everything else (os.system,
// builtins.eval, any class of a user's module) is refused.
func allowedGlobal(module, name string) bool {
	switch module {
	case "collections":
		return name == "OrderedDict"
	case "torch._utils":
		switch name {
		case "_rebuild_tensor_v2", "_rebuild_tensor", "_rebuild_parameter", "_rebuild_parameter_with_state":
			return true
		}
	case "torch":
		if name == "Size" {
			return true
		}
		_, ok := storageClasses[name]
		return ok
	}
	return false
}

// storageClass is the value of a global such as torch.FloatStorage.
type storageClass struct{ dtype Dtype }

// storage is one storage of the file: a record data/KEY of the zip format
// or one of the raw storages after the legacy format's pickles.
type storage struct {
	key   string
	dtype Dtype
	numel int64
	off   int64 // offset of the first byte in the input; -1 until known
}

// storageView is what a persistent ID resolves to: a storage, or (legacy
// format only) a range of one.
type storageView struct {
	root          *storage
	offset, numel int64
}

// tensorRef is a tensor of the file: a strided view of a storage.
type tensorRef struct {
	st      *storage
	offset  int64
	shape   []int
	strides []int64
	numel   int64
}

// unpickling holds what the unpickler's hooks build for one file.
type unpickling struct {
	legacy   bool
	storages map[string]*storage
	// resolve, for the zip format, validates a new storage against its
	// record and sets its offset.
	resolve func(st *storage) error
}

// maxErrMsg is the longest message kept from an unpickler error, which may
// quote pickled values.
const maxErrMsg = 200

// load unpickles p, which scanPickle has accepted.
func (u *unpickling) load(p []byte) (v any, err error) {
	up := pickle.NewUnpickler(bytes.NewReader(p))
	up.FindClass = u.findClass
	up.PersistentLoad = u.persistentLoad
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("malformed pickle: %v", r)
		}
	}()
	v, err = up.Load()
	if err != nil {
		var ge *globalError
		var fe *FormatError
		if errors.As(err, &ge) || errors.As(err, &fe) {
			return nil, err
		}
		msg := err.Error()
		if len(msg) > maxErrMsg {
			msg = msg[:maxErrMsg] + "..."
		}
		return nil, errors.New(msg)
	}
	return v, nil
}

// findClass resolves the allowed globals; scanPickle has refused the others
// already, and findClass refuses them again.
func (u *unpickling) findClass(module, name string) (any, error) {
	if !allowedGlobal(module, name) {
		return nil, &globalError{module, name}
	}
	switch module {
	case "torch._utils":
		switch name {
		case "_rebuild_tensor_v2":
			return rebuildTensor{v2: true}, nil
		case "_rebuild_tensor":
			return rebuildTensor{}, nil
		default:
			return rebuildParameter{}, nil
		}
	case "torch":
		if name == "Size" {
			return sizeClass{}, nil
		}
		return &storageClass{storageClasses[name]}, nil
	}
	return &types.OrderedDictClass{}, nil
}

// asInt returns v as an int64 if it is a pickled integer.
func asInt(v any) (int64, bool) {
	i, ok := v.(int)
	return int64(i), ok
}

// asTuple returns the members of a pickled tuple.
func asTuple(v any) ([]any, bool) {
	t, ok := v.(*types.Tuple)
	if !ok || t == nil {
		return nil, false
	}
	return *t, true
}

// persistentLoad resolves a storage's persistent ID:
// ('storage', class, key, location, numel) in the zip format, with a sixth
// member, a view (key, offset, numel) or None, in the legacy format.
func (u *unpickling) persistentLoad(pid any) (any, error) {
	t, ok := asTuple(pid)
	want := 5
	if u.legacy {
		want = 6
	}
	if !ok || len(t) != want {
		return nil, fmt.Errorf("persistent ID is not a tuple of %d", want)
	}
	if s, _ := t[0].(string); s != "storage" {
		return nil, errors.New("persistent ID is not a storage")
	}
	cls, ok1 := t[1].(*storageClass)
	key, ok2 := t[2].(string)
	_, ok3 := t[3].(string)
	numel, ok4 := asInt(t[4])
	if !ok1 || !ok2 || !ok3 || !ok4 || numel < 0 || cls == nil {
		return nil, errors.New("malformed storage persistent ID")
	}
	st, ok := u.storages[key]
	switch {
	case !ok:
		st = &storage{key: key, dtype: cls.dtype, numel: numel, off: -1}
		if u.resolve != nil {
			if err := u.resolve(st); err != nil {
				return nil, err
			}
		}
		u.storages[key] = st
	case st.dtype != cls.dtype || st.numel != numel:
		return nil, fmt.Errorf("storage %s is %d %s elements and %d %s elements", quoteKey(key), st.numel, st.dtype, numel, cls.dtype)
	}
	view := &storageView{root: st, numel: st.numel}
	if u.legacy && t[5] != nil {
		v, ok := asTuple(t[5])
		if !ok || len(v) != 3 {
			return nil, errors.New("malformed storage view")
		}
		_, ok1 := v[0].(string)
		off, ok2 := asInt(v[1])
		n, ok3 := asInt(v[2])
		if !ok1 || !ok2 || !ok3 || off < 0 || n < 0 || off > st.numel || n > st.numel-off {
			return nil, fmt.Errorf("malformed view of storage %s of %d elements", quoteKey(key), st.numel)
		}
		view.offset, view.numel = off, n
	}
	return view, nil
}

// rebuildTensor is torch._utils._rebuild_tensor_v2 (storage, offset, size,
// stride, requires_grad, backward_hooks[, metadata]) or, without v2,
// _rebuild_tensor (storage, offset, size, stride).
type rebuildTensor struct{ v2 bool }

// Call validates the view against its storage and returns a *tensorRef.
func (r rebuildTensor) Call(args ...any) (any, error) {
	if n := len(args); (r.v2 && n != 6 && n != 7) || (!r.v2 && n != 4) {
		return nil, fmt.Errorf("_rebuild_tensor called with %d arguments", n)
	}
	view, ok := args[0].(*storageView)
	if !ok {
		return nil, errors.New("_rebuild_tensor of something that is not a storage")
	}
	offset, ok := asInt(args[1])
	if !ok || offset < 0 {
		return nil, errors.New("_rebuild_tensor: storage offset is not a non-negative integer")
	}
	size, ok1 := intTuple(args[2])
	stride, ok2 := intTuple(args[3])
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("_rebuild_tensor: size or stride is not a tuple of at most %d integers", MaxRank)
	}
	if len(size) != len(stride) {
		return nil, fmt.Errorf("_rebuild_tensor: %d sizes and %d strides", len(size), len(stride))
	}
	t := &tensorRef{st: view.root, offset: view.offset + offset, shape: make([]int, len(size)), strides: stride}
	numel, last, err := extent(offset, size, stride)
	if err != nil {
		return nil, fmt.Errorf("_rebuild_tensor: size %v, stride %v, offset %d: %v", size, stride, offset, err)
	}
	if numel > 0 && last >= uint64(view.numel) {
		return nil, fmt.Errorf("_rebuild_tensor: size %v, stride %v, offset %d reach element %d of a storage of %d",
			size, stride, offset, last, view.numel)
	}
	if numel > uint64(max(view.numel, MaxViewElements)) {
		return nil, fmt.Errorf("_rebuild_tensor: size %v has %d elements, more than its storage of %d and than %d",
			size, numel, view.numel, MaxViewElements)
	}
	for i, d := range size {
		t.shape[i] = int(d)
	}
	t.numel = int64(numel)
	return t, nil
}

// extent returns the number of elements of the view and the index of its
// last element, failing on negative or overflowing values.
func extent(offset int64, size, stride []int64) (numel, last uint64, err error) {
	numel, last = 1, uint64(offset)
	overflow := false
	for i, d := range size {
		if d < 0 || stride[i] < 0 {
			return 0, 0, errors.New("negative size or stride")
		}
		hi, lo := bits.Mul64(numel, uint64(d))
		overflow = overflow || hi != 0
		numel = lo
		if d > 0 {
			hi, span := bits.Mul64(uint64(d-1), uint64(stride[i]))
			var carry uint64
			last, carry = bits.Add64(last, span, 0)
			overflow = overflow || hi != 0 || carry != 0
		}
	}
	if overflow || numel > 1<<62 || last > 1<<62 {
		return 0, 0, errors.New("element count or extent overflows")
	}
	if numel == 0 {
		return 0, 0, nil
	}
	return numel, last, nil
}

// intTuple returns a tuple (or torch.Size) of at most MaxRank integers.
func intTuple(v any) ([]int64, bool) {
	t, ok := asTuple(v)
	if !ok || len(t) > MaxRank {
		return nil, false
	}
	out := make([]int64, len(t))
	for i, x := range t {
		if out[i], ok = asInt(x); !ok {
			return nil, false
		}
	}
	return out, true
}

// rebuildParameter is torch._utils._rebuild_parameter (data,
// requires_grad, backward_hooks) and _rebuild_parameter_with_state (the
// same and a state, which is ignored): it returns the tensor.
type rebuildParameter struct{}

// Call returns its first argument, which must be a tensor.
func (rebuildParameter) Call(args ...any) (any, error) {
	if len(args) != 3 && len(args) != 4 {
		return nil, fmt.Errorf("_rebuild_parameter called with %d arguments", len(args))
	}
	t, ok := args[0].(*tensorRef)
	if !ok {
		return nil, errors.New("_rebuild_parameter of something that is not a tensor")
	}
	return t, nil
}

// sizeClass is torch.Size: called with a tuple of integers, it returns it.
type sizeClass struct{}

// Call returns the tuple of integers it is given.
func (sizeClass) Call(args ...any) (any, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("torch.Size called with %d arguments", len(args))
	}
	v, ok := intTuple(args[0])
	if !ok {
		return nil, fmt.Errorf("torch.Size of something that is not a tuple of at most %d integers", MaxRank)
	}
	t := make(types.Tuple, len(v))
	for i, x := range v {
		t[i] = int(x)
	}
	return &t, nil
}

// entry is one named tensor of the state dict.
type entry struct {
	name string
	t    *tensorRef
}

// flattener collects the tensors of a pickled state dict.
type flattener struct {
	entries []entry
	index   map[string]int
	skipped []string
}

// flatten returns the tensors of v, a dict of tensors and nested dicts
// (whose keys are joined with dots), and the names of other values.
func flatten(v any) ([]entry, []string, error) {
	fl := &flattener{index: map[string]int{}}
	switch v.(type) {
	case *types.OrderedDict, *types.Dict:
	default:
		return nil, nil, fmt.Errorf("the pickled object is a %s, not a dict", pyType(v))
	}
	if err := fl.walk("", v, 0); err != nil {
		return nil, nil, err
	}
	return fl.entries, fl.skipped, nil
}

// kv is one item of a pickled dict.
type kv struct {
	key string
	val any
}

// items returns the items of a pickled dict in order; a key given twice
// keeps its first place and its last value, as in Python.
func items(v any) ([]kv, error) {
	var out []kv
	pos := map[string]int{}
	add := func(k, val any) error {
		s, ok := k.(string)
		if !ok {
			return fmt.Errorf("dict key is a %s, not a string", pyType(k))
		}
		if i, ok := pos[s]; ok {
			out[i].val = val
			return nil
		}
		pos[s] = len(out)
		out = append(out, kv{s, val})
		return nil
	}
	switch d := v.(type) {
	case *types.OrderedDict:
		for e := d.List.Front(); e != nil; e = e.Next() {
			it, ok := e.Value.(*types.OrderedDictEntry)
			if !ok {
				return nil, errors.New("malformed OrderedDict")
			}
			if err := add(it.Key, it.Value); err != nil {
				return nil, err
			}
		}
	case *types.Dict:
		for _, it := range *d {
			if err := add(it.Key, it.Value); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// walk adds the tensors of dict v, whose keys get prefix.
func (fl *flattener) walk(prefix string, v any, depth int) error {
	if depth >= MaxNesting {
		return fmt.Errorf("dicts nested deeper than %d at %q", MaxNesting, prefix)
	}
	its, err := items(v)
	if err != nil {
		return fmt.Errorf("%q: %w", prefix, err)
	}
	for _, it := range its {
		name := prefix + it.key
		switch x := it.val.(type) {
		case *tensorRef:
			if _, dup := fl.index[name]; dup {
				return fmt.Errorf("two tensors are named %q", name)
			}
			fl.index[name] = len(fl.entries)
			fl.entries = append(fl.entries, entry{name, x})
		case *types.OrderedDict, *types.Dict:
			if err := fl.walk(name+".", x, depth+1); err != nil {
				return err
			}
		default:
			fl.skipped = append(fl.skipped, name)
		}
	}
	return nil
}

// pyType names the Python type of an unpickled value, for errors (never
// formatting the value itself, which may be large or cyclic).
func pyType(v any) string {
	switch v.(type) {
	case nil:
		return "None"
	case int:
		return "int"
	case float64:
		return "float"
	case bool:
		return "bool"
	case string:
		return "str"
	case *types.Tuple:
		return "tuple"
	case *types.List:
		return "list"
	case *types.Dict, *types.OrderedDict:
		return "dict"
	case *tensorRef:
		return "tensor"
	case *storageView:
		return "storage"
	}
	return fmt.Sprintf("%T", v)
}
