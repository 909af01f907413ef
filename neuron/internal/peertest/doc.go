// Package peertest holds the tests' raw peers: a bare gRPC client of an
// Axon, signed requests built by hand, and status checks. It imports
// neuron/wire and neuron/keys but neither the Axon nor the Dendrite, so that
// the Axon's own tests may use it. Test code only.
package peertest
