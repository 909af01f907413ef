package main

import (
	"fmt"
	"runtime"
	"time"

	"github.com/opentensor/bittensor-go/internal/benchref"
	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
	"github.com/opentensor/bittensor-go/torch/optim"
)

// trainStep is one benchmark's training step on a fixed batch, as its C++
// and Python twins run it: zero the gradients, compute loss on the batch,
// backward, an SGD step, then after.
type trainStep struct {
	// model holds the parameters SGD trains.
	model nn.Module
	// sgd are the optimizer's settings.
	sgd optim.SGDOptions
	// inputs is the batch; each step computes its loss from an alias of it
	// that the step's scope tracks, so that what the step computes is freed
	// with the scope.
	inputs *torch.Tensor
	// batch is the number of examples in inputs.
	batch int
	// loss returns the step's loss for x, an alias of inputs.
	loss func(x *torch.Tensor) *torch.Tensor
	// after, when not nil, runs after the optimizer's step (a batch-norm
	// model's CommitState).
	after func() error
}

// timeSteps runs the training step that build returns warmup times untimed
// and then steps times timed, and returns the timed steps' examples per
// second. The goroutine keeps its OS thread throughout, as the C++ and
// Python twins run their loop on one thread (libtorch's OpenMP keeps a
// thread team per calling thread); libtorch gets threads intra-op threads,
// and torch's generator is seeded with 0 before build makes the model.
// name names the case in errors.
func timeSteps(name string, steps, warmup, threads int, build func() (*trainStep, error)) (float64, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := torch.SetNumThreads(threads); err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	torch.ManualSeed(0)
	st, err := build()
	if err != nil {
		return 0, fmt.Errorf("%s: build: %w", name, err)
	}
	opt, err := optim.NewSGD(nn.Parameters(st.model), st.sgd)
	if err != nil {
		return 0, fmt.Errorf("%s: optimizer: %w", name, err)
	}
	defer opt.Close()
	if err := st.run(opt, warmup); err != nil {
		return 0, fmt.Errorf("%s: warmup: %w", name, err)
	}
	start := time.Now()
	if err := st.run(opt, steps); err != nil {
		return 0, fmt.Errorf("%s: timed steps: %w", name, err)
	}
	return float64(steps*st.batch) / time.Since(start).Seconds(), nil
}

// run runs the step n times with opt.
func (st *trainStep) run(opt *optim.Optimizer, n int) error {
	for range n {
		if err := st.once(opt); err != nil {
			return err
		}
	}
	return nil
}

// once runs the step once with opt, freeing what it computes.
func (st *trainStep) once(opt *optim.Optimizer) error {
	s := torch.NewScope()
	defer s.Close()
	x := s.Track(st.inputs.Alias())
	if err := opt.ZeroGrad(); err != nil {
		return err
	}
	if err := st.loss(x).Backward(); err != nil {
		return err
	}
	if err := opt.Step(); err != nil {
		return err
	}
	if st.after != nil {
		return st.after()
	}
	return nil
}

// versusPython prints the line of case name: the Go step goRate against its
// PyTorch twin script (same steps, warmup and threads), one run each per
// round, interleaved, the best of each.
func versusPython(name, python, script string, steps, warmup, rounds, threads int,
	goRate func(steps, warmup, threads int) (float64, error)) error {
	args := []string{script, fmt.Sprint(steps), fmt.Sprint(warmup), fmt.Sprint(threads)}
	best, err := bestRates(rounds,
		func() (float64, error) { return goRate(steps, warmup, threads) },
		func() (float64, error) { return benchref.SamplesPerSec(python, args...) })
	if err != nil {
		return err
	}
	fmt.Printf("%s: go=%.2f torch-python=%.2f go/python=%.3f\n", name, best[0], best[1], best[0]/best[1])
	return nil
}

// bestRates runs each of rates once per round, in order, for rounds rounds
// (interleaved, so that a machine's slow spell is shared among them), and
// returns the highest rate of each, 0 for all when rounds < 1. It stops at
// the first error.
func bestRates(rounds int, rates ...func() (float64, error)) ([]float64, error) {
	best := make([]float64, len(rates))
	for range rounds {
		for i, rate := range rates {
			r, err := rate()
			if err != nil {
				return nil, err
			}
			best[i] = max(best[i], r)
		}
	}
	return best, nil
}
