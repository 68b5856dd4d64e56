// Package atomicfile writes files so that a reader, or a crash, never sees
// a partial one: the data goes to a temporary file in the same directory,
// which is synced and then renamed over the target. If the write fails, or
// the process is killed, the file previously at the path (if any) is left
// as it was.
package atomicfile
