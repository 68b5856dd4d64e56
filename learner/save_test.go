package learner

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fastgo-ml/fastgo/data"
	"github.com/fastgo-ml/fastgo/internal/atomicfile"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
)

func init() {
	layers.RegisterArch("test.mlp", func(cfg json.RawMessage) (layers.Module, error) {
		var c struct{ Seed uint64 }
		if err := json.Unmarshal(cfg, &c); err != nil {
			return nil, err
		}
		return &describedMLP{newMLP(c.Seed), layers.Arch{Name: "test.mlp", Config: cfg}}, nil
	})
}

// describedMLP is an mlp that describes its architecture, for Export.
type describedMLP struct {
	*mlp
	arch layers.Arch
}

func (m *describedMLP) Arch() (layers.Arch, error) { return m.arch, nil }

// tfmData is blob data that describes its transforms, for Export.
type tfmData struct{ *data.SliceData }

func (tfmData) TransformSpec() (json.RawMessage, error) {
	return json.RawMessage(`{"normalize":"none"}`), nil
}

func TestExportLoadLearner(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "export.safetensors")
	if err := New(tfmData{blobData(64, 30, 8)}, newMLP(1)).Export(path); err == nil || !strings.Contains(err.Error(), "does not describe its architecture") {
		t.Fatalf("Export of a model that does not describe itself: %v", err)
	}
	model := &describedMLP{newMLP(1), layers.Arch{Name: "test.mlp", Config: json.RawMessage(`{"Seed":1}`)}}
	l := New(tfmData{blobData(64, 30, 8)}, model)
	if err := l.FitOneCycle(ctx, 2, LR(0.05)); err != nil {
		t.Fatal(err)
	}
	if err := l.Export(path); err != nil {
		t.Fatal(err)
	}
	// The loaded learner rebuilds the model from the registry (here with
	// other initial weights than the trained ones, seed 1 before training)
	// and loads the trained weights: the predictions are the same.
	got, ex, err := LoadLearner(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ex.Classes, []string{"a", "b", "c"}) || string(ex.Transforms) != `{"normalize":"none"}` || ex.Arch.Name != "test.mlp" {
		t.Fatalf("exported %+v", ex)
	}
	if got.Model.Core().Training() {
		t.Fatal("LoadLearner's model is in training mode")
	}
	want, _ := l.GetPreds(ctx)
	for i := 0; i < 30; i++ {
		x := l.Data.ValidLoader().(*data.SliceLoader).X.Narrow0(i, 1)
		p, err := got.Predict(x)
		if err != nil {
			t.Fatal(err)
		}
		if p.Index != want.Decoded[i] || p.Class != []string{"a", "b", "c"}[p.Index] {
			t.Fatalf("item %d: loaded learner predicts %+v, the original %d", i, p, want.Decoded[i])
		}
		for k, v := range p.Probs {
			if v != want.Probs.Data()[i*3+k] {
				t.Fatalf("item %d: probabilities differ: %v vs %v", i, p.Probs, want.Probs.Data()[i*3:i*3+3])
			}
		}
	}
	for _, tc := range []struct {
		name, contents, want string
	}{
		{"missing.safetensors", "", "missing.safetensors"},
		{"garbage.safetensors", "garbage", "garbage.safetensors"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			if tc.contents != "" {
				os.WriteFile(p, []byte(tc.contents), 0o644)
			}
			if _, _, err := LoadLearner(p); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("LoadLearner(%s): %v", tc.name, err)
			}
		})
	}
	t.Run("checkpoint is not an export", func(t *testing.T) {
		p := filepath.Join(dir, "ckpt.safetensors")
		if err := l.Save(p); err != nil {
			t.Fatal(err)
		}
		if _, _, err := LoadLearner(p); err == nil || !strings.Contains(err.Error(), "not a fastgo export") {
			t.Fatalf("LoadLearner of a checkpoint: %v", err)
		}
	})
	t.Run("unregistered arch", func(t *testing.T) {
		model.arch = layers.Arch{Name: "test.nowhere", Config: json.RawMessage(`{}`)}
		p := filepath.Join(dir, "nowhere.safetensors")
		if err := l.Export(p); err != nil {
			t.Fatal(err)
		}
		if _, _, err := LoadLearner(p); err == nil || !strings.Contains(err.Error(), `"test.nowhere" is not registered`) {
			t.Fatalf("LoadLearner of an unregistered arch: %v", err)
		}
	})
}

// wide is a model with a 360 kB state dict, so that a write takes several
// pieces.
func wide(seed uint64) layers.Module {
	return layers.NewSequential(layers.NewLinear(300, 300, tensor.NewRNG(seed)))
}

// The helper process of TestKilledCheckpointWrite: it saves a checkpoint
// over the file named by FASTGO_KILL_PATH and, half way through writing the
// temporary file, says so and waits to be killed.
func TestHelperKilledWrite(t *testing.T) {
	path := os.Getenv("FASTGO_KILL_PATH")
	if path == "" {
		t.Skip("helper process")
	}
	l := New(blobData(32, 8, 8), wide(2))
	atomicfile.SetWriteHook(func(n int64) error {
		if n > 200<<10 {
			fmt.Println("HALF-WRITTEN")
			os.Stdout.Sync()
			time.Sleep(time.Minute)
		}
		return nil
	})
	l.Save(path)
	t.Fatal("the helper was not killed")
}

func TestKilledCheckpointWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt.safetensors")
	l := New(blobData(32, 8, 8), wide(1))
	if err := l.Save(path); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(path)
	if len(good) < 300<<10 {
		t.Fatalf("the checkpoint is only %d bytes; the helper must be killed half way", len(good))
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperKilledWrite$", "-test.count=1")
	cmd.Env = append(os.Environ(), "FASTGO_KILL_PATH="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	half := false
	for sc.Scan() {
		if sc.Text() == "HALF-WRITTEN" {
			half = true
			break
		}
	}
	if !half {
		cmd.Wait()
		t.Fatal("the helper never reached the middle of its write")
	}
	// The helper has a half-written temporary file: kill it there.
	tmps, _ := filepath.Glob(filepath.Join(dir, ".ckpt.safetensors.tmp*"))
	cmd.Process.Kill()
	cmd.Wait()
	if len(tmps) != 1 {
		t.Fatalf("temporary files while writing: %v", tmps)
	}
	st, err := os.Stat(tmps[0])
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() == 0 || st.Size() >= int64(len(good)) {
		t.Fatalf("the temporary file holds %d of %d bytes when killed: not half written", st.Size(), len(good))
	}
	if now, _ := os.ReadFile(path); !reflect.DeepEqual(now, good) {
		t.Fatal("the killed write changed the previous checkpoint")
	}
	l2 := New(blobData(32, 8, 8), wide(9))
	if err := l2.Load(path); err != nil {
		t.Fatalf("the previous checkpoint does not load after the kill: %v", err)
	}
	a, b := weights(l.Model), weights(l2.Model)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the previous checkpoint lost its weights")
	}
}
