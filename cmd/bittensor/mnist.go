package main

import (
	"github.com/urfave/cli/v2"

	"github.com/opentensor/bittensor-go/examples/mnist"
	"github.com/opentensor/bittensor-go/neuron"
)

// mnistKind is `bittensor run mnist`: the common flags and --context_readout.
func mnistKind() neuronKind {
	return neuronKind{
		name:  "mnist",
		usage: "an MLP that classifies MNIST digits, distilling what its peers know",
		flags: []cli.Flag{
			&cli.BoolFlag{Name: "context_readout", EnvVars: envVars("context_readout"),
				Value: mnist.DefaultModelOptions().ContextReadout,
				Usage: "add a linear read-out of the network context, trained on its own loss, whose probabilities " +
					"multiply the classifier's on the network path (--context_readout=false: the seed's model; " +
					"a --model_path checkpoint resumes only with the choice it was made with)"},
		},
		runFlags: func(cCtx *cli.Context, cfg neuron.Config) error {
			return mnist.RunWith(cCtx.Context, cfg, mnist.ModelOptions{ContextReadout: cCtx.Bool("context_readout")})
		},
	}
}
