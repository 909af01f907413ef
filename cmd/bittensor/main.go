// Command bittensor runs neurons of the Bittensor network: `bittensor run
// mnist` trains the MNIST neuron with its peers, `bittensor keygen` creates a
// neuron key, `bittensor neurons` lists what `run` accepts. Every flag can
// also be set through a BT_<FLAG> environment variable (BT_AXON_PORT …).
//
// Exit status: 0 on success and on a clean stop (SIGINT, SIGTERM), 2 for a
// setting the user must change (bad flag, port in use, unknown neuron), 1
// for any other failure. Failures print one line on standard error.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/opentensor/bittensor-go/internal/mallocenv"
	"github.com/opentensor/bittensor-go/neuron"
	"github.com/opentensor/bittensor-go/torch"
)

func main() {
	// A neuron's training step runs faster under these malloc settings
	// given before libtorch loads (see internal/mallocenv); should the exec
	// fail, mallopt applies them, later and less well.
	if err := mallocenv.Reexec(); err != nil {
		fmt.Fprintf(os.Stderr, "bittensor: %v; setting malloc options in-process instead\n", err)
		if err := torch.TuneMalloc(); err != nil {
			fmt.Fprintf(os.Stderr, "bittensor: %v\n", err)
		}
	}
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// run executes the command line args and returns the process exit status.
func run(args []string, stdout io.Writer, stderr *os.File) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := newApp(stdout, stderr).RunContext(ctx, args)
	if err == nil || (ctx.Err() != nil && errors.Is(err, context.Canceled)) {
		return 0 // done, or stopped by a signal before there was anything to save
	}
	fmt.Fprintf(stderr, "bittensor: %v\n", err)
	var usage *neuron.UsageError
	if errors.As(err, &usage) {
		return 2
	}
	return 1
}

// newApp builds the command tree.
func newApp(stdout io.Writer, stderr *os.File) *cli.App {
	return &cli.App{
		Name:  "bittensor",
		Usage: "train neurons that learn from their peers",
		Description: "A neuron trains a local model, serves it to peers (Axon), calls its peers' models as\n" +
			"differentiable remote modules (Dendrite), finds them by gossip (Metagraph) and learns\n" +
			"which ones to ask (Router). Start one with `bittensor run mnist`; start a second with\n" +
			"`bittensor run mnist --bootstrap 127.0.0.1:PORT` where PORT is the first one's --metagraph_port.",
		Flags: []cli.Flag{
			&cli.StringFlag{
				Name: "log_level", Value: "info", EnvVars: []string{"BT_LOG_LEVEL"},
				Usage: "least severe log level shown: debug, info, warn or error",
			},
		},
		Commands:        []*cli.Command{runCommand(stderr), keygenCommand(), neuronsCommand(), peersCommand(), gpucheckCommand()},
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: true,
		OnUsageError:    onUsageError,
		// Errors are printed and mapped to exit codes by run, not by cli.
		ExitErrHandler: func(*cli.Context, error) {},
	}
}

// onUsageError turns a flag parsing error into a one-line usage error.
func onUsageError(cCtx *cli.Context, err error, _ bool) error {
	return &neuron.UsageError{Err: fmt.Errorf("%w (see %s --help)", err, cCtx.Command.HelpName)}
}
