package pth

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// Helpers that assemble pickles by hand, opcode by opcode.

// bu is a BINUNICODE str.
func bu(s string) string { return "X" + le32(len(s)) + s }

// sbu is a SHORT_BINUNICODE str.
func sbu(s string) string { return "\x8c" + string([]byte{byte(len(s))}) + s }

// gl is a GLOBAL.
func gl(module, name string) string { return "c" + module + "\n" + name + "\n" }

// long1 is a LONG1 of 8 bytes.
func long1(v uint64) string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	return "\x8a\x08" + string(b[:])
}

// k is a BININT1.
func k(v byte) string { return "K" + string([]byte{v}) }

// tup is a MARK ... TUPLE of the given opcodes.
func tup(items ...string) string { return "(" + strings.Join(items, "") + "t" }

// odict is collections.OrderedDict().
const odict = "ccollections\nOrderedDict\n)R"

// pid is a zip-format storage persistent ID (BINPERSID included).
func pid(class, key, numel string) string {
	return tup(bu("storage"), gl("torch", class), bu(key), bu("cpu"), numel) + "Q"
}

// rebuild is _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()).
func rebuild(storage, offset, size, stride string) string {
	return gl("torch._utils", "_rebuild_tensor_v2") + tup(storage, offset, size, stride, "\x89", odict) + "R"
}

// state is a protocol-2 pickle of an OrderedDict of the given name and
// value opcodes.
func state(items ...string) string {
	s := "\x80\x02" + odict
	if len(items) > 0 {
		s += "(" + strings.Join(items, "") + "u"
	}
	return s + "."
}

// zipFile is a torch.save zip archive with the given data.pkl and records
// (named within the archive's folder), version 3 unless given.
func zipFile(t testing.TB, pkl string, records map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	all := map[string]string{"data.pkl": pkl, "version": "3\n"}
	for name, data := range records {
		all[name] = data
	}
	for _, name := range []string{"data.pkl", "version"} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: "x/" + name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(all[name]))
		delete(all, name)
	}
	for name, data := range all {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: "x/" + name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(data))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// legacyHead is the magic number, protocol version and system information
// pickles of the legacy format.
const legacyHead = "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19." + "\x80\x02M\xe9\x03." +
	"\x80\x02}(X\x0d\x00\x00\x00little_endian\x88u."

// legacyPid is a legacy storage persistent ID (BINPERSID included).
func legacyPid(class, key, numel string) string {
	return tup(bu("storage"), gl("torch", class), bu(key), bu("cpu"), numel, "N") + "Q"
}

// legacyFile is a legacy-format file: the head, the data pickle, the
// storage key list and the raw storages.
func legacyFile(pkl string, keys []string, raw string) []byte {
	list := "\x80\x02]"
	if len(keys) > 0 {
		list += "("
		for _, key := range keys {
			list += bu(key)
		}
		list += "e"
	}
	return []byte(legacyHead + pkl + list + "." + raw)
}

// le64 is v as 8 little-endian bytes.
func le64(v uint64) string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	return string(b[:])
}

// readBytes reads a whole in-memory file.
func readBytes(b []byte) (*File, error) { return Read(bytes.NewReader(b), int64(len(b))) }

// TestHandMadeFiles checks that the hand-assembled pickles are what the
// refusal tests take them for: a valid file in each format reads.
func TestHandMadeFiles(t *testing.T) {
	pkl := state(bu("w"), rebuild(pid("FloatStorage", "0", k(2)), k(0), tup(k(2)), tup(k(1))))
	f, err := readBytes(zipFile(t, pkl, map[string]string{"data/0": "\x00\x00\x80\x3f\x00\x00\x00\x40"}))
	if err != nil {
		t.Fatal(err)
	}
	if x, err := f.Tensor("w"); err != nil || x.Data()[0] != 1 || x.Data()[1] != 2 {
		t.Fatalf("read %v, %v", x, err)
	}
	pkl = state(bu("w"), rebuild(legacyPid("FloatStorage", "7", k(2)), k(0), tup(k(2)), tup(k(1))))
	f, err = readBytes(legacyFile(pkl, []string{"7"}, le64(2)+"\x00\x00\x80\x3f\x00\x00\x00\x40"))
	if err != nil {
		t.Fatal(err)
	}
	if x, err := f.Tensor("w"); err != nil || x.Data()[0] != 1 || x.Data()[1] != 2 {
		t.Fatalf("read %v, %v", x, err)
	}
}

