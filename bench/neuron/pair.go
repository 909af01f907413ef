package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/opentensor/bittensor-go/examples/mnist"
	"github.com/opentensor/bittensor-go/internal/testing/chaos"
)

// pairCase measures a lone neuron's step and the step of a neuron with one
// peer, a `bittensor run mnist --serve_only` process that learns only from
// the measured neuron's gradients, interleaved -rounds times, and prints the
// best of each:
//
//	neuron-pair: solo=<samples/s> pair=<samples/s>
func pairCase(ctx context.Context, loader *mnist.Loader, steps, warmup, rounds int) error {
	dir, err := os.MkdirTemp("", "bench-neuron-pair-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "bittensor")
	if msg, err := exec.Command("go", "build", "-o", bin, "./cmd/bittensor").CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/bittensor: %w\n%s", err, msg)
	}
	var solo, pair float64
	for r := range rounds {
		s, err := measure(ctx, loader, 0, steps, warmup)
		if err != nil {
			return fmt.Errorf("solo: %w", err)
		}
		p, err := measureWithPeerProcess(ctx, loader, bin, filepath.Join(dir, fmt.Sprint(r)), steps, warmup)
		if err != nil {
			return fmt.Errorf("pair: %w", err)
		}
		solo, pair = max(solo, s), max(pair, p)
	}
	fmt.Printf("neuron-pair: solo=%.1f pair=%.1f\n", solo, pair)
	return nil
}

// measureWithPeerProcess returns the training samples per second of a
// neuron joined by one serve-only peer process.
func measureWithPeerProcess(ctx context.Context, loader *mnist.Loader, bin, logdir string, steps, warmup int) (float64, error) {
	cfg := benchConfig(1)
	self, err := startMember(ctx, cfg)
	if err != nil {
		return 0, err
	}
	defer self.neuron.Close()
	peer, err := chaos.Start("peer", bin, "run", "mnist", "--serve_only", "--axon_port", "0", "--metagraph_port", "0",
		"--bootstrap", self.neuron.Metagraph.Addr(), "--logdir", logdir,
		"--metagraph_period", cfg.MetagraphPeriod.String(), "--metagraph_ttl", cfg.MetagraphTTL.String())
	if err != nil {
		return 0, err
	}
	defer func() {
		if err := peer.Stop(10 * time.Second); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}()
	return timeSteps(ctx, loader, cfg, self, 2, steps, warmup)
}
