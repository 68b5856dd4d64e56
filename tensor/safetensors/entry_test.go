package safetensors

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// rawSample is one entry of every dtype of the format, with bytes that no
// float32 or int64 conversion keeps: F64 beyond float32's precision, NaN
// payloads in F16 and BF16, U64 above math.MaxInt64, F8 bytes.
func rawSample() []Entry {
	f64 := make([]byte, 16)
	binary.LittleEndian.PutUint64(f64, math.Float64bits(1+math.Pow(2, -40)))
	binary.LittleEndian.PutUint64(f64[8:], math.Float64bits(1e300))
	u64 := make([]byte, 8)
	binary.LittleEndian.PutUint64(u64, math.MaxUint64-1)
	return []Entry{
		{Name: "f64", Dtype: F64, Shape: []int{2}, Data: f64},
		{Name: "f16", Dtype: F16, Shape: []int{2}, Data: []byte{0x01, 0x7e, 0x00, 0x3c}},
		{Name: "bf16", Dtype: BF16, Shape: []int{1, 2}, Data: []byte{0x81, 0x7f, 0x80, 0x3f}},
		{Name: "u64", Dtype: U64, Shape: []int{}, Data: u64},
		{Name: "u16", Dtype: U16, Shape: []int{3}, Data: []byte{1, 2, 3, 4, 0xff, 0xff}},
		{Name: "f8", Dtype: F8E4M3, Shape: []int{2}, Data: []byte{0x7f, 0x01}},
		{Name: "bool", Dtype: BOOL, Shape: []int{2}, Data: []byte{1, 0}},
		{Name: "empty", Dtype: F32, Shape: []int{0, 3}, Data: nil},
	}
}

func TestEntriesRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raw.safetensors")
	meta := map[string]string{"format": "pt"}
	if err := SaveEntries(path, rawSample(), Metadata(meta)); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.Metadata(), meta) {
		t.Errorf("metadata %v, want %v", f.Metadata(), meta)
	}
	var back []Entry
	for _, want := range rawSample() {
		got, err := f.Entry(want.Name)
		if err != nil {
			t.Fatal(err)
		}
		if got.Dtype != want.Dtype || !reflect.DeepEqual(got.Shape, want.Shape) || !bytes.Equal(got.Data, want.Data) {
			t.Errorf("%s: read back %s %v %x, want %s %v %x", want.Name, got.Dtype, got.Shape, got.Data, want.Dtype, want.Shape, want.Data)
		}
		back = append(back, got)
	}
	// Writing what was read gives the same bytes.
	var a, b bytes.Buffer
	if err := WriteEntries(&a, rawSample(), Metadata(meta)); err != nil {
		t.Fatal(err)
	}
	if err := WriteEntries(&b, back, Metadata(meta)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("writing the entries read back changed the file")
	}
	if _, err := f.Raw("nope"); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("Raw of a missing tensor: %v", err)
	}
}

// TestEntriesMatchWrite: WriteEntries of F32 and I64 entries gives the
// bytes Write gives for the same tensors.
func TestEntriesMatchWrite(t *testing.T) {
	tensors, ints, meta := sample()
	var want bytes.Buffer
	if err := Write(&want, tensors, Ints(ints), Metadata(meta)); err != nil {
		t.Fatal(err)
	}
	f, err := Read(bytes.NewReader(want.Bytes()), int64(want.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var entries []Entry
	for _, n := range f.Names() {
		e, err := f.Entry(n)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
	var got bytes.Buffer
	if err := WriteEntries(&got, entries, Metadata(meta)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Error("WriteEntries and Write differ on the same tensors")
	}
}

func TestWriteEntriesRejects(t *testing.T) {
	cases := map[string][]Entry{
		"unknown dtype":  {{Name: "a", Dtype: "F128", Data: make([]byte, 16)}},
		"short data":     {{Name: "a", Dtype: F32, Shape: []int{2}, Data: make([]byte, 7)}},
		"negative dim":   {{Name: "a", Dtype: F32, Shape: []int{-1}}},
		"overflow":       {{Name: "a", Dtype: F64, Shape: []int{1 << 40, 1 << 40}}},
		"duplicate name": {{Name: "a", Dtype: U8, Data: []byte{1}}, {Name: "a", Dtype: U8, Data: []byte{1}}},
		"reserved name":  {{Name: "__metadata__", Dtype: U8, Data: []byte{1}}},
	}
	for name, entries := range cases {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			err := WriteEntries(&buf, entries)
			if err == nil || !strings.Contains(err.Error(), entries[0].Name) {
				t.Errorf("WriteEntries: %v, want an error naming %q", err, entries[0].Name)
			}
			if buf.Len() != 0 {
				t.Errorf("wrote %d bytes before failing", buf.Len())
			}
		})
	}
}

// TestEntriesRefuseInts checks that Ints, which entries cannot take, panics
// naming the call instead of being dropped.
func TestEntriesRefuseInts(t *testing.T) {
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(fmt.Sprint(r), "safetensors.WriteEntries: Ints does not apply") {
			t.Fatalf("recovered %v, want a panic naming WriteEntries and Ints", r)
		}
	}()
	var buf bytes.Buffer
	WriteEntries(&buf, rawSample(), Ints(map[string]Int64Tensor{"n": {Data: []int64{1}}}))
}
