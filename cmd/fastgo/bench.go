package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
)

// benchWorkloads maps a workload name ("sgemm", "w2", ...) to its runner.
// Each workload's file registers itself from init.
var benchWorkloads = map[string]func(args []string, stdout, stderr io.Writer) error{}

func init() {
	register(&command{
		name:  "bench",
		short: "run a benchmark workload of docs/performance.md (sgemm, w2, w3, w4, w5) and print a RESULT line",
		run: func(args []string, stdout, stderr io.Writer) error {
			names := make([]string, 0, len(benchWorkloads))
			for n := range benchWorkloads {
				names = append(names, n)
			}
			sort.Strings(names)
			if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
				fmt.Fprintf(stderr, "Usage: fastgo bench WORKLOAD [flags]\n\nWorkloads: %v\nRun 'fastgo bench WORKLOAD -h' for its flags.\n", names)
				if len(args) == 0 {
					return fmt.Errorf("%w: no workload given", errUsage)
				}
				return nil
			}
			w, ok := benchWorkloads[args[0]]
			if !ok {
				return fmt.Errorf("%w: unknown workload %q (have %v)", errUsage, args[0], names)
			}
			return w(args[1:], stdout, stderr)
		},
	})
}

// printResult writes the final "RESULT {json}" line of a workload.
func printResult(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "RESULT %s\n", b)
	return err
}