// refusedGlobals are globals that a hostile pickle might call; none is
// allowed.
var refusedGlobals = [][2]string{
	{"os", "system"}, {"posix", "system"}, {"nt", "system"}, {"os", "popen"},
	{"builtins", "eval"}, {"builtins", "exec"}, {"builtins", "getattr"}, {"builtins", "__import__"},
	{"builtins", "open"}, {"__builtin__", "eval"}, {"__builtin__", "getattr"}, {"__builtin__", "object"},
	{"copy_reg", "_reconstructor"}, {"copyreg", "_reconstructor"}, {"subprocess", "Popen"},
	{"subprocess", "check_output"}, {"torch.storage", "_load_from_bytes"}, {"torch", "load"},
	{"torch.nn.modules.conv", "Conv2d"}, {"numpy.core.multiarray", "_reconstruct"},
	{"collections", "defaultdict"}, {"torch._utils", "_rebuild_device_tensor_from_numpy"},
	{"torch", "FloatTensor"}, {"torch", "ComplexFloatStorage"}, {"torch", "UntypedStorage"},
	{"torch", "_utils"}, {"webbrowser", "open"}, {"torch", "FloatStorage\nos"}, {"", ""},
}

// TestRefusedGlobals checks that a global outside the allowed set is
// refused with an error that names it, however the pickle names it:
// GLOBAL, STACK_GLOBAL of literal strings or of memoized ones, inside a
// state dict, and in each pickle of the legacy format.
func TestRefusedGlobals(t *testing.T) {
	for _, g := range refusedGlobals {
		m, n := g[0], g[1]
		call := bu("echo pwned") + "\x85R"
		forms := map[string][]byte{
			"GLOBAL":              zipFile(t, "\x80\x02"+gl(m, n)+call+".", nil),
			"STACK_GLOBAL":        zipFile(t, "\x80\x04"+bu(m)+bu(n)+"\x93"+call+".", nil),
			"memoized":            zipFile(t, "\x80\x04"+bu(m)+"\x94"+bu(n)+"\x9400h\x00h\x01\x93"+call+".", nil),
			"in a state dict":     zipFile(t, state(bu("w"), gl(m, n)+call), nil),
			"legacy data pickle":  legacyFile(state(bu("w"), gl(m, n)+call), nil, ""),
			"legacy sys_info":     []byte(legacyHead[:strings.Index(legacyHead, "\x80\x02}")] + "\x80\x02" + gl(m, n) + call + "."),
			"legacy storage keys": []byte(legacyHead + state() + "\x80\x02" + gl(m, n) + call + "."),
		}
		if strings.Contains(m+n, "\n") {
			delete(forms, "GLOBAL") // a newline ends the name in GLOBAL's text form
			delete(forms, "in a state dict")
			delete(forms, "legacy data pickle")
			delete(forms, "legacy sys_info")
			delete(forms, "legacy storage keys")
		}
		want := fmt.Sprintf("global %q is not allowed", m+"."+n)
		for form, file := range forms {
			_, err := readBytes(file)
			var fe *FormatError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), want) {
				t.Errorf("%s.%s as %s: got %v, want a *FormatError saying %s", m, n, form, err, want)
			}
		}
		// The class hook refuses it too, should a pickle get past the scan.
		if _, err := (&unpickling{}).findClass(m, n); err == nil {
			t.Errorf("findClass resolved %s.%s", m, n)
		}
	}
}

