// Command bench runs the torch benchmarks side by side with their references
// and prints one line per case (see bench/README.md):
//
//	mnist-step: go=<samples/s> cxx=<samples/s> torch-python=<samples/s> go/cxx=<ratio> go/python=<ratio>
//	leak: steps=<n> rss_start=<KiB> rss_end=<KiB> growth=<percent>%
//	dpn-step: go=<samples/s> torch-python=<samples/s> go/python=<ratio>
//	bert-step: go=<samples/s> torch-python=<samples/s> go/python=<ratio>
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/opentensor/bittensor-go/internal/benchref"
	"github.com/opentensor/bittensor-go/internal/mallocenv"
)

func main() {
	// The Go side runs under the same malloc environment as its references.
	if err := mallocenv.Reexec(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cxx := flag.String("cxx", "build/bench_mnist_step", "the C++ mnist-step binary (built by CMake)")
	python := flag.String("python", "/usr/bin/python3", "Python with Debian's python3-torch")
	script := flag.String("script", "bench/python/mnist_step.py", "the PyTorch mnist-step script")
	steps := flag.Int("steps", 150, "timed training steps per mnist-step run")
	warmup := flag.Int("warmup", 15, "untimed steps before timing")
	rounds := flag.Int("rounds", 2, "runs of each implementation, interleaved; the best is reported")
	// One intra-op thread by default: OpenBLAS already spreads each matmul over the
	// cores, and OpenMP threads on top of it oversubscribe them.
	threads := flag.Int("threads", 1, "libtorch intra-op threads, the same for all three")
	leakSteps := flag.Int("leak-steps", 10000, "training steps of the leak case")
	dpnScript := flag.String("dpn-script", "bench/python/dpn_step.py", "the PyTorch dpn-step script")
	dpnSteps := flag.Int("dpn-steps", 3, "timed training steps per dpn-step run (DPN26, batch 32: seconds each on a CPU)")
	dpnWarmup := flag.Int("dpn-warmup", 1, "untimed dpn-step steps before timing")
	bertScript := flag.String("bert-script", "bench/python/bert_step.py", "the PyTorch bert-step script")
	bertSteps := flag.Int("bert-steps", 30, "timed training steps per bert-step run")
	cases := flag.String("cases", "mnist-step,leak,dpn-step,bert-step", "comma-separated cases to run")
	flag.Parse()

	for _, c := range strings.Split(*cases, ",") {
		var err error
		switch c {
		case "mnist-step":
			err = mnistStep(*cxx, *python, *script, *steps, *warmup, *rounds, *threads)
		case "leak":
			err = leakCase(*leakSteps)
		case "dpn-step":
			err = dpnStep(*python, *dpnScript, *dpnSteps, *dpnWarmup, *rounds, *threads)
		case "bert-step":
			err = bertStep(*python, *bertScript, *bertSteps, max(*bertSteps/10, 1), *rounds, *threads)
		default:
			err = fmt.Errorf("unknown case %q", c)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s: %v\n", c, err)
			os.Exit(1)
		}
	}
}

// mnistStep prints the mnist-step line: the Go step against its C++ and
// PyTorch twins (same steps, warmup and threads), one run each per round,
// interleaved, the best of each.
func mnistStep(cxx, python, script string, steps, warmup, rounds, threads int) error {
	args := []string{strconv.Itoa(steps), strconv.Itoa(warmup), strconv.Itoa(threads)}
	best, err := bestRates(rounds,
		func() (float64, error) { return goMNISTStep(steps, warmup, threads) },
		func() (float64, error) { return benchref.SamplesPerSec(cxx, args...) },
		func() (float64, error) { return benchref.SamplesPerSec(python, append([]string{script}, args...)...) })
	if err != nil {
		return err
	}
	fmt.Printf("mnist-step: go=%.1f cxx=%.1f torch-python=%.1f go/cxx=%.3f go/python=%.3f\n",
		best[0], best[1], best[2], best[0]/best[1], best[0]/best[2])
	return nil
}

func leakCase(steps int) error {
	start, end, err := leak(steps, 200)
	if err != nil {
		return err
	}
	fmt.Printf("leak: steps=%d rss_start=%d rss_end=%d growth=%.2f%%\n",
		steps, start, end, 100*float64(end-start)/float64(start))
	return nil
}
