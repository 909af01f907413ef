package main

import (
	"github.com/urfave/cli/v2"

	"github.com/opentensor/bittensor-go/examples/cifar"
	"github.com/opentensor/bittensor-go/neuron"
)

// cifarKind is `bittensor run cifar`: the common flags, with --batch_size
// defaulting to the seed's 32 for this neuron, and --dataset.
func cifarKind() neuronKind {
	return neuronKind{
		name: "cifar",
		usage: "a Dual Path Network (DPN26) that classifies CIFAR-10 images (or Fashion-MNIST: --dataset), " +
			"distilling what its peers know; batches of 32 unless --batch_size",
		flags: []cli.Flag{
			&cli.StringFlag{Name: "dataset", Value: cifar.DatasetCIFAR10, EnvVars: envVars("dataset"),
				Usage: "what to train on: " + cifar.DatasetCIFAR10 + " (the binary files under --data_dir) or " +
					cifar.DatasetFashionMNIST + " (as 3×32×32 images; default --data_dir " + cifar.FashionMNISTDir + ")"},
		},
		runFlags: func(cCtx *cli.Context, cfg neuron.Config) error {
			if !cCtx.IsSet("batch_size") {
				cfg.BatchSize = cifar.BatchSize
			}
			return cifar.RunWith(cCtx.Context, cfg, cifar.Options{Dataset: cCtx.String("dataset")})
		},
	}
}
