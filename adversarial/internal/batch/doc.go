// Package batch holds the small operations on batches that fastgo's
// adversarial packages share: picking rows of a batch or of its labels, one
// sample's values, the list of all rows, and the default of an unset count.
package batch
