// Command fastgo trains, evaluates, attacks and benchmarks fastgo models.
//
// Usage:
//
//	fastgo <command> [flags]
//
// Run "fastgo help" for the list of commands and "fastgo <command> -h" for a
// command's flags.
//
// FASTGO_CPUPROFILE=FILE writes a CPU profile of the whole run to FILE,
// for go tool pprof (docs/performance.md shows profiles taken this way).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"sort"
)

// command is one sub-command of fastgo.
type command struct {
	name  string
	short string
	// run parses args with its own FlagSet and does the work. It returns
	// errUsage (wrapped or not) for bad usage, another error for a failure.
	run func(args []string, stdout, stderr io.Writer) error
}

// errUsage marks an error as a usage error (exit code 2).
var errUsage = errors.New("usage")

var commands = map[string]*command{}

// register adds a sub-command; each command's file calls it from init.
func register(c *command) { commands[c.name] = c }

func main() {
	stop, err := startProfile(os.Getenv("FASTGO_CPUPROFILE"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "fastgo: FASTGO_CPUPROFILE: %v\n", err)
		os.Exit(1)
	}
	code := run(os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// startProfile starts a CPU profile written to path (nothing when path is
// empty) and returns the function that ends it.
func startProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "fastgo: FASTGO_CPUPROFILE: %v\n", err)
		}
	}, nil
}

// run executes the command line and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "fastgo: unknown command %q (run 'fastgo help')\n", args[0])
		return 2
	}
	err := c.run(args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "fastgo %s: %v\n", c.name, err)
		return 2
	default:
		fmt.Fprintf(stderr, "fastgo %s: %v\n", c.name, err)
		return 1
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "fastgo: train, attack, harden and measure image classifiers in pure Go.")
	fmt.Fprintln(w, "\nUsage: fastgo <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].short)
	}
	fmt.Fprintln(w, "\nRun 'fastgo <command> -h' for a command's flags.")
}

// newFlagSet returns a FlagSet that reports errors instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("fastgo "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args, turning a parse error into a usage error. The
// flag package's own report (the error and the whole usage text) is held
// back, so a bad flag costs one line on stderr; -h prints the usage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	out := fs.Output()
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(out)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			if fs.Usage != nil {
				fs.Usage()
			} else {
				fmt.Fprintf(out, "Usage of %s:\n", fs.Name())
				fs.PrintDefaults()
			}
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}
