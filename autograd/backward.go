package autograd

import (
	"fmt"

	"github.com/fastgo-ml/fastgo/tensor"
)

// Backward computes the gradient of v with respect to every leaf that requires
// one, and adds it to that leaf's Grad (gradients accumulate, as in PyTorch,
// until ZeroGrad). v must hold a single element; use BackwardWith for others.
// The graph is freed afterwards: a second Backward through it panics.
func (v *Var[T]) Backward() {
	if v.data.Len() != 1 {
		panic(fmt.Sprintf("autograd.Backward: output of shape %v is not a scalar; use BackwardWith", v.data.Shape()))
	}
	v.BackwardWith(tensor.Full[T](1, v.data.Shape()...))
}

// BackwardWith is Backward with an explicit output gradient g, of v's shape.
func (v *Var[T]) BackwardWith(g *tensor.Dense[T]) {
	run(v, g, nil)
}

// Grads returns the gradients of v (a scalar, or seeded with g when g is not
// nil) with respect to each of wrt, without touching any leaf's Grad, as
// torch.autograd.grad does. A Var of wrt that does not require a gradient, or
// that v does not depend on, gets a zero gradient. The graph is freed.
func Grads[T tensor.Float](v *Var[T], g *tensor.Dense[T], wrt ...*Var[T]) []*tensor.Dense[T] {
	if g == nil {
		if v.data.Len() != 1 {
			panic(fmt.Sprintf("autograd.Grads: output of shape %v is not a scalar and no gradient was given", v.data.Shape()))
		}
		g = tensor.Full[T](1, v.data.Shape()...)
	}
	want := make(map[*Var[T]]bool, len(wrt))
	for _, w := range wrt {
		want[w] = true
	}
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

// run back-propagates g from root. With want nil, leaf gradients accumulate
// into Grad; otherwise the gradients of the Vars in want are returned instead.
func run[T tensor.Float](root *Var[T], g *tensor.Dense[T], want map[*Var[T]]bool) map[*Var[T]]*tensor.Dense[T] {
	if root.freed {
		panic("autograd.Backward: the graph was already freed by an earlier backward pass")
	}
	if !tensor.SameShape(g.Shape(), root.data.Shape()) {
		panic(fmt.Sprintf("autograd.Backward: gradient of shape %v for output of shape %v", g.Shape(), root.data.Shape()))
	}
	if !root.requiresGrad {
		panic("autograd.Backward: the output does not require a gradient (no input requires one, or it was made under NoGrad)")
	}
	order := topo(root)
	grads := map[*Var[T]]*tensor.Dense[T]{root: g}
	owned := map[*Var[T]]bool{}
	var result map[*Var[T]]*tensor.Dense[T]
	if want != nil {
		result = make(map[*Var[T]]*tensor.Dense[T], len(want))
	}
	// order lists each Var after all Vars that consume it.
	for _, v := range order {
		gv := grads[v]
		delete(grads, v)
		if gv == nil {
			continue
		}
		if want != nil && want[v] {
			result[v] = gv
		}
		if v.fn == nil {
			if want == nil && v.requiresGrad {
				if v.grad == nil {
					v.grad = gv.Clone()
				} else {
					accumulate(v.grad, gv)
				}
			}
			continue
		}
		ins := v.fn.inputs
		gins := v.fn.backward(gv)
		if len(gins) != len(ins) {
			panic(fmt.Sprintf("autograd: backward of %s returned %d gradients for %d inputs", v.fn.op, len(gins), len(ins)))
		}
		for i, in := range ins {
			gi := gins[i]
			if gi == nil || !in.requiresGrad {
				continue
			}
			if !tensor.SameShape(gi.Shape(), in.data.Shape()) {
				panic(fmt.Sprintf("autograd: backward of %s gave gradient of shape %v for input %d of shape %v", v.fn.op, gi.Shape(), i, in.data.Shape()))
			}
			if prev := grads[in]; prev != nil {
				// A backward function may pass its output gradient through
				// (or a view of it), so a gradient is summed into a tensor
				// of the engine's own, never into one it was given.
				if !owned[in] {
					prev = prev.Clone()
					grads[in] = prev
					owned[in] = true
				}
				accumulate(prev, gi)
			} else {
				grads[in] = gi
			}
		}
		v.fn = nil
		v.freed = true
	}
	return result
}

// accumulate adds src into dst element-wise.
func accumulate[T tensor.Float](dst, src *tensor.Dense[T]) {
	d, s := dst.Data(), src.Data()
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
