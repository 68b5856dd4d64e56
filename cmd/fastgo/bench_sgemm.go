package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fastgo-ml/fastgo/internal/kernels"
)

func init() { benchWorkloads["sgemm"] = benchSgemm }

// sgemmResult is the RESULT line of the sgemm workload.
type sgemmResult struct {
	Workload     string  `json:"workload"`
	N            int     `json:"n"`
	Threads      int     `json:"threads"`
	Tier         string  `json:"tier"`
	GflopsMedian float64 `json:"gflops_median"`
	GflopsBest   float64 `json:"gflops_best"`
}

// benchSgemm runs workload W1 of docs/performance.md: C = A*B, float32, row-major, square n,
// alpha 1, beta 0, A and B uniform in [-1,1), C preallocated. One warm-up
// call, a batch of k calls calibrated to about 0.1 s, 7 timed batches,
// t = batch time / k, GFLOP/s = 2n^3/t; median and best.
func benchSgemm(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench sgemm", stderr)
	sizes := fs.String("n", "1024", "matrix size, or a comma-separated list of sizes")
	threads := fs.Int("threads", 1, "GOMAXPROCS for the run")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var ns []int
	for _, f := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("%w: -n: %q is not a positive size", errUsage, f)
		}
		ns = append(ns, n)
	}
	if *threads < 1 {
		return fmt.Errorf("%w: -threads must be >= 1, got %d", errUsage, *threads)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(*threads))

	fmt.Fprintf(stdout, "# fastgo sgemm tier=%s threads=%d\n", kernels.Tier(), *threads)
	fmt.Fprintf(stdout, "%-6s %6s %12s %12s %10s\n", "n", "calls", "best_GF/s", "median_GF/s", "med_ms")
	var results []sgemmResult
	for _, n := range ns {
		r, calls, medT := sgemmRun(n)
		r.Threads = *threads
		results = append(results, r)
		fmt.Fprintf(stdout, "%-6d %6d %12.1f %12.1f %10.3f\n", n, calls, r.GflopsBest, r.GflopsMedian, medT*1e3)
	}
	for _, r := range results {
		if err := printResult(stdout, r); err != nil {
			return err
		}
	}
	return nil
}

// sgemmRun measures one size; it returns the result, the batch size and the
// median time per call in seconds.
func sgemmRun(n int) (sgemmResult, int, float64) {
	const samples = 7
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	a, b, c := make([]float32, n*n), make([]float32, n*n), make([]float32, n*n)
	for i := range a {
		a[i] = rng.Float32()*2 - 1
		b[i] = rng.Float32()*2 - 1
	}
	call := func() { kernels.Sgemm(false, false, n, n, n, 1, a, n, b, n, 0, c, n) }
	call() // warm-up

	// Two 20 ms calibration loops; the second sets the batch size.
	var perCall float64
	for range 2 {
		calls, start := 0, time.Now()
		for time.Since(start) < 20*time.Millisecond {
			call()
			calls++
		}
		perCall = time.Since(start).Seconds() / float64(calls)
	}
	k := max(1, int(0.1/perCall+0.5))

	ts := make([]float64, samples)
	for s := range ts {
		start := time.Now()
		for range k {
			call()
		}
		ts[s] = time.Since(start).Seconds() / float64(k)
	}
	sort.Float64s(ts)
	flops := 2 * float64(n) * float64(n) * float64(n)
	med := ts[samples/2]
	return sgemmResult{
		Workload:     "sgemm",
		N:            n,
		Tier:         kernels.Tier(),
		GflopsMedian: flops / med / 1e9,
		GflopsBest:   flops / ts[0] / 1e9,
	}, k, med
}
