// Package nn holds neural-network layers over package torch, and the plumbing
// that makes a model a tree of named parameters: Base (embed it), Register,
// Parameters, StateDict, Save/Load, Train/Eval, To.
//
// A model reads like its PyTorch twin:
//
//	type Net struct {
//		nn.Base
//		fc1, fc2 *nn.Linear
//	}
//
//	func NewNet() *Net {
//		n := &Net{}
//		n.fc1 = nn.Register(n, "fc1", nn.NewLinear(784, 128, true))
//		n.fc2 = nn.Register(n, "fc2", nn.NewLinear(128, 10, true))
//		return n
//	}
//
//	func (n *Net) Forward(x *torch.Tensor) *torch.Tensor {
//		return n.fc2.Forward(n.fc1.Forward(x).Relu()).LogSoftmax(1)
//	}
//
// Parameters are long-lived tensors outside any torch.Scope; activations
// computed from a scoped input join its scope (see package torch).
package nn
