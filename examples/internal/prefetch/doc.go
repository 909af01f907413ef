// Package prefetch prepares the examples' training batches on a goroutine
// ahead of the training step that consumes them: Seq runs any producer so,
// and Loader cuts a labelled image dataset held as bytes into shuffled,
// optionally augmented minibatches of float32 values.
//
// It knows nothing of tensors or of the neuron: a batch is plain Go slices,
// which the caller turns into whatever its trainer takes.
package prefetch
