package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/fastgo-ml/fastgo/tensor/pth"
	"github.com/fastgo-ml/fastgo/tensor/safetensors"
)

func init() {
	register(&command{
		name:  "convert",
		short: "convert a state dict between torch.save's .pth and safetensors, byte for byte",
		run:   runConvert,
	})
}

// stateFile is a state dict read for conversion: its tensors in order, in
// their own dtypes.
type stateFile struct {
	format  string // "torch.save" or "safetensors"
	entries []safetensors.Entry
	meta    map[string]string // safetensors' __metadata__
	skipped []string          // a checkpoint's entries that are not tensors
}

func runConvert(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("convert", stderr)
	setUsage(fs, "fastgo convert IN OUT", `
Converts a state dict (a model's weights with PyTorch names) between
torch.save's format (.pth, .pt: what torch.save(model.state_dict(), path)
writes, torchvision's weights among them) and safetensors, in either
direction; the format of IN is told from its first bytes, that of OUT from
its extension (.pth or .pt: torch.save's zip format; .safetensors).

Every tensor keeps its name, dtype, shape and bytes: a round trip gives back
the same tensors bit for bit, in every dtype both formats have (F32, F16,
BF16, F64, I64, I32, I16, I8, U8, BOOL). A .pth checkpoint's nested dicts
({"model": state_dict, ...}) become dotted names and its other entries
(numbers, strings) are left out, with a note; safetensors' metadata, which
.pth files cannot hold, is dropped with a note, and a .pth file's tensors
get safetensors' {"format": "pt"}. Nothing runs from the .pth file: it is
read by fastgo's restricted unpickler. OUT is written atomically.

Examples:
  fastgo convert resnet18-f37072fd.pth resnet18.safetensors
  fastgo convert model.safetensors model.pth`)
	out := fs.Output()
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(out)
	if errors.Is(err, flag.ErrHelp) {
		fs.Usage()
		return err
	}
	if err != nil {
		return usagef("%v", err)
	}
	if fs.NArg() != 2 {
		return usagef("want IN and OUT, got %d arguments (fastgo convert IN OUT)", fs.NArg())
	}
	in, dst := fs.Arg(0), fs.Arg(1)
	toPth, err := outputFormat(dst)
	if err != nil {
		return err
	}
	if err := checkReadable(in); err != nil {
		return err
	}
	sf, err := readState(in)
	if err != nil {
		return err
	}
	if toPth {
		if err := savePth(dst, sf, stdout); err != nil {
			return err
		}
	} else {
		meta := sf.meta
		if sf.format == "torch.save" {
			meta = map[string]string{"format": "pt"}
		}
		if err := safetensors.SaveEntries(dst, sf.entries, safetensors.Metadata(meta)); err != nil {
			return err
		}
	}
	if len(sf.skipped) > 0 {
		fmt.Fprintf(stdout, "left out %d entries that are not tensors: %s\n", len(sf.skipped), strings.Join(sf.skipped, ", "))
	}
	fmt.Fprintf(stdout, "%s (%s) -> %s: %d tensors (%s)\n", in, sf.format, dst, len(sf.entries), dtypeCounts(sf.entries))
	return nil
}

// outputFormat tells from OUT's extension whether to write .pth.
func outputFormat(path string) (toPth bool, err error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".pth", ".pt":
		return true, nil
	case ".safetensors":
		return false, nil
	}
	return false, usagef("%s: OUT must end in .pth, .pt or .safetensors", path)
}

// readState reads every tensor of the state dict at path, in its own
// dtype: a torch.save file (told by its first bytes) or a safetensors one.
func readState(path string) (*stateFile, error) {
	head := make([]byte, 64)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	n, _ := io.ReadFull(f, head)
	f.Close()
	if pth.IsTorchSave(head[:n]) {
		pf, err := pth.Load(path)
		if err != nil {
			return nil, err
		}
		sf := &stateFile{format: "torch.save", skipped: pf.Skipped()}
		sf.entries, err = entriesOf(pf)
		return sf, err
	}
	st, err := safetensors.Load(path)
	if err != nil {
		return nil, err
	}
	sf := &stateFile{format: "safetensors", meta: st.Metadata()}
	sf.entries, err = entriesOf(st)
	return sf, err
}

// entriesOf reads every tensor of a file of either format, in its order.
func entriesOf(f interface {
	Names() []string
	Entry(name string) (safetensors.Entry, error)
}) ([]safetensors.Entry, error) {
	var entries []safetensors.Entry
	for _, name := range f.Names() {
		e, err := f.Entry(name)
		if err != nil {
			return nil, err
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// savePth writes sf's tensors as torch.save does, refusing dtypes that
// PyTorch's storages cannot hold by name.
func savePth(path string, sf *stateFile, stdout io.Writer) error {
	for _, e := range sf.entries {
		switch e.Dtype {
		case safetensors.U16, safetensors.U32, safetensors.U64, safetensors.F8E4M3, safetensors.F8E5M2:
			return fmt.Errorf("%s: tensor %q is %s, which a .pth state dict cannot hold (fastgo writes F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL)", path, e.Name, e.Dtype)
		}
	}
	if err := pth.Save(path, sf.entries); err != nil {
		return err
	}
	if extra := droppedMeta(sf.meta); len(extra) > 0 {
		fmt.Fprintf(stdout, "dropped the safetensors metadata, which a .pth file cannot hold: %s\n", strings.Join(extra, ", "))
	}
	return nil
}

// droppedMeta lists the metadata keys worth a note when dropped (all but
// safetensors.torch's {"format": "pt"}).
func droppedMeta(meta map[string]string) []string {
	var keys []string
	for k, v := range meta {
		if k != "format" || v != "pt" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// dtypeCounts summarises the dtypes of entries ("F32 62, I64 20").
func dtypeCounts(entries []safetensors.Entry) string {
	count := map[safetensors.Dtype]int{}
	for _, e := range entries {
		count[e.Dtype]++
	}
	var parts []string
	for d, n := range count {
		parts = append(parts, fmt.Sprintf("%s %d", d, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
