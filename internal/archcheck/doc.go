// Package archcheck holds the test that keeps fastgo's house in order: the
// rule its imports follow (docs/architecture.md). It has no code of its
// own; run it with go test.
package archcheck