// TestRefusedOpcodes checks that the opcodes a state dict never uses are
// refused before unpickling: those that build arbitrary objects, bytes,
// sets, extensions, out-of-band buffers, text persistent IDs, and bytes
// that are not opcodes.
func TestRefusedOpcodes(t *testing.T) {
	for name, p := range map[string]string{
		"INST":            "\x80\x02(X\x01\x00\x00\x00xios\nsystem\n.",
		"OBJ":             "\x80\x02(" + gl("torch", "Size") + "o.",
		"NEWOBJ":          "\x80\x02" + gl("torch", "Size") + ")\x81.",
		"NEWOBJ_EX":       "\x80\x04" + gl("torch", "Size") + ")}\x92.",
		"EXT1":            "\x80\x02\x82\x01.",
		"EXT2":            "\x80\x02\x83\x01\x00.",
		"EXT4":            "\x80\x02\x84\x01\x00\x00\x00.",
		"PERSID":          "\x80\x02Pstorage\n.",
		"BINBYTES":        "\x80\x03B\x01\x00\x00\x00x.",
		"SHORT_BINBYTES":  "\x80\x03C\x01x.",
		"BINBYTES8":       "\x80\x04\x8e\x01\x00\x00\x00\x00\x00\x00\x00x.",
		"BYTEARRAY8":      "\x80\x05\x96\x01\x00\x00\x00\x00\x00\x00\x00x.",
		"EMPTY_SET":       "\x80\x04\x8f.",
		"FROZENSET":       "\x80\x04(\x91.",
		"NEXT_BUFFER":     "\x80\x05\x97.",
		"READONLY_BUFFER": "\x80\x05N\x98.",
		"0xff":            "\x80\x02\xff.",
		"0x99":            "\x80\x02\x99.",
		"NUL":             "\x80\x02\x00.",
	} {
		_, err := readBytes(zipFile(t, p, nil))
		if err == nil || !strings.Contains(err.Error(), "not used by state dicts") {
			t.Errorf("%s: got %v, want it refused", name, err)
		}
	}
}

// TestMalformedPickles checks errors for pickles that are malformed,
// nested too deep or shaped unlike a state dict.
func TestMalformedPickles(t *testing.T) {
	for _, c := range []struct{ name, pkl, want string }{
		{"STACK_GLOBAL of ints", "\x80\x04K\x01K\x02\x93.", "not strings"},
		{"STACK_GLOBAL of a memoized int", "\x80\x04K\x01\x94" + sbu("x") + "0h\x00" + sbu("y") + "\x93.", "not strings"},
		{"marks too deep", "\x80\x02" + strings.Repeat("(", MaxNesting+1) + ".", "nested deeper"},
		{"no STOP", "\x80\x02" + odict, "without its STOP"},
		{"string past the end", "\x80\x02X\xf0\xff\xff\xff.", "without its STOP"},
		{"frame past the end", "\x80\x04\x95" + le64(1<<62) + ".", "without its STOP"},
		{"negative BINSTRING", "\x80\x02T\xff\xff\xff\xff.", "negative length"},
		{"empty LONG1", "\x80\x02\x8a\x00.", "integer of 0 bytes"},
		{"17-byte LONG1", "\x80\x02\x8a\x11" + strings.Repeat("\x01", 17) + ".", "integer of 17 bytes"},
		{"long text INT", "\x80\x02I" + strings.Repeat("9", 40) + "\n.", "number of 40 characters"},
		{"stack underflow", "\x80\x02R.", "stack underflow"},
		{"POP_MARK without mark", "\x80\x021.", "no mark"},
		{"protocol 6", "\x80\x06.", "protocol 6"},
		{"not a dict", "\x80\x02K\x01.", "the pickled object is a int, not a dict"},
		{"int key", "\x80\x02}K\x01" + odict + "s.", "dict key is a int"},
		{"dict in itself", "\x80\x02}q\x00X\x01\x00\x00\x00ah\x00s.", "nested deeper"},
		{"OrderedDict in itself", "\x80\x02" + odict + "q\x00X\x01\x00\x00\x00ah\x00s.", "nested deeper"},
		{"big int size", state(bu("w"), rebuild(pid("FloatStorage", "0", k(1)), k(0), tup("L99999999999999999999\n"), tup(k(1)))), "not a tuple"},
		{"rank 33", state(bu("w"), rebuild(pid("FloatStorage", "0", k(1)), k(0), tup(strings.Repeat(k(1), 33)), tup(strings.Repeat(k(0), 33)))), "at most 32"},
		{"torch.Size of 33", "\x80\x02" + gl("torch", "Size") + tup(strings.Repeat(k(1), 33)) + "\x85R.", "at most 32"},
		{"sizes and strides", state(bu("w"), rebuild(pid("FloatStorage", "0", k(1)), k(0), tup(k(1)), ")")), "1 sizes and 0 strides"},
		{"storage not a storage", state(bu("w"), rebuild(k(1), k(0), ")", ")")), "not a storage"},
		{"pid not a tuple", state(bu("w"), "K\x01Q"), "not a tuple of 5"},
		{"pid type", state(bu("w"), tup(bu("module"), gl("torch", "FloatStorage"), bu("0"), bu("cpu"), k(1))+"Q"), "not a storage"},
		{"two dtypes", state(bu("a"), rebuild(pid("FloatStorage", "0", k(1)), k(0), ")", ")"),
			bu("b"), rebuild(pid("HalfStorage", "0", k(2)), k(0), ")", ")")), "1 F32 elements and 2 F16"},
		{"parameter of an int", state(bu("w"), gl("torch._utils", "_rebuild_parameter")+tup(k(1), "\x89", odict)+"R"), "not a tensor"},
		{"odd DICT", "\x80\x02(K\x01d.", "DICT of 1 entries"},
		{"odd SETITEMS", "\x80\x02}(K\x01K\x02K\x03u.", "SETITEMS of 3 entries"},
		{"OrderedDict with args", "\x80\x02ccollections\nOrderedDict\n" + tup(k(1)) + "R.", "OrderedDictClass.Call args not supported"},
	} {
		_, err := readBytes(zipFile(t, c.pkl, map[string]string{"data/0": "\x00\x00\x00\x00"}))
		var fe *FormatError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want a *FormatError containing %q", c.name, err, c.want)
		}
	}
}

