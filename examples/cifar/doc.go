// Package cifar is the seed's CIFAR-10 neuron: a Dual Path Network (DPN26)
// synapse that classifies 32×32 colour images, served to its peers and
// trained with them, distilling the network's context into a student DPN.
//
// Run trains one (see Run); the data comes from the CIFAR-10 binary files
// (LoadCIFAR10) or, to show learning on real images installed offline, from
// Debian's dataset-fashion-mnist package as 3×32×32 images
// (LoadFashionMNIST). Training batches are augmented in Go (random crop with
// padding 4, horizontal flip) by a Loader that prepares them ahead of the
// training step.
package cifar
