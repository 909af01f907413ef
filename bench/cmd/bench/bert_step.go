package main

import (
	"fmt"
	"runtime"
	"time"

	"github.com/opentensor/bittensor-go/examples/bert"
	"github.com/opentensor/bittensor-go/examples/bert/wordpiece"
	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
	"github.com/opentensor/bittensor-go/torch/optim"
)

// The bert-step batch, as bench/python/bert_step.py builds it.
const (
	bertBatch = 32
	bertSeq   = 48
)

// bertInputs returns the benchmark's batch: rows of falling length, padded.
func bertInputs() (x, labels *torch.Tensor) {
	ids := make([]int64, bertBatch*2*bertSeq)
	y := make([]int64, bertBatch)
	for i := range bertBatch {
		n := bertSeq - (i%16)*2
		row, seg := ids[(2*i)*bertSeq:], ids[(2*i+1)*bertSeq:]
		for j := range n {
			row[j] = int64((i*131+j*17)%29000 + 1000)
			if j >= n/2 {
				seg[j] = 1
			}
		}
		row[0], row[n-1] = 101, 102
		y[i] = int64(i % 2)
	}
	return torch.FromInt64(ids, bertBatch, 2, bertSeq), torch.FromInt64(y, bertBatch)
}

// goBERTStep runs the BERT synapse's training step (the network's answer
// stood in for by the model's own detached Encode) steps times after
// warmup and returns samples/s.
func goBERTStep(steps, warmup, threads int) (float64, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := torch.SetNumThreads(threads); err != nil {
		return 0, err
	}
	torch.ManualSeed(0)
	model, err := bert.NewModel(bert.DefaultConfig(), wordpiece.Default())
	if err != nil {
		return 0, err
	}
	opt, err := optim.NewSGD(nn.Parameters(model), optim.SGDOptions{LR: 0.01, Momentum: 0.9})
	if err != nil {
		return 0, err
	}
	defer opt.Close()
	inputs, labels := bertInputs()
	run := func(n int) error {
		for range n {
			s := torch.NewScope()
			x := s.Track(inputs.Alias())
			if err := opt.ZeroGrad(); err != nil {
				return err
			}
			network := model.Encode(x).Detach()
			if err := model.Forward(x, network, labels).Loss.Backward(); err != nil {
				return err
			}
			if err := opt.Step(); err != nil {
				return err
			}
			s.Close()
		}
		return nil
	}
	if err := run(warmup); err != nil {
		return 0, fmt.Errorf("bert-step: %w", err)
	}
	start := time.Now()
	if err := run(steps); err != nil {
		return 0, fmt.Errorf("bert-step: %w", err)
	}
	return float64(steps*bertBatch) / time.Since(start).Seconds(), nil
}

// bertStep prints the bert-step line: the Go step against its PyTorch twin.
func bertStep(python, script string, steps, warmup, rounds, threads int) error {
	return versusPython("bert-step", python, script, steps, warmup, rounds, threads, goBERTStep)
}