// TestUnpicklerPanics checks that a panic of the unpickler, on a pickle
// that the scan would have refused, is an error.
func TestUnpicklerPanics(t *testing.T) {
	for _, p := range []string{"\x80\x02(K\x01d.", "\x80\x02\x8a\x00.", "\x80\x02\xff."} {
		if _, err := (&unpickling{}).load([]byte(p)); err == nil {
			t.Errorf("%q: no error", p)
		}
	}
}

// TestHugeClaims checks that files claiming huge storages, shapes or
// lengths are errors that allocate nothing near what they claim.
func TestHugeClaims(t *testing.T) {
	f32 := func(numel, offset, size, stride string) string {
		return state(bu("w"), rebuild(pid("FloatStorage", "0", numel), offset, size, stride))
	}
	legacy := func(pickleNumel string, fileNumel uint64, data string) []byte {
		pkl := state(bu("w"), rebuild(legacyPid("FloatStorage", "0", pickleNumel), k(0), tup(k(1)), tup(k(1))))
		return legacyFile(pkl, []string{"0"}, le64(fileNumel)+data)
	}
	hugeRecord := func() []byte { // data.pkl's header claims 1 TiB
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for name, size := range map[string]uint64{"x/data.pkl": 1 << 40, "x/version": 2} {
			w, _ := zw.CreateRaw(&zip.FileHeader{Name: name, Method: zip.Store, CompressedSize64: size, UncompressedSize64: size})
			w.Write([]byte("3\n"))
		}
		zw.Close()
		return buf.Bytes()
	}
	data16 := map[string]string{"data/0": strings.Repeat("\x00", 16)}
	for _, c := range []struct {
		name string
		file []byte
		want string
	}{
		{"storage of 2^40", zipFile(t, f32(long1(1<<40), k(0), tup(k(1)), tup(k(1))), data16), "record of 16 bytes for a storage of 1099511627776 F32"},
		{"storage bytes overflow", zipFile(t, f32(long1(1<<62), k(0), tup(k(1)), tup(k(1))), data16), "for a storage of 4611686018427387904"},
		{"storage record missing", zipFile(t, f32(k(4), k(0), tup(k(1)), tup(k(1))), nil), "missing: no record"},
		{"shape 2^20 x 2^20", zipFile(t, f32(k(4), k(0), tup(long1(1<<20), long1(1<<20)), tup(long1(1<<20), k(1))), data16), "reach element"},
		{"zero strides 2^40", zipFile(t, f32(k(4), k(0), tup(long1(1<<40)), tup(k(0))), data16), "more than its storage of 4 and than 16777216"},
		{"zero strides overflow", zipFile(t, f32(k(4), k(0), tup(long1(1<<62), long1(1<<62)), tup(k(0), k(0))), data16), "overflows"},
		{"extent overflow", zipFile(t, f32(k(4), k(0), tup(k(2), k(2)), tup(long1(1<<62), long1(1<<62))), data16), "overflows"},
		{"offset past the storage", zipFile(t, f32(k(4), k(4), tup(k(1)), tup(k(1))), data16), "reach element 4 of a storage of 4"},
		{"negative offset", zipFile(t, f32(k(4), "J\xff\xff\xff\xff", tup(k(1)), tup(k(1))), data16), "offset is not a non-negative"},
		{"negative size", zipFile(t, f32(k(4), k(0), tup("J\xff\xff\xff\xff"), tup(k(1))), data16), "negative size"},
		{"negative stride", zipFile(t, f32(k(4), k(0), tup(k(2)), tup("J\xff\xff\xff\xff")), data16), "negative size or stride"},
		{"negative numel", zipFile(t, f32("J\xff\xff\xff\xff", k(0), tup(k(1)), tup(k(1))), data16), "malformed storage"},
		{"data.pkl of 1 TiB", hugeRecord(), "1099511627776 bytes, more than"},
		{"legacy storage of 2^40", legacy(long1(1<<40), 1<<40, ""), "run past the end"},
		{"legacy count mismatch", legacy(k(1), 1<<40, "\x00\x00\x00\x00"), "1099511627776 elements in the file, 1 in the pickle"},
		{"legacy count cut", legacy(k(1), 1, "")[:len(legacy(k(1), 1, ""))-4], "before the storage's element count"},
		{"legacy key unused", legacyFile(state(), []string{"9"}, ""), `storage "9" is not used`},
		{"legacy storage without data", legacyFile(state(bu("w"), rebuild(legacyPid("FloatStorage", "0", k(1)), k(0), ")", ")")), nil, ""), `storage "0" has no data`},
		{"legacy key twice", legacyFile(state(bu("w"), rebuild(legacyPid("FloatStorage", "0", k(1)), k(0), ")", ")")), []string{"0", "0"}, le64(1)+"\x00\x00\x00\x00"), "listed twice"},
		{"legacy pickle of 17 MiB", []byte(legacyHead + "\x80\x02X" + le32(17<<20) + strings.Repeat("a", 17<<20) + "."), "pickle larger than 16 MiB"},
		{"memory bomb", zipFile(t, string(repeat("\x80\x02ccollections\nOrderedDict\nq\x00]", 3<<20, func(int) string { return "h\x00)Ra" }, ".")), nil), "more than 256 MiB"},
	} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := readBytes(c.file)
		runtime.ReadMemStats(&after)
		var fe *FormatError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want a *FormatError containing %q", c.name, err, c.want)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20+4*uint64(len(c.file)) {
			t.Errorf("%s: allocated %d bytes for a %d-byte file", c.name, alloc, len(c.file))
		}
	}
}

