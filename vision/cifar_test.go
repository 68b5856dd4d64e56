package vision

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// cifarRecords makes n records; record i has labels (i%lab...) and pixels i.
func cifarRecords(n, labelBytes int) []byte {
	var b []byte
	for i := 0; i < n; i++ {
		for k := 0; k < labelBytes; k++ {
			b = append(b, byte((i+k)%10))
		}
		for j := 0; j < cifarPixels; j++ {
			b = append(b, byte(i*10+j/1024))
		}
	}
	return b
}

func TestDecodeCIFAR(t *testing.T) {
	ds, err := DecodeCIFAR(cifarRecords(3, 1), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ds.Len() != 3 || ds.Y[2] != 2 {
		t.Fatalf("len %d labels %v", ds.Len(), ds.Y)
	}
	// Item 1's green plane is byte 11.
	if got := ds.X.At(1, 1, 5, 5); got != 11.0/255 {
		t.Errorf("pixel %v", got)
	}
	ds, err = DecodeCIFAR(cifarRecords(2, 2), 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if ds.Y[0] != 1 || ds.Y[1] != 2 {
		t.Errorf("fine labels %v", ds.Y)
	}
}

func TestCIFARWrongSize(t *testing.T) {
	for _, n := range []int{0, 1, 3072, 3074} {
		_, err := DecodeCIFAR(make([]byte, n), 1, 0)
		if err == nil || !strings.Contains(err.Error(), "whole number") {
			t.Errorf("%d bytes: error %v", n, err)
		}
	}
	dir := t.TempDir()
	for i := 1; i <= 5; i++ {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("data_batch_%d.bin", i)), cifarRecords(2, 1))
	}
	bad := filepath.Join(dir, "test_batch.bin")
	writeFile(t, bad, cifarRecords(2, 1)[:3073+100])
	_, err := CIFAR10(dir)
	if err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("error %v does not name %s", err, bad)
	}
}

func TestCIFAR10Dir(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "cifar-10-batches-bin")
	for i := 1; i <= 5; i++ {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("data_batch_%d.bin", i)), cifarRecords(4, 1))
	}
	writeFile(t, filepath.Join(dir, "test_batch.bin"), cifarRecords(3, 1))
	dls, err := CIFAR10(root, BatchSize(4))
	if err != nil {
		t.Fatal(err)
	}
	if dls.Train.Dataset().Len() != 20 || dls.Valid.Dataset().Len() != 3 || dls.C() != 10 || dls.Vocab[3] != "cat" {
		t.Fatalf("train %d valid %d classes %v", dls.Train.Dataset().Len(), dls.Valid.Dataset().Len(), dls.Vocab)
	}
	b, err := dls.OneBatch()
	if err != nil {
		t.Fatal(err)
	}
	if s := b.X.Shape(); s[0] != 4 || s[1] != 3 || s[2] != 32 || s[3] != 32 {
		t.Errorf("batch shape %v", s)
	}
}

func TestCIFAR100Dir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cifar-100-binary")
	writeFile(t, filepath.Join(dir, "train.bin"), cifarRecords(5, 2))
	writeFile(t, filepath.Join(dir, "test.bin"), cifarRecords(2, 2))
	dls, err := CIFAR100(dir, CoarseLabels())
	if err != nil {
		t.Fatal(err)
	}
	if dls.C() != 20 || dls.Train.Dataset().Len() != 5 || dls.Train.Dataset().Label(1) != 1 {
		t.Fatalf("coarse: C %d", dls.C())
	}
	dls, err = CIFAR100(dir)
	if err != nil {
		t.Fatal(err)
	}
	if dls.C() != 100 || dls.Train.Dataset().Label(1) != 2 {
		t.Fatalf("fine: C %d label %d", dls.C(), dls.Train.Dataset().Label(1))
	}
}
