// Package dendrite owns the client side of the network: the seed's Dendrite,
// which calls remote synapses as differentiable modules.
//
//	d, err := dendrite.New(key, dendrite.DefaultConfig())
//	res, err := d.ForwardTensor(ctx, synapses, inputs) // one batch per synapse, in parallel
//	loss := f(res.Outputs...)                          // zeros where a call failed (res.Errs)
//	err = loss.Backward()                              // sends the Backward RPCs, at once
//
// The calls of one Forward form one node of the caller's autograd graph
// (call.go); a synapse this process serves is called in-process with the
// same semantics (CallInProcess). Every call ends in an Outcome that the
// synapse's Standing counts (standing.go); a failing synapse is backed off
// and probed again at growing intervals. Connections are pooled in one
// bounded ConnPool (connpool.go), which the neuron's gossip shares.
//
// It imports neuron/wire, neuron/synapse, neuron/keys, torch, proto and grpc.
package dendrite
