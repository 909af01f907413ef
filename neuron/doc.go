// Package neuron holds the parts of a Bittensor neuron, each in the file named
// after the 2020 class it follows:
//
//   - Synapse (synapse.go): the interface a model implements to be served:
//     ForwardText, ForwardImage, ForwardTensor (embed synapse.Base and
//     implement any subset). A NetworkLearner (synapse.Local is one) or a
//     Trainable synapse lets the network train it.
//   - Axon (axon.go): the gRPC server of local synapses. Forward runs a
//     synapse under no-grad; Backward recomputes it with grad, returns the
//     gradient of its inputs and hands a NetworkLearner the gradient of its
//     parameters, which its owner applies at its next step (remote_grads.go:
//     clipped per caller, averaged, weighted); a Trainable synapse steps at
//     once. Requests are signed (signing.go), checked
//     against replay (replay.go) and validated before any allocation
//     (serializer.go); concurrency and message sizes are bounded.
//   - Dendrite (dendrite.go): calls remote synapses in parallel with a
//     deadline each. A remote output is a node of the caller's autograd graph:
//     its backward sends the output gradient to the peer and feeds the input
//     gradient it returns back into the graph; one call's Backward RPCs go
//     out at once. A failed peer answers zeros. A synapse the process serves
//     itself is called in-process, with the same semantics; a Trainer whose
//     model is a SharedEncodingModel does not even call it, but answers
//     with its step's local encoding (own_answer.go).
//   - Metagraph (package neuron/metagraph): the cache of signed,
//     proof-of-work synapse definitions, kept by gossip (the default) or in
//     etcd (--chain_endpoint etcd://…). The rules are plain Go over values
//     and a clock; each backend is a thin shell around them. A definition
//     announces what its synapse serves (modality, inputs, output width),
//     signed with the rest.
//   - Router (router.go): learned top-k gating over the synapses.
//   - Trainer (trainer.go): the seed's training step and epochs, checkpoints.
//     It routes a batch only to the synapses that fit it (fit.go: Ask), so
//     neurons of different kinds share a network.
//   - Observer (observer.go, package neuron/observe): Prometheus metrics of
//     the parts above and a live page, served on Config.MetricsPort.
//
// Run (run.go) makes a model a neuron: given a Spec (a name, the modality
// and width it serves, a model constructor, its data), it does the seed's
// walkthrough. examples/mnist and examples/fortune (a neuron of one's own,
// in one file) go through it; see Example_ownNeuron. Underneath, a neuron
// wires the parts up (neuron.go, StartNeuron) and trains:
//
//	n, err := neuron.StartNeuron(ctx, cfg, outputDim, torch.CPU, mySynapse)
//	defer n.Close()
//	synapses := n.Metagraph.GetSynapses(1000)
//	dispatch, err := router.Route(synapses, context, images)
//	responses, err := n.Dendrite.ForwardImage(ctx, dispatch.Synapses, dispatch.Requests)
//	network, err := dispatch.Join(responses.Outputs)
//
// Keys (package neuron/keys) are ed25519; neuron_key and synapse_key carry
// them in hex.
package neuron
