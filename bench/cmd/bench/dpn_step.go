package main

import (
	"github.com/opentensor/bittensor-go/examples/cifar"
	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/optim"
)

// dpnStep compares the CIFAR synapse's training step (DPN26, batch 32) in
// Go with bench/python/dpn_step.py, one run each per round, interleaved.
func dpnStep(python, script string, steps, warmup, rounds, threads int) error {
	return versusPython("dpn-step", python, script, steps, warmup, rounds, threads, goDPNStep)
}

// goDPNStep runs the CIFAR model's training step (the seed's three losses,
// with a fixed network context standing in for the peers' answer; batch norm
// in training mode; SGD with momentum and weight decay; the running
// statistics committed) steps times after warmup and returns samples/s.
func goDPNStep(steps, warmup, threads int) (float64, error) {
	return timeSteps("dpn-step", steps, warmup, threads, func() (*trainStep, error) {
		m := cifar.NewModel()
		batch := int64(cifar.BatchSize)
		images := torch.Rand([]int64{batch, cifar.Channels, cifar.Rows, cifar.Cols})
		network := torch.Rand([]int64{batch, m.ContextDim()})
		labels := torch.Randint(0, cifar.Classes, []int64{batch})
		return &trainStep{
			model:  m,
			sgd:    optim.SGDOptions{LR: 0.01, Momentum: 0.9, WeightDecay: 5e-4},
			inputs: images,
			batch:  int(batch),
			loss:   func(x *torch.Tensor) *torch.Tensor { return m.Forward(x, network, labels).Loss },
			after:  m.CommitState,
		}, nil
	})
}
