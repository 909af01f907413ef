// Package trainer owns a neuron's training: the seed's training loop over
// the network.
//
//	tr, err := trainer.New(cfg, network, localSynapse, router, dir, torch.CPU)
//	defer tr.Close()
//	err = tr.Train(ctx, trainBatches, testBatches) // checkpoints in dir
//
// One step (step.go): the local encoding, the synapses of the Metagraph that
// fit the batch and that the Dendrite may call, routing, the calls, the
// joined answer, the model's losses, backward, the router's gradient
// clipped, the callers' gradients applied with the optimizer's step, and the
// synapses' weights moved toward the router's gates. Its decisions are pure
// functions over values (core.go). The loop (loop.go) runs epochs, logs the
// seed's lines, tests (test.go) and checkpoints (checkpoint.go) atomically;
// Serve trains a data-less neuron from its callers alone. recipe.go picks
// the optimizer and its warm-up; batches.go defines the batches it takes.
//
// The Trainer sees its neuron through a Network (a Dendrite, a Metagraph,
// optional counters and observer), so it imports neuron/dendrite,
// neuron/router, neuron/synapse, neuron/metagraph, torch and proto, and
// never the Axon or the neuron package itself.
package trainer
