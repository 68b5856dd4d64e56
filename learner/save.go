package learner

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/data"
	"github.com/fastgo-ml/fastgo/internal/atomicfile"

	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/optim"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/tensor/safetensors"
)

// Checkpoint metadata keys (safetensors __metadata__).
const (
	metaEpoch     = "fastgo.epoch"
	metaDataEpoch = "fastgo.data_epoch"
	metaArch      = "fastgo.arch"
	metaArchCfg   = "fastgo.arch_config"
	metaClasses   = "fastgo.classes"
	metaTfms      = "fastgo.transforms"
	metaFormat    = "fastgo.format"
)

// saveAtomically writes a file so that a failed or killed write leaves the
// previous file at path intact: write fills a temporary file in path's
// directory, which is synced, closed and renamed over path, and the
// directory is synced. An existing file's permissions are kept (0644 for a
// new one). On error the temporary file is removed.
func saveAtomically(path string, write func(w io.Writer) error) error {
	if err := atomicfile.Write(path, write); err != nil {
		return fmt.Errorf("learner: saving %s: %w", path, err)
	}
	return nil
}

// stateEntries turns a state dict into safetensors entries.
func stateEntries(sd *layers.StateDict) (map[string]*tensor.Tensor, map[string]safetensors.Int64Tensor) {
	ints := map[string]safetensors.Int64Tensor{}
	for n, v := range sd.Ints {
		ints[n] = safetensors.Int64Tensor{Data: []int64{v}}
	}
	return sd.Tensors, ints
}

// readState reads the model entries (all but the optimizer's) of a file.
func readState(f *safetensors.File) (*layers.StateDict, error) {
	sd := &layers.StateDict{Tensors: map[string]*tensor.Tensor{}, Ints: map[string]int64{}}
	for _, n := range f.Names() {
		if strings.HasPrefix(n, "state.") {
			continue
		}
		info, _ := f.Info(n)
		if info.Dtype == safetensors.I64 {
			v, err := f.Int64(n)
			if err != nil {
				return nil, err
			}
			if len(v.Data) != 1 {
				return nil, fmt.Errorf("integer buffer %s has %d values, want 1", n, len(v.Data))
			}
			sd.Ints[n] = v.Data[0]
		} else {
			t, err := f.Tensor(n)
			if err != nil {
				return nil, err
			}
			sd.Tensors[n] = t
		}
		sd.Names = append(sd.Names, n)
	}
	return sd, nil
}

// Save writes the model's state dict (PyTorch names), and with withOpt the
// optimizer's state, the epoch reached and the data epoch, to a safetensors
// file at path, atomically. A file saved without the optimizer is a plain
// weights file that PyTorch's load_state_dict accepts.
func (l *Learner) Save(path string, opts ...Option) error {
	withOpt := !resolve("Save", inSave, opts).withoutOpt
	tensors, ints := stateEntries(layers.GetStateDict(l.Model))
	meta := map[string]string{metaFormat: formatCheckpoint}
	if withOpt && l.Opt != nil {
		ot, oi, om := l.Opt.StateDict().Encode()
		for k, v := range ot {
			tensors[k] = v
		}
		for k, v := range oi {
			ints[k] = v
		}
		for k, v := range om {
			meta[k] = v
		}
		meta[metaEpoch] = strconv.Itoa(l.Epoch)
		meta[metaDataEpoch] = strconv.Itoa(l.DataEpoch)
	}
	meta = sealed(tensors, ints, meta)
	return saveAtomically(path, func(w io.Writer) error {
		return safetensors.Write(w, tensors, safetensors.Ints(ints), safetensors.Metadata(meta))
	})
}

