package main

import (
	"github.com/opentensor/bittensor-go/internal/procmem"
	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
	"github.com/opentensor/bittensor-go/torch/optim"
)

// leak trains a small MLP for steps steps, one Scope per step, and returns the
// resident memory after warmup steps and at the end.
func leak(steps, warmup int) (start, end int64, err error) {
	const batch = 64
	torch.ManualSeed(1)
	model := nn.NewSequential(nn.NewLinear(784, 128, true), nn.ReLU(), nn.NewLinear(128, 10, true))
	opt, err := optim.NewSGD(nn.Parameters(model), optim.SGDOptions{LR: 0.01, Momentum: 0.9})
	if err != nil {
		return 0, 0, err
	}
	defer opt.Close()
	images := torch.Rand([]int64{batch, 784})
	labels := torch.Randint(0, 10, []int64{batch})
	for i := range steps + warmup {
		if i == warmup {
			if start, err = residentKiB(); err != nil {
				return 0, 0, err
			}
		}
		s := torch.NewScope()
		x := s.Track(images.Alias())
		loss := torch.CrossEntropy(model.Forward(x), labels, torch.ReduceMean)
		if err := opt.ZeroGrad(); err != nil {
			return 0, 0, err
		}
		if err := loss.Backward(); err != nil {
			return 0, 0, err
		}
		if err := opt.Step(); err != nil {
			return 0, 0, err
		}
		s.Close()
	}
	end, err = residentKiB()
	return start, end, err
}

// residentKiB returns the process's resident set size in KiB.
func residentKiB() (int64, error) {
	b, err := procmem.Resident()
	return b >> 10, err
}
