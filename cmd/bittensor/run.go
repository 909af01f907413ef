package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/opentensor/bittensor-go/examples/bert"
	"github.com/opentensor/bittensor-go/examples/fortune"
	"github.com/opentensor/bittensor-go/neuron"
)

// neuronKind is a neuron that `bittensor run` can start.
type neuronKind struct {
	name  string
	usage string
	run   func(ctx context.Context, cfg neuron.Config) error
	// flags are the neuron's own flags, added after the common ones; when
	// runFlags is set, it runs the neuron instead of run, reading them.
	flags    []cli.Flag
	runFlags func(cCtx *cli.Context, cfg neuron.Config) error
}

// neuronKinds lists the neurons `bittensor run` accepts.
func neuronKinds() []neuronKind {
	return []neuronKind{
		mnistKind(),
		cifarKind(),
		{name: "bert", usage: "a small BERT that learns next-sentence prediction from text, serving its pooled [CLS] vector", run: bert.Run},
		{name: "fortune", usage: "your own neuron in one file (examples/fortune): tells a fortune's topic from its trigrams", run: fortune.Run},
	}
}

func neuronNames() string {
	var names []string
	for _, k := range neuronKinds() {
		names = append(names, k.name)
	}
	return strings.Join(names, ", ")
}

// runCommand is `bittensor run NEURON [flags]`, a subcommand per neuron.
func runCommand(stderr *os.File) *cli.Command {
	cmd := &cli.Command{
		Name:      "run",
		Usage:     "run a neuron: train it with its peers and serve it to them",
		ArgsUsage: "NEURON",
		Description: "NEURON is one of: " + neuronNames() + " (see `bittensor neurons`).\n" +
			"Example: bittensor run mnist --metagraph_port 8120, then in another terminal:\n" +
			"         bittensor run mnist --bootstrap 127.0.0.1:8120",
		HideHelpCommand: true,
		OnUsageError:    onUsageError,
		Action: func(cCtx *cli.Context) error {
			if cCtx.NArg() == 0 {
				return &neuron.UsageError{Err: fmt.Errorf("which neuron? bittensor run NEURON, NEURON one of: %s", neuronNames())}
			}
			return &neuron.UsageError{Err: fmt.Errorf("unknown neuron %q, want one of: %s (see bittensor neurons)", cCtx.Args().First(), neuronNames())}
		},
	}
	for _, k := range neuronKinds() {
		cmd.Subcommands = append(cmd.Subcommands, &cli.Command{
			Name:         k.name,
			Usage:        k.usage,
			Flags:        append(neuronFlags(), k.flags...),
			OnUsageError: onUsageError,
			Action: func(cCtx *cli.Context) error {
				if cCtx.NArg() > 0 {
					return &neuron.UsageError{Err: fmt.Errorf("unexpected argument %q (flags only; see bittensor run %s --help)", cCtx.Args().First(), k.name)}
				}
				cfg := configFromFlags(cCtx)
				var err error
				if cfg.Log, err = newLogger(stderr, cCtx.String("log_level")); err != nil {
					return err
				}
				if isTerminal(stderr) {
					cfg.Progress = newProgressBar(stderr)
				}
				if err := cfg.Validate(); err != nil {
					return err
				}
				if k.runFlags != nil {
					return k.runFlags(cCtx, cfg)
				}
				return k.run(cCtx.Context, cfg)
			},
		})
	}
	return cmd
}
