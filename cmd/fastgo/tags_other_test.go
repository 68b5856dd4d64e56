//go:build !purego

package main

// testBuildTags are the build tags the test binary was built with, given to
// the fastgo binaries the tests build, so that they run the same kernel tier.
const testBuildTags = ""
