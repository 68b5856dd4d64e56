package layers

import (
	"encoding/json"
	"fmt"
	"sort"
	"sync"

	"github.com/fastgo-ml/fastgo"
)

// Arch names a registered architecture and holds the configuration its
// builder takes: what an export records so that the model can be rebuilt
// without the code that made it.
type Arch struct {
	// Name is the name the architecture is registered under.
	Name string
	// Config is the JSON its builder takes.
	Config json.RawMessage
}

// Described is implemented by models that can say how to rebuild
// themselves: an architecture registered with RegisterArch and its
// configuration. The model zoo's models implement it; learner.Export
// needs it.
type Described interface {
	Module
	// Arch returns the model's registered architecture and configuration.
	Arch() (Arch, error)
}

// ArchBuilder builds a model from its architecture's configuration. The
// configuration comes from a file, which may be hostile: a builder checks
// it (sizes within bounds, counts that agree) before it allocates anything,
// and returns an error, never panics, on a bad one.
type ArchBuilder func(config json.RawMessage) (Module, error)

var (
	archMu sync.RWMutex
	archs  = map[string]ArchBuilder{}
)

// RegisterArch makes an architecture buildable by BuildArch under name (and
// so loadable by learner.LoadLearner). The model zoo registers its
// architectures when its package is imported; register your own models the
// same way. Registering a name twice panics.
func RegisterArch(name string, b ArchBuilder) {
	archMu.Lock()
	defer archMu.Unlock()
	if _, dup := archs[name]; dup {
		panic(fastgo.Errorf("layers.RegisterArch: %q is registered twice", name))
	}
	archs[name] = b
}

// Archs returns the registered architectures' names, sorted.
func Archs() []string {
	archMu.RLock()
	defer archMu.RUnlock()
	out := make([]string, 0, len(archs))
	for n := range archs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// BuildArch builds a model of a registered architecture from its
// configuration.
func BuildArch(a Arch) (Module, error) {
	archMu.RLock()
	build, ok := archs[a.Name]
	archMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("layers: architecture %q is not registered (have %v; import the package that defines it)", a.Name, Archs())
	}
	m, err := build(a.Config)
	if err != nil {
		return nil, fmt.Errorf("layers: building %q: %w", a.Name, err)
	}
	return m, nil
}

// ArchOf returns the architecture of a model that describes itself
// (Described), and an error for any other model.
func ArchOf(m Module) (Arch, error) {
	d, ok := m.(Described)
	if !ok {
		return Arch{}, fmt.Errorf("layers: a %T does not describe its architecture (it has no Arch method); build it with a registered architecture", m)
	}
	return d.Arch()
}
