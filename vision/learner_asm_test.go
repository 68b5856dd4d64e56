//go:build !purego

package vision

// pureGo is false in the default build (see learner_purego_test.go).
const pureGo = false
