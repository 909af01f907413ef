// Package neuron makes a model a running neuron: it wires the parts of the
// network, each in a package of its own, and gives users the two calls they
// start with.
//
//   - Run(ctx, cfg, Spec) does the seed's walkthrough for a model: it seeds
//     torch, builds the model, serves it as a synapse.Local under the
//     --neuron_key's synapse key, starts the neuron, builds the router and
//     the trainer (resuming from --model_path) and trains on the Spec's data.
//     examples/mnist, examples/cifar, examples/bert and examples/fortune go
//     through it; see Example_ownNeuron.
//   - StartNeuron(ctx, cfg, outputDim, device, synapses...) brings up the
//     parts without a trainer: an axon.Axon serving the synapses, a
//     metagraph.Metagraph announcing them (gossip, or the etcd chain of
//     --chain_endpoint), a dendrite.Dendrite calling peers through one
//     dendrite.ConnPool, and an observe.Observer serving metrics and the live
//     page. Neuron.TrainerNetwork hands a trainer.Trainer what it uses of
//     them.
//
// Config holds the seed's settings (the CLI fills it from flags and BT_
// variables) and Validate turns every bad one into a *UsageError naming its
// flag. The packages underneath, each with a doc.go of its own:
//
//	wire       the bytes: codec, signatures, nonces, limits, value checks
//	synapse    what a model must be to be served, and how it learns from callers
//	axon       the server: admission, replay guard, authentication, stats
//	dendrite   the client: parallel calls as one autograd node, standing, pool
//	router     top-k gating, and which synapses fit a batch
//	trainer    the training loop, its pure step core, tests and checkpoints
//	metagraph  the peer cache: pure rules, gossip and chain backends
//	observe    Prometheus metrics and the live page
//	keys       ed25519 keys and key files
//
// This package imports all of them; none of them imports it.
package neuron
