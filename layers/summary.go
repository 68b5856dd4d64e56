package layers

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Summary runs one forward pass of a zero batch of the given input shape
// (batch dimension included) through m, in eval mode and without a graph, and
// returns a table of every leaf module's output shape and parameter count,
// with the totals, as fastai's learn.summary() prints. m's mode is restored.
func Summary(m Module, inputShape ...int) string {
	type row struct {
		name, kind string
		shape      []int
		params     int
		trainable  bool
	}
	var rows []row
	mods := Modules(m)
	leaf := map[Module]string{}
	for _, nm := range mods {
		if len(nm.Module.Core().children) == 0 {
			leaf[nm.Module] = nm.Name
		}
	}
	training := m.Core().Training()
	for _, nm := range mods {
		nm.Module.Core().hook = func(mod Module, _, out *autograd.Value) {
			name, ok := leaf[mod]
			if !ok {
				return
			}
			r := row{name: name, kind: reflect.TypeOf(mod).Elem().Name(), shape: append([]int(nil), out.Shape()...)}
			for _, p := range mod.Core().params {
				r.params += p.p.Data().Len()
				r.trainable = r.trainable || p.p.RequiresGrad()
			}
			rows = append(rows, r)
		}
	}
	Eval(m)
	defer func() {
		for _, nm := range mods {
			nm.Module.Core().hook = nil
		}
		SetTraining(m, training)
	}()
	var out *autograd.Value
	autograd.NoGrad(func() { out = Call(m, autograd.Const(tensor.Zeros(inputShape...))) })

	var b strings.Builder
	fmt.Fprintf(&b, "%s (Input shape: %v)\n", reflect.TypeOf(m).Elem().Name(), inputShape)
	line := strings.Repeat("=", 78)
	fmt.Fprintln(&b, line)
	fmt.Fprintf(&b, "%-32s %-22s %12s %9s\n", "Layer (type)", "Output Shape", "Param #", "Trainable")
	fmt.Fprintln(&b, line)
	total, trainable := 0, 0
	for _, r := range rows {
		tr := ""
		if r.params > 0 {
			tr = fmt.Sprint(r.trainable)
		}
		label := r.kind
		if r.name != "" {
			label = fmt.Sprintf("%s (%s)", r.name, r.kind)
		}
		fmt.Fprintln(&b, strings.TrimRight(fmt.Sprintf("%-32s %-22s %12d %9s", label, fmt.Sprint(r.shape), r.params, tr), " "))
	}
	for _, p := range Parameters(m) {
		total += p.Data().Len()
		if p.RequiresGrad() {
			trainable += p.Data().Len()
		}
	}
	fmt.Fprintln(&b, line)
	fmt.Fprintf(&b, "Output shape: %v\nTotal params: %d\nTrainable params: %d\nNon-trainable params: %d\n",
		out.Shape(), total, trainable, total-trainable)
	return b.String()
}
