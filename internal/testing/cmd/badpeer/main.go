// Command badpeer is a byzantine neuron for chaos runs: it joins a network
// exactly as `bittensor run` does — a neuron key, a synapse definition
// announced by gossip on the metagraph port, an Axon serving the synapse —
// through package neuron's public API, but its synapse (package
// internal/testing/byzantine) misbehaves as --mode says:
//
//	nan      NaN outputs (and NaN input gradients)
//	inf      ±Inf outputs (and ±Inf input gradients)
//	huge     finite outputs of 1e30 and more
//	shape    outputs one column too wide
//	slow     plausible outputs after --delay (default 8 s, past the Dendrite's 5 s deadline)
//	drop     an error for every request
//	gradnan  plausible outputs, NaN input gradients
//	mixed    each request the next of the above; NaN input gradients
//
// It does not train. Start it next to honest neurons, e.g.
//
//	go run ./internal/testing/cmd/badpeer --mode mixed --bootstrap 127.0.0.1:8120
//
// It logs JSON lines on standard error (the "neuron started" line gives its
// addresses, as bittensor's does) and runs until SIGINT or SIGTERM. Exit
// status: 0 after a signal, 2 for a bad flag or a port in use, 1 otherwise.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/rs/zerolog"

	"github.com/opentensor/bittensor-go/examples/mnist"
	"github.com/opentensor/bittensor-go/internal/testing/byzantine"
	"github.com/opentensor/bittensor-go/neuron"
	"github.com/opentensor/bittensor-go/neuron/keys"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run starts the bad peer with the command-line args and returns the exit status.
func run(args []string, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := serve(ctx, args, stderr)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "badpeer: %v\n", err)
	var usage *neuron.UsageError
	if errors.As(err, &usage) {
		return 2
	}
	return 1
}

// serve parses args, joins the network and serves until ctx ends.
func serve(ctx context.Context, args []string, stderr io.Writer) error {
	cfg := neuron.DefaultConfig()
	fs := flag.NewFlagSet("badpeer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mode := fs.String("mode", "mixed", "how to misbehave: nan, inf, huge, shape, slow, drop, gradnan or mixed")
	delay := fs.Duration("delay", byzantine.DefaultDelay, "how long slow answers wait")
	outputDim := fs.Int64("output_dim", mnist.ContextDim, "features per example of an honest answer (the MNIST neuron's context)")
	modality := fs.String("modality", "image", "the modality the definition announces: image or tensor (it answers both)")
	fs.IntVar(&cfg.AxonPort, "axon_port", cfg.AxonPort, "Axon port; 0 picks a free one")
	fs.IntVar(&cfg.MetagraphPort, "metagraph_port", cfg.MetagraphPort, "Metagraph port; 0 picks a free one")
	fs.StringVar(&cfg.Bootstrap, "bootstrap", cfg.Bootstrap, "Metagraph boot peer, HOST:PORT")
	fs.StringVar(&cfg.NeuronKey, "neuron_key", cfg.NeuronKey, "neuron key file; empty uses a fresh key")
	fs.StringVar(&cfg.RemoteIP, "remote_ip", cfg.RemoteIP, "the address peers reach this neuron at")
	fs.DurationVar(&cfg.MetagraphPeriod, "metagraph_period", cfg.MetagraphPeriod, "time between two gossip rounds")
	fs.DurationVar(&cfg.MetagraphTTL, "metagraph_ttl", cfg.MetagraphTTL, "how long a synapse definition lives without a refresh")
	level := fs.String("log_level", "info", "least severe log level shown: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &neuron.UsageError{Err: err}
	}
	if fs.NArg() > 0 {
		return &neuron.UsageError{Err: fmt.Errorf("unexpected argument %q (flags only)", fs.Arg(0))}
	}
	m, err := byzantine.ParseMode(*mode)
	if err != nil {
		return &neuron.UsageError{Flag: "mode", Err: err}
	}
	lvl, err := zerolog.ParseLevel(*level)
	if err != nil || lvl == zerolog.NoLevel {
		return &neuron.UsageError{Flag: "log_level", Err: fmt.Errorf("%q, want debug, info, warn or error", *level)}
	}
	cfg.Log = zerolog.New(stderr).Level(lvl).With().Timestamp().Str("mode", m.String()).Logger()

	synapseKey, err := keys.NewKey()
	if err != nil {
		return err
	}
	announced, ok := bittensorpb.Modality_value[strings.ToUpper(*modality)]
	if !ok || announced == int32(bittensorpb.Modality_TEXT) {
		return &neuron.UsageError{Flag: "modality", Err: fmt.Errorf("%q, want image or tensor", *modality)}
	}
	bad, err := byzantine.New(synapseKey.PublicHex(), m, *outputDim, byzantine.WithDelay(*delay),
		byzantine.WithModality(bittensorpb.Modality(announced)))
	if err != nil {
		return &neuron.UsageError{Err: err}
	}
	n, err := neuron.StartNeuron(ctx, cfg, *outputDim, torch.CPU, bad)
	if err != nil {
		return err
	}
	<-ctx.Done()
	bad.Close() // slow answers end now, so the Axon stops without waiting
	cfg.Log.Info().Uint64("calls", bad.Calls()).Msg("stopping")
	return n.Close()
}
