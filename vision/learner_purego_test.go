//go:build purego

package vision

// pureGo is true in the purego build, whose pure-Go kernels make the
// accuracy runs several times longer; they run in the default build (the
// kernels' tiers are checked against each other by their own tests).
const pureGo = true
