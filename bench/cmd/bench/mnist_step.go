package main

import (
	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
	"github.com/opentensor/bittensor-go/torch/optim"
)

// stepNet is the MNIST synapse model of the seed, the same network as
// bench/cxx/mnist_step.cpp and bench/python/mnist_step.py.
type stepNet struct {
	nn.Base
	s1, s2, f1, f2, t1, t2, t3 *nn.Linear
}

func newStepNet() *stepNet {
	n := &stepNet{}
	n.s1 = nn.Register(n, "s1", nn.NewLinear(784, 1024, true))
	n.s2 = nn.Register(n, "s2", nn.NewLinear(1024, 1024, true))
	n.f1 = nn.Register(n, "f1", nn.NewLinear(784+1024, 1024, true))
	n.f2 = nn.Register(n, "f2", nn.NewLinear(1024, 1024, true))
	n.t1 = nn.Register(n, "t1", nn.NewLinear(1024, 512, true))
	n.t2 = nn.Register(n, "t2", nn.NewLinear(512, 256, true))
	n.t3 = nn.Register(n, "t3", nn.NewLinear(256, 10, true))
	return n
}

func (n *stepNet) target(x *torch.Tensor) *torch.Tensor {
	return n.t3.Forward(n.t2.Forward(n.t1.Forward(x).Relu()).Relu()).LogSoftmax(1)
}

func (n *stepNet) forward(x, context *torch.Tensor) *torch.Tensor {
	return n.f2.Forward(n.f1.Forward(torch.Cat([]*torch.Tensor{x, context}, 1)).Relu()).Relu()
}

func (n *stepNet) stepLoss(images, labels *torch.Tensor) *torch.Tensor {
	x := images.SubScalar(0.1307).DivScalar(0.3081).Flatten(1, -1)
	student := n.s2.Forward(n.s1.Forward(x).Relu()).Relu()
	network := student.Detach()
	local := n.forward(x, student)
	remote := n.forward(x, network)
	return torch.NLLLoss(n.target(local), labels, torch.ReduceMean).
		Add(torch.NLLLoss(n.target(remote), labels, torch.ReduceMean)).
		Add(torch.MSELoss(student, network, torch.ReduceMean))
}

// goMNISTStep runs the training step (batch 64, SGD with momentum) steps
// times after warmup and returns samples/s.
func goMNISTStep(steps, warmup, threads int) (float64, error) {
	const batch = 64
	return timeSteps("mnist-step", steps, warmup, threads, func() (*trainStep, error) {
		net := newStepNet()
		images := torch.Rand([]int64{batch, 1, 28, 28})
		labels := torch.Randint(0, 10, []int64{batch})
		return &trainStep{
			model:  net,
			sgd:    optim.SGDOptions{LR: 0.01, Momentum: 0.9},
			inputs: images,
			batch:  batch,
			loss:   func(x *torch.Tensor) *torch.Tensor { return net.stepLoss(x, labels) },
		}, nil
	})
}