// Load reads a file written by Save (or any safetensors state dict with the
// model's PyTorch names) into the model, strictly; with withOpt, and when the
// file has it, the optimizer's state and the epoch too. On error the model
// and optimizer are unchanged.
func (l *Learner) Load(path string, opts ...Option) error {
	withOpt := !resolve("Load", inSave, opts).withoutOpt
	f, err := safetensors.Load(path)
	if err != nil {
		return err
	}
	sd, err := readChecked(path, f)
	if err != nil {
		return err
	}
	meta := f.Metadata()
	epoch, err := metaCount(path, meta, metaEpoch)
	if err != nil {
		return err
	}
	dataEpoch, err := metaCount(path, meta, metaDataEpoch)
	if err != nil {
		return err
	}
	var st *optim.State
	if withOpt {
		if _, ok := f.Metadata()["optim.kind"]; ok {
			if st, err = optim.DecodeState(f); err != nil {
				return fmt.Errorf("learner: loading %s: %w", path, err)
			}
		}
	}
	before := snapshot(l.Model)
	if _, err := layers.LoadStateDict(l.Model, sd); err != nil {
		return fmt.Errorf("learner: loading %s: %w", path, err)
	}
	if st != nil {
		if l.Opt == nil {
			l.CreateOpt()
		}
		if err := l.Opt.LoadStateDict(st); err != nil {
			restore(l.Model, before)
			return fmt.Errorf("learner: loading %s: %w", path, err)
		}
		if epoch >= 0 {
			l.Epoch = epoch
		}
		if dataEpoch >= 0 {
			l.DataEpoch = dataEpoch
		}
	}
	return nil
}

// maxEpoch bounds the epochs a checkpoint may record.
const maxEpoch = 1 << 30