// TestOtherFiles checks the errors for inputs that are not state dicts.
func TestOtherFiles(t *testing.T) {
	tar := make([]byte, 1024)
	copy(tar[257:], "ustar")
	deflated := func() []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for name, data := range map[string]string{
			"x/data.pkl": state(bu("w"), rebuild(pid("FloatStorage", "0", k(1)), k(0), ")", ")")),
			"x/version":  "3\n", "x/data/0": "\x00\x00\x00\x00",
		} {
			w, _ := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate})
			w.Write([]byte(data))
		}
		zw.Close()
		return buf.Bytes()
	}
	for _, c := range []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "not a torch.save file"},
		{"text", []byte("hello world"), "not a torch.save file"},
		{"tar", tar, "tar archive"},
		{"no data.pkl", zipFile(t, "", nil)[:0], "not a torch.save file"},
		{"torchscript", func() []byte {
			var buf bytes.Buffer
			zw := zip.NewWriter(&buf)
			w, _ := zw.Create("m/constants.pkl")
			w.Write([]byte("\x80\x02)."))
			zw.Close()
			return buf.Bytes()
		}(), "TorchScript"},
		{"big-endian", zipFile(t, state(), map[string]string{"byteorder": "big"}), `"big"-endian`},
		{"version 0", zipFile(t, state(), map[string]string{"version": "0\n"}), "format version \"0\\n\""},
		{"version text", zipFile(t, state(), map[string]string{"version": "three"}), "format version"},
		{"deflated storage", deflated(), "compressed (method 8)"},
		{"legacy big-endian", []byte(strings.Replace(string(legacyFile(state(), nil, "")), "little_endian\x88", "little_endian\x89", 1)), "big-endian"},
		{"legacy bad magic", []byte(strings.Replace(string(legacyFile(state(), nil, "")), "\x6c\xfc", "\x6d\xfc", 1)), "not the magic number"},
		{"legacy bad protocol", []byte(strings.Replace(string(legacyFile(state(), nil, "")), "M\xe9\x03", "M\xea\x03", 1)), "want 1001"},
		{"legacy cut", legacyFile(state(), nil, "")[:40], "ends inside the pickle"},
	} {
		_, err := readBytes(c.file)
		var fe *FormatError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want a *FormatError containing %q", c.name, err, c.want)
		}
	}
}

