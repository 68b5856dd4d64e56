package autograd

import (
	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/internal/kernels"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Backward computes the gradient of v with respect to every leaf that requires
// one, and adds it to that leaf's Grad (gradients accumulate, as in PyTorch,
// until ZeroGrad). v must hold a single element; use BackwardWith for others.
// The graph is freed afterwards: a second Backward through it panics.
func (v *Var[T]) Backward() {
	if v.data.Len() != 1 {
		panic(fastgo.Errorf("autograd.Backward: output of shape %v is not a scalar; use BackwardWith", v.data.Shape()))
	}
	v.BackwardWith(tensor.Full[T](1, v.data.Shape()...))
}

// BackwardWith is Backward with an explicit output gradient g, of v's shape.
func (v *Var[T]) BackwardWith(g *tensor.Dense[T]) {
	run(v, g, nil)
}

// Grads returns the gradients of the scalar v with respect to each of wrt,
// without touching any leaf's Grad, as torch.autograd.grad does. A Var of
// wrt that does not require a gradient, or that v does not depend on, gets
// a zero gradient. The graph is freed. For a v of more than one element,
// use GradsWith.
func Grads[T tensor.Float](v *Var[T], wrt ...*Var[T]) []*tensor.Dense[T] {
	if v.data.Len() != 1 {
		panic(fastgo.Errorf("autograd.Grads: output of shape %v is not a scalar; use GradsWith", v.data.Shape()))
	}
	return GradsWith(v, tensor.Full[T](1, v.data.Shape()...), wrt...)
}

// GradsWith is Grads with an explicit output gradient g, of v's shape (the
// grad_outputs of torch.autograd.grad).
func GradsWith[T tensor.Float](v *Var[T], g *tensor.Dense[T], wrt ...*Var[T]) []*tensor.Dense[T] {
	if g == nil {
		panic(fastgo.Errorf("autograd.GradsWith: no gradient for output of shape %v", v.data.Shape()))
	}
	want := make(map[*Var[T]]bool, len(wrt))
	for _, w := range wrt {
		want[w] = true
	}
	defer prune(v, want)()
	got := run(v, g, want)
	out := make([]*tensor.Dense[T], len(wrt))
	for i, w := range wrt {
		if gw := got[w]; gw != nil {
			out[i] = gw
		} else {
			out[i] = tensor.New[T](w.data.Shape()...)
		}
	}
	return out
}

// prune makes the Vars of root's graph that lead to none of want stop
// requiring a gradient for the duration of a Grads pass, as
// torch.autograd.grad prunes its graph: their ops then skip that work (a
// frozen weight costs no weight-gradient GEMM). It returns the function
// that restores them.
func prune[T tensor.Float](root *Var[T], want map[*Var[T]]bool) func() {
	leads := map[*Var[T]]bool{}
	var off []*Var[T]
	for _, v := range topoReverse(root) { // inputs before the Vars they make
		l := want[v]
		if v.fn != nil {
			for _, in := range v.fn.inputs {
				l = l || leads[in]
			}
		}
		leads[v] = l
		if !l && v.requiresGrad && v != root { // a pruned root gives zeros
			off = append(off, v)
		}
	}
	for _, v := range off {
		v.requiresGrad = false
	}
	return func() {
		for _, v := range off {
			v.requiresGrad = true
		}
	}
}

// topoReverse returns the Vars of root's graph that require a gradient,
// each after all of its inputs.
func topoReverse[T tensor.Float](root *Var[T]) []*Var[T] {
	order := topo(root)
	for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
		order[i], order[j] = order[j], order[i]
	}
	return order
}