// metaCount reads an epoch count of a file's metadata: -1 when absent, an
// error naming the file and field when it is not a count in [0, maxEpoch].
func metaCount(path string, meta map[string]string, key string) (int, error) {
	v, ok := meta[key]
	if !ok {
		return -1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > maxEpoch {
		return 0, fmt.Errorf("learner: %s: field %s = %q is not an epoch count in [0, %d]: %w", path, key, v, maxEpoch, fastgo.ErrFormat)
	}
	return n, nil
}

// readChecked checks a file's integrity and returns its model entries,
// every value finite.
func readChecked(path string, f *safetensors.File) (*layers.StateDict, error) {
	if err := checkIntegrity(path, f); err != nil {
		return nil, err
	}
	sd, err := readState(f)
	if err != nil {
		return nil, fmt.Errorf("learner: loading %s: %w", path, err)
	}
	if n, i, bad := sd.NonFinite(); bad {
		return nil, fmt.Errorf("learner: loading %s: weight %s holds %v at element %d: %w", path, n, sd.Tensors[n].Data()[i], i, fastgo.ErrNonFinite)
	}
	return sd, nil
}

// Checkpoint is a Callback that saves the learner with its optimizer state
// after every epoch to Path, atomically, so that an interrupted run resumes
// with Resume.
type Checkpoint struct {
	// Path is the checkpoint file, replaced after every epoch.
	Path string
}

// Order runs the checkpoint after the Recorder.
func (c *Checkpoint) Order() int { return 55 }

// Name names the callback.
func (c *Checkpoint) Name() string { return "Checkpoint" }

// Handle saves after each epoch, with the epoch to resume from (not during
// LRFind).
func (c *Checkpoint) Handle(l *Learner, e Event) error {
	if e != AfterEpoch || l.InLRFind() {
		return nil
	}
	l.Epoch++ // the next epoch to run
	err := l.Save(c.Path)
	l.Epoch--
	return err
}

// Resume loads a checkpoint that Checkpoint wrote and returns the epoch to
// pass to StartEpoch, so that the same fit call continues where the run
// stopped (schedules included).
func (l *Learner) Resume(path string) (int, error) {
	if err := l.Load(path); err != nil {
		return 0, err
	}
	return l.Epoch, nil
}

// Transformer is implemented by Data that can describe its validation
// transforms as JSON, for Export.
type Transformer interface {
	TransformSpec() (json.RawMessage, error)
}

// Export writes everything needed for inference to one safetensors file:
// the model's architecture (the model must describe itself, see
// layers.Described: the model zoo's do), the weights, the class names and,
// when the Data describes them, the validation transforms (fastai's export).
// LoadLearner reads it without the training code.
func (l *Learner) Export(path string) error {
	arch, err := layers.ArchOf(l.Model)
	if err != nil {
		return fmt.Errorf("learner.Export: %w", err)
	}
	tensors, ints := stateEntries(layers.GetStateDict(l.Model))
	classes, err := json.Marshal(l.Data.Classes())
	if err != nil {
		return err
	}
	// Nothing is written that LoadLearner would refuse.
	if _, err := decodeClasses(path, string(classes)); err != nil {
		return fmt.Errorf("learner.Export: the learner's classes cannot be exported: %w", err)
	}
	if n, i, bad := layers.GetStateDict(l.Model).NonFinite(); bad {
		return fmt.Errorf("learner.Export: weight %s holds %v at element %d: %w", n, tensors[n].Data()[i], i, fastgo.ErrNonFinite)
	}
	meta := map[string]string{metaFormat: formatExport, metaArch: arch.Name, metaArchCfg: string(arch.Config), metaClasses: string(classes)}
	if t, ok := data.As[Transformer](l.Data); ok {
		spec, err := t.TransformSpec()
		if err != nil {
			return fmt.Errorf("learner.Export: %w", err)
		}
		meta[metaTfms] = string(spec)
	}
	meta = sealed(tensors, ints, meta)
	return saveAtomically(path, func(w io.Writer) error {
		return safetensors.Write(w, tensors, safetensors.Ints(ints), safetensors.Metadata(meta))
	})
}

// Exported is what LoadLearner returns besides the Learner: the transforms
// recorded at export, for the caller's data pipeline.
type Exported struct {
	// Arch is the recorded architecture.
	Arch layers.Arch
	// Classes are the class names.
	Classes []string
	// Transforms is the data's TransformSpec, or nil.
	Transforms json.RawMessage
}

// exportData is the Data of a loaded learner: class names, no loaders.
type exportData struct{ classes []string }

func (d exportData) TrainLoader() data.Loader {
	return &data.SliceLoader{X: tensor.Zeros(0, 1), BatchSize: 1}
}
func (d exportData) ValidLoader() data.Loader {
	return &data.SliceLoader{X: tensor.Zeros(0, 1), BatchSize: 1}
}
func (d exportData) Classes() []string { return d.classes }

// LoadLearner reads a file written by Export and returns a Learner ready for
// Predict (in eval mode; its Data holds only the class names), with the
// recorded architecture and transforms.
func LoadLearner(path string, opts ...Option) (*Learner, *Exported, error) {
	f, err := safetensors.Load(path)
	if err != nil {
		return nil, nil, err
	}
	meta := f.Metadata()
	if meta[metaFormat] != formatExport && meta[metaFormat] != formatExportV1 {
		return nil, nil, fmt.Errorf("learner.LoadLearner: %s is not a fastgo export (format %q)", path, meta[metaFormat])
	}
	ex := &Exported{Arch: layers.Arch{Name: meta[metaArch], Config: json.RawMessage(meta[metaArchCfg])}}
	if ex.Classes, err = decodeClasses(path, meta[metaClasses]); err != nil {
		return nil, nil, err
	}
	if t := meta[metaTfms]; t != "" {
		ex.Transforms = json.RawMessage(t)
	}
	m, err := layers.BuildArch(ex.Arch)
	if err != nil {
		return nil, nil, fmt.Errorf("learner.LoadLearner: %s: %w", path, err)
	}
	sd, err := readChecked(path, f)
	if err != nil {
		return nil, nil, err
	}
	if _, err := layers.LoadStateDict(m, sd); err != nil {
		return nil, nil, fmt.Errorf("learner.LoadLearner: %s: %w", path, err)
	}
	layers.Eval(m)
	return New(exportData{ex.Classes}, m, opts...), ex, nil
}

// Bounds of an export's class list: the model zoo's outputs are bounded
// the same way.
const (
	maxClasses   = 1 << 16
	maxClassName = 1 << 10
)

// decodeClasses reads an export's class list: a JSON array of 2 to
// maxClasses distinct, non-empty names of at most maxClassName bytes.
func decodeClasses(path, raw string) ([]string, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("learner.LoadLearner: %s: field %s: %s: %w", path, metaClasses, fmt.Sprintf(format, args...), fastgo.ErrFormat)
	}
	if len(raw) > maxClasses*(maxClassName+3) {
		return nil, bad("%d bytes", len(raw))
	}
	var classes []string
	if err := json.Unmarshal([]byte(raw), &classes); err != nil {
		return nil, bad("%v", err)
	}
	if len(classes) < 2 || len(classes) > maxClasses {
		return nil, bad("%d classes, want 2 to %d", len(classes), maxClasses)
	}
	seen := make(map[string]bool, len(classes))
	for i, c := range classes {
		if c == "" || len(c) > maxClassName || seen[c] {
			return nil, bad("class %d (%.40q) is empty, longer than %d bytes or repeated", i, c, maxClassName)
		}
		seen[c] = true
	}
	return classes, nil
}