// TestLoadNamesFile checks that Load's errors name the file.
func TestLoadNamesFile(t *testing.T) {
	path := t.TempDir() + "/evil.pth"
	if err := os.WriteFile(path, zipFile(t, "\x80\x02"+gl("os", "system")+bu("echo pwned")+"\x85R.", nil), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	want := "pth: " + path + `: data.pkl: opcode 0x63 at byte 2: global "os.system" is not allowed`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	if _, err := Load(path + ".missing"); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
}

// TestRebuildVariants checks the other ways a pickle may build a tensor:
// _rebuild_tensor (before v2), _rebuild_tensor_v2 with PyTorch 2's
// metadata argument, _rebuild_parameter_with_state, torch.Size as the size,
// and a storage view of the legacy format.
func TestRebuildVariants(t *testing.T) {
	data := map[string]string{"data/0": "\x00\x00\x80\x3f\x00\x00\x00\x40\x00\x00\x40\x40\x00\x00\x80\x40"} // 1 2 3 4
	st := pid("FloatStorage", "0", k(4))
	size := gl("torch", "Size") + tup(k(2)) + "\x85R"
	for name, value := range map[string]string{
		"_rebuild_tensor":    gl("torch._utils", "_rebuild_tensor") + tup(st, k(1), tup(k(2)), tup(k(2))) + "R",
		"v2 with metadata":   gl("torch._utils", "_rebuild_tensor_v2") + tup(st, k(1), tup(k(2)), tup(k(2)), "\x89", odict, "N") + "R",
		"parameter":          gl("torch._utils", "_rebuild_parameter") + tup(rebuild(st, k(1), tup(k(2)), tup(k(2))), "\x88", odict) + "R",
		"parameter w/ state": gl("torch._utils", "_rebuild_parameter_with_state") + tup(rebuild(st, k(1), tup(k(2)), tup(k(2))), "\x88", odict, "}") + "R",
		"torch.Size":         rebuild(st, k(1), size, tup(k(2))),
	} {
		f, err := readBytes(zipFile(t, state(bu("w"), value), data))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if x, err := f.Tensor("w"); err != nil || !reflect.DeepEqual(x.Data(), []float32{2, 4}) {
			t.Errorf("%s: read %v, %v; want [2 4]", name, x, err)
		}
	}

	view := func(off, n byte) string {
		return tup(bu("storage"), gl("torch", "FloatStorage"), bu("0"), bu("cpu"), k(4), tup(bu("v"), k(off), k(n))) + "Q"
	}
	file := func(off, n byte) []byte {
		return legacyFile(state(bu("w"), rebuild(view(off, n), k(0), tup(k(2)), tup(k(1)))), []string{"0"}, le64(4)+data["data/0"])
	}
	f, err := readBytes(file(1, 2))
	if err != nil {
		t.Fatal(err)
	}
	if x, err := f.Tensor("w"); err != nil || !reflect.DeepEqual(x.Data(), []float32{2, 3}) {
		t.Errorf("legacy view: read %v, %v; want [2 3]", x, err)
	}
	for _, c := range [][2]byte{{3, 2}, {5, 0}, {0, 1}} {
		if _, err := readBytes(file(c[0], c[1])); err == nil {
			t.Errorf("a view of %d elements at %d read as a 2-element tensor", c[1], c[0])
		}
	}
}