// run back-propagates g from root. With want nil, leaf gradients accumulate
// into Grad; otherwise the gradients of the Vars in want are returned instead.
//
// The pass recycles memory (see tensor.Empty). A gradient that an op's
// backward made from the pool is given back once the Var it belongs to has
// been processed, unless something still holds it: another entry of the
// pass (an op may hand one tensor to several inputs), a leaf's Grad or a
// result (which take it over rather than copy it), or a view that an op
// returned. A second gradient for the same Var is added in place into the
// first when the pass owns that one alone. When the pass is over, the
// buffers of the values marked Transient are given back too, unless they
// share memory with a value that is not transient.
func run[T tensor.Float](root *Var[T], g *tensor.Dense[T], want map[*Var[T]]bool) map[*Var[T]]*tensor.Dense[T] {
	if root.freed {
		panic(fastgo.Errorf("autograd.Backward: the graph was already freed by an earlier backward pass"))
	}
	if !tensor.SameShape(g.Shape(), root.data.Shape()) {
		panic(fastgo.Errorf("autograd.Backward: gradient of shape %v for output of shape %v", g.Shape(), root.data.Shape()))
	}
	if !root.requiresGrad {
		panic(fastgo.Errorf("autograd.Backward: the output does not require a gradient (no input requires one, or it was made under NoGrad)"))
	}
	order := topo(root)
	var captured []*Var[T] // transient constants that ops kept for backward
	e := &engine[T]{
		grads: map[*Var[T]]*tensor.Dense[T]{root: g},
		refs:  map[*tensor.Dense[T]]int{g: 1},
		kept:  map[*tensor.Dense[T]]bool{g: true}, // the caller's
	}
	var result map[*Var[T]]*tensor.Dense[T]
	if want != nil {
		result = make(map[*Var[T]]*tensor.Dense[T], len(want))
	}
	// order lists each Var after all Vars that consume it.
	for _, v := range order {
		gv := e.take(v)
		if gv == nil {
			continue
		}
		if want != nil && want[v] {
			result[v] = gv
			e.kept[gv] = true
		}
		if v.fn == nil {
			if want == nil && v.requiresGrad {
				switch {
				case v.grad != nil:
					accumulate(v.grad, gv)
				case e.free(gv):
					v.grad = gv // take it over
					e.kept[gv] = true
				default:
					v.grad = gv.Clone()
				}
			}
			e.recycle(gv, nil)
			continue
		}
		ins := v.fn.inputs
		for _, in := range ins {
			if in.transient && !in.requiresGrad {
				captured = append(captured, in)
			}
		}
		gins := v.fn.backward(gv)
		if len(gins) != len(ins) {
			panic(fastgo.Errorf("autograd: backward of %s returned %d gradients for %d inputs", v.fn.op, len(gins), len(ins)))
		}
		for i, in := range ins {
			gi := gins[i]
			if gi == nil || !in.requiresGrad {
				continue
			}
			if !tensor.SameShape(gi.Shape(), in.data.Shape()) {
				panic(fastgo.Errorf("autograd: backward of %s gave gradient of shape %v for input %d of shape %v", v.fn.op, gi.Shape(), i, in.data.Shape()))
			}
			e.add(in, gi)
		}
		e.recycleSummed(gv, gins)
		e.recycle(gv, gins)
		v.fn = nil
		v.freed = true
	}
	releaseTransients(order, captured)
	return result
}

// engine is the bookkeeping of one backward pass: the pending gradient of
// each Var, how many pending entries hold each gradient tensor, and the
// tensors that outlive the pass (the seed, leaf gradients, results).
type engine[T tensor.Float] struct {
	grads   map[*Var[T]]*tensor.Dense[T]
	refs    map[*tensor.Dense[T]]int
	kept    map[*tensor.Dense[T]]bool
	pending []*tensor.Dense[T] // summed into a new tensor, not yet given back
}

// take removes and returns v's pending gradient.
func (e *engine[T]) take(v *Var[T]) *tensor.Dense[T] {
	gv := e.grads[v]
	if gv == nil {
		return nil
	}
	delete(e.grads, v)
	e.refs[gv]--
	return gv
}

// free reports whether the pass alone owns t: a pool tensor that no
// pending entry holds and that does not outlive the pass.
func (e *engine[T]) free(t *tensor.Dense[T]) bool {
	return t.Pooled() && e.refs[t] == 0 && !e.kept[t]
}

// add records gi as (part of) in's gradient.
func (e *engine[T]) add(in *Var[T], gi *tensor.Dense[T]) {
	prev := e.grads[in]
	if prev == nil {
		e.grads[in] = gi
		e.refs[gi]++
		return
	}
	if prev.Pooled() && e.refs[prev] == 1 && !e.kept[prev] && !tensor.SharesMemory(prev, gi) {
		accumulate(prev, gi) // prev is ours alone
		return
	}
	sum := tensor.Empty[T](prev.Shape()...)
	addInto(sum, prev, gi)
	e.refs[prev]--
	e.grads[in] = sum
	e.refs[sum] = 1
	// prev may also be among the gradients its consumer is still handing
	// out; recycleSummed decides once they all have been added.
	e.pending = append(e.pending, prev)
}

