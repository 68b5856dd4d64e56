package fastgo_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo"
)

func TestMaybe(t *testing.T) {
	err := fastgo.Maybe(func() { panic(fastgo.Errorf("tensor.Add: shapes %v and %v", []int{2}, []int{3})) })
	var e fastgo.Error
	if !errors.As(err, &e) || !strings.Contains(err.Error(), "[2] and [3]") {
		t.Fatalf("Maybe returned %v", err)
	}
	if err := fastgo.Maybe(func() {}); err != nil {
		t.Fatalf("no panic: %v", err)
	}
	defer func() {
		if r := recover(); r != "other" {
			t.Fatalf("another panic became %v", r)
		}
	}()
	fastgo.Maybe(func() { panic("other") })
	t.Fatal("another panic was swallowed")
}
