// Package router owns the choice of peers: the seed's Router, learned top-k
// gating over the synapses of the Metagraph, and the filter that keeps a
// batch from synapses that cannot take it.
//
//	r, err := router.New(contextDim, keyDim, topK)
//	d, err := r.Route(synapses, context, inputs) // d.Requests[i] goes to d.Synapses[i]
//	defer d.Close()
//	network, err := d.Join(outputs)              // gate-weighted sum of the answers
//
// Scores are query·key; each example keeps its top k synapses and a softmax
// over those alone (the others get exactly 0). Ask (ask.go) is what a batch
// needs of a synapse (modality, inputs, answer width); Ask.Fits reads a
// signed definition's announcement.
//
// It imports neuron/wire, torch, torch/nn and proto.
package router
