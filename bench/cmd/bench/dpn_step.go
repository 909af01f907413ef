package main

import (
	"fmt"
	"runtime"
	"time"

	"github.com/opentensor/bittensor-go/examples/cifar"
	"github.com/opentensor/bittensor-go/internal/benchref"
	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
	"github.com/opentensor/bittensor-go/torch/optim"
)

// dpnStep compares the CIFAR synapse's training step (DPN26, batch 32) in
// Go with bench/python/dpn_step.py, one run each per round, interleaved.
func dpnStep(python, script string, steps, warmup, rounds, threads int) error {
	return versusPython("dpn-step", python, script, steps, warmup, rounds, threads, goDPNStep)
}

// versusPython prints the line of case name: the Go step goRate against its
// PyTorch twin script (same steps, warmup and threads), one run each per
// round, interleaved, the best of each.
func versusPython(name, python, script string, steps, warmup, rounds, threads int,
	goRate func(steps, warmup, threads int) (float64, error)) error {
	args := []string{script, fmt.Sprint(steps), fmt.Sprint(warmup), fmt.Sprint(threads)}
	var best [2]float64
	for range rounds {
		g, err := goRate(steps, warmup, threads)
		if err != nil {
			return err
		}
		p, err := benchref.SamplesPerSec(python, args...)
		if err != nil {
			return err
		}
		best[0], best[1] = max(best[0], g), max(best[1], p)
	}
	fmt.Printf("%s: go=%.2f torch-python=%.2f go/python=%.3f\n", name, best[0], best[1], best[0]/best[1])
	return nil
}

// goDPNStep runs the CIFAR model's training step (the seed's three losses,
// with a fixed network context standing in for the peers' answer; batch norm
// in training mode; SGD with momentum and weight decay; the running
// statistics committed) steps times after warmup and returns samples/s.
func goDPNStep(steps, warmup, threads int) (float64, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := torch.SetNumThreads(threads); err != nil {
		return 0, err
	}
	torch.ManualSeed(0)
	m := cifar.NewModel()
	opt, err := optim.NewSGD(nn.Parameters(m), optim.SGDOptions{LR: 0.01, Momentum: 0.9, WeightDecay: 5e-4})
	if err != nil {
		return 0, err
	}
	defer opt.Close()
	batch := int64(cifar.BatchSize)
	images := torch.Rand([]int64{batch, cifar.Channels, cifar.Rows, cifar.Cols})
	network := torch.Rand([]int64{batch, m.ContextDim()})
	labels := torch.Randint(0, cifar.Classes, []int64{batch})
	run := func(n int) error {
		for range n {
			s := torch.NewScope()
			x := s.Track(images.Alias())
			if err := opt.ZeroGrad(); err != nil {
				return err
			}
			if err := m.Forward(x, network, labels).Loss.Backward(); err != nil {
				return err
			}
			if err := opt.Step(); err != nil {
				return err
			}
			if err := m.CommitState(); err != nil {
				return err
			}
			s.Close()
		}
		return nil
	}
	if err := run(warmup); err != nil {
		return 0, fmt.Errorf("dpn-step: %w", err)
	}
	start := time.Now()
	if err := run(steps); err != nil {
		return 0, fmt.Errorf("dpn-step: %w", err)
	}
	return float64(steps) * float64(batch) / time.Since(start).Seconds(), nil
}
