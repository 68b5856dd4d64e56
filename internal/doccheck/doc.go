// Package doccheck holds the test that keeps fastgo's godoc complete: it
// parses every package of the module with go/parser and go/doc and fails,
// listing them, for every exported identifier without a doc comment (types,
// functions, methods, constants, variables and the exported fields of
// exported struct types), every library package without a doc.go and every
// command without a package comment. The package has no code of its own.
//
// Run it with
//
//	go test ./internal/doccheck/
package doccheck
