// Package axon owns the server side of the network: the seed's Axon, a gRPC
// server of a neuron's synapses.
//
//	a, err := axon.New(axon.DefaultConfig())
//	err = a.Serve(mySynapse)
//	err = a.Start()
//	defer a.Stop(ctx)
//
// A request passes, in order: admission (admission.go: connections,
// streams and admitted RPCs bounded before a byte of the message is read,
// RESOURCE_EXHAUSTED past them), decoding by the wire codec, the synapse
// lookup (NOT_FOUND), the limits (INVALID_ARGUMENT), authentication
// (interceptors.go: the signature, then the replay guard of replay.go,
// UNAUTHENTICATED), and the checks of its values and shape. Forward runs the
// synapse under no-grad; Backward recomputes it with autograd through the
// synapse package's backward math, answers the input gradient and lets the
// synapse learn. Stats (stats.go) counts every RPC, refused ones included.
//
// It imports neuron/wire, neuron/synapse, neuron/keys, torch, proto and grpc;
// nothing in the neuron imports it but the neuron's wiring.
package axon
