// Package neurontest starts the tests' neurons: a lone neuron serving the
// fixture's tiny model with its Trainer, fast-gossip settings, and waits on
// its Metagraph. Test code only, for the trainer's and the neuron's external
// tests.
package neurontest
