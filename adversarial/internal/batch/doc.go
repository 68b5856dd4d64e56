// Package batch holds the small operations on batches that fastgo's
// adversarial packages (and their tests) share: picking rows of a batch or
// of its labels, one sample's values, the list of all rows, the default of
// an unset count, and the summaries of per-sample values (median, mean,
// first largest).
package batch