// recycleSummed gives back the gradients of a node's backward (gins) and
// the earlier gradients they were summed with (pending) that no entry holds
// any more, once every input has received its gradient: the node may hand
// one tensor to several inputs, so none can go before all are added. A
// tensor that shares memory with another that is still held stays.
func (e *engine[T]) recycleSummed(gv *tensor.Dense[T], gins []*tensor.Dense[T]) {
	cands := append(e.pending, gins...)
	e.pending = e.pending[:0]
	for i, t := range cands {
		if t == nil || t == gv || !e.free(t) {
			continue
		}
		shared := false
		for j, o := range cands {
			if j != i && o != nil && o != t && tensor.SharesMemory(o, t) && !e.dead(o) {
				shared = true
				break
			}
		}
		if !shared {
			delete(e.refs, t)
			t.Release()
		}
	}
}

// dead reports whether no entry of the pass holds t and it does not
// outlive the pass.
func (e *engine[T]) dead(t *tensor.Dense[T]) bool { return e.refs[t] == 0 && !e.kept[t] }

// recycle gives t back to the pool if the pass alone owns it and none of
// outs (the gradients its consumer returned) is t or a view of it. When one
// is a full view of t (a reshape), that view takes the buffer over, to be
// recycled in its turn.
func (e *engine[T]) recycle(t *tensor.Dense[T], outs []*tensor.Dense[T]) {
	if !e.free(t) {
		return
	}
	for _, o := range outs {
		if o == t {
			return
		}
		if tensor.SharesMemory(o, t) {
			if !e.kept[o] {
				t.GiveBuffer(o)
			}
			return
		}
	}
	delete(e.refs, t)
	t.Release()
}

// releaseTransients recycles the buffers of the transient Vars of a graph
// that has been back-propagated (order), and of the transient constants its
// ops kept for backward (captured), except those that share memory with a
// Var of the graph that is not transient (a caller may hold that one).
func releaseTransients[T tensor.Float](order, captured []*Var[T]) {
	var keep []*tensor.Dense[T]
	for _, v := range order {
		if !v.transient {
			keep = append(keep, v.data)
		}
	}
	for _, v := range append(order, captured...) {
		if !v.transient || !v.data.Pooled() {
			continue
		}
		shared := false
		for _, k := range keep {
			if tensor.SharesMemory(k, v.data) {
				shared = true
				break
			}
		}
		if !shared {
			v.data.Release()
		}
	}
}

// addInto computes dst = a + b element-wise.
func addInto[T tensor.Float](dst, a, b *tensor.Dense[T]) {
	d, x, y := dst.Data(), a.Data(), b.Data()
	if d32, ok := any(d).([]float32); ok {
		kernels.Add(d32, any(x).([]float32), any(y).([]float32))
		return
	}
	for i := range d {
		d[i] = x[i] + y[i]
	}
}

// accumulate adds src into dst element-wise.
func accumulate[T tensor.Float](dst, src *tensor.Dense[T]) {
	d, s := dst.Data(), src.Data()
	if d32, ok := any(d).([]float32); ok {
		kernels.Axpy(1, any(s).([]float32), d32)
		return
	}
	for i := range d {
		d[i] += s[i]
	}
}

// topo returns the Vars reachable from root through recorded ops, each after
// every Var that uses it (reverse post-order), iteratively so that deep graphs
// do not grow the goroutine stack.
func topo[T tensor.Float](root *Var[T]) []*Var[T] {
	type frame struct {
		v    *Var[T]
		next int
	}
	visited := map[*Var[T]]bool{root: true}
	var post []*Var[T]
	stack := []frame{{v: root}}
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if top.v.fn != nil && top.next < len(top.v.fn.inputs) {
			in := top.v.fn.inputs[top.next]
			top.next++
			if in.requiresGrad && !visited[in] {
				visited[in] = true
				stack = append(stack, frame{v: in})
			}
			continue
		}
		post = append(post, top.v)
		stack = stack[:len(stack)-1]
	}
	for i, j := 0, len(post)-1; i < j; i, j = i+1, j-1 {
		post[i], post[j] = post[j], post[i]
	}
	return post
}
