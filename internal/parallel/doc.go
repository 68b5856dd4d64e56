// Package parallel splits loops over GOMAXPROCS goroutines.
//
// Work is always split by output ranges: callers give each range the same
// computation it would get in a serial loop, so results do not depend on how
// many goroutines ran.
package parallel
