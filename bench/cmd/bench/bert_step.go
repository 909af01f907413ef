package main

import (
	"github.com/opentensor/bittensor-go/examples/bert"
	"github.com/opentensor/bittensor-go/examples/bert/wordpiece"
	"github.com/opentensor/bittensor-go/torch"
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
// stood in for by the model's own detached Encode; SGD with momentum)
// steps times after warmup and returns samples/s.
func goBERTStep(steps, warmup, threads int) (float64, error) {
	return timeSteps("bert-step", steps, warmup, threads, func() (*trainStep, error) {
		model, err := bert.NewModel(bert.DefaultConfig(), wordpiece.Default())
		if err != nil {
			return nil, err
		}
		inputs, labels := bertInputs()
		return &trainStep{
			model:  model,
			sgd:    optim.SGDOptions{LR: 0.01, Momentum: 0.9},
			inputs: inputs,
			batch:  bertBatch,
			loss: func(x *torch.Tensor) *torch.Tensor {
				return model.Forward(x, model.Encode(x).Detach(), labels).Loss
			},
		}, nil
	})
}

// bertStep prints the bert-step line: the Go step against its PyTorch twin.
func bertStep(python, script string, steps, warmup, rounds, threads int) error {
	return versusPython("bert-step", python, script, steps, warmup, rounds, threads, goBERTStep)
}
