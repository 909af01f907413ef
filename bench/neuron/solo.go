package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/opentensor/bittensor-go/examples/mnist"
	"github.com/opentensor/bittensor-go/internal/benchref"
	"github.com/opentensor/bittensor-go/internal/procmem"
	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
	"github.com/opentensor/bittensor-go/torch/optim"
)

// soloCases measures a lone neuron's training step (Trainer.Step, calling
// its own synapse in-process), the same model work in Go with no framework
// around it, and the PyTorch twin of that work, interleaved -rounds times,
// and prints the best of each:
//
//	neuron-solo: go=<samples/s> pytorch-twin=<samples/s> ratio=<go/twin> rounds=<ratio of each round>
//	neuron-overhead: step=<samples/s> model=<samples/s> ratio=<step/model> rounds=<ratio of each round>
//
// The ratios of the rounds, each of three runs back to back, show how far
// the machine moves the headline's.
func soloCases(ctx context.Context, loader *mnist.Loader, python, script string, steps, warmup, rounds int) error {
	var step, model, twin float64
	var soloRounds, overheadRounds []string
	for range rounds {
		s, err := measure(ctx, loader, 0, steps, warmup)
		if err != nil {
			return fmt.Errorf("neuron step: %w", err)
		}
		m, err := modelStep(steps, warmup)
		if err != nil {
			return fmt.Errorf("model step: %w", err)
		}
		p, err := benchref.SamplesPerSec(python, script, strconv.Itoa(steps), strconv.Itoa(warmup), "1")
		if err != nil {
			return fmt.Errorf("pytorch twin: %w", err)
		}
		step, model, twin = max(step, s), max(model, m), max(twin, p)
		soloRounds = append(soloRounds, fmt.Sprintf("%.2f", s/p))
		overheadRounds = append(overheadRounds, fmt.Sprintf("%.2f", s/m))
	}
	fmt.Printf("neuron-solo: go=%.1f pytorch-twin=%.1f ratio=%.3f rounds=%s\n", step, twin, step/twin, strings.Join(soloRounds, ","))
	fmt.Printf("neuron-overhead: step=%.1f model=%.1f ratio=%.3f rounds=%s\n", step, model, step/model, strings.Join(overheadRounds, ","))
	return nil
}

// modelStep returns the samples per second of the model work of a lone
// neuron's step as the Trainer does it, written out in Go with no
// framework: the local path, whose encoding also feeds the routing gate
// and is the own synapse's answer (mnist.Model is a
// synapse.SharedEncodingModel), the network path and the seed's losses,
// backward (keeping the graph), the answer's backward into the model
// through the local encoding's graph, and an SGD step, with the model
// `bittensor run mnist` runs (mnist.DefaultModelOptions).
// bench/python/neuron_step.py is the PyTorch twin of the seed's step,
// which encodes the batch three times more: for the routing context, for
// the self-query, and to recompute the self-query for its backward.
func modelStep(steps, warmup int) (float64, error) {
	const batch = 64
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	torch.ManualSeed(0)
	m := mnist.NewModelWith(mnist.DefaultModelOptions())
	gate := nn.NewLinear(mnist.ContextDim, 1, true)
	opt, err := optim.NewSGD(append(nn.Parameters(m), nn.Parameters(gate)...), optim.SGDOptions{LR: 0.01, Momentum: 0.9})
	if err != nil {
		return 0, err
	}
	defer opt.Close()
	images := torch.Rand([]int64{batch, 1, 28, 28})
	labels := torch.Randint(0, 10, []int64{batch})
	one := func() error {
		s := torch.NewScope()
		defer s.Close()
		x := s.Track(images.Alias())
		if err := opt.ZeroGrad(); err != nil {
			return err
		}
		local := m.ForwardLocal(x)
		g := gate.Forward(local.LocalOutput).Sigmoid()
		answer := local.LocalOutput.Detach().SetRequiresGrad(true)
		out := m.ForwardNetwork(local, x, answer.Mul(g), labels)
		if err := out.Loss.BackwardWith(nil, true); err != nil {
			return err
		}
		if err := local.LocalOutput.BackwardWith(answer.Grad(), false); err != nil {
			return err
		}
		return opt.Step()
	}
	for range warmup {
		if err := one(); err != nil {
			return 0, err
		}
	}
	start := time.Now()
	for range steps {
		if err := one(); err != nil {
			return 0, err
		}
	}
	return float64(steps*batch) / time.Since(start).Seconds(), nil
}

// leakCase runs a lone neuron's real training loop (Trainer.Step: routing,
// the in-process call of its own synapse, join, backward, the remote
// gradients, step, weights) for steps steps after warmup ones, and prints
//
//	neuron-leak: steps=<n> batch=<b> rss_start=<KiB> rss_end=<KiB> growth=<percent>%
func leakCase(ctx context.Context, batch, steps, warmup int) error {
	dir, err := mnist.FindData(ctx, "")
	if err != nil {
		return err
	}
	train, _, err := mnist.Load(dir)
	if err != nil {
		return err
	}
	loader, err := mnist.NewLoader(train, batch, true, 2)
	if err != nil {
		return err
	}
	tr, self, err := startLone(ctx)
	if err != nil {
		return err
	}
	defer self.neuron.Close()
	defer tr.Close()
	var start int64
	done := 0
	for epoch := 0; done < warmup+steps; epoch++ {
		for b := range loader.Tensors().Epoch(ctx, epoch) {
			if done == warmup {
				runtime.GC()
				if start, err = procmem.Resident(); err != nil {
					return err
				}
			}
			if _, err := tr.Step(ctx, b); err != nil {
				return err
			}
			if done++; done == warmup+steps {
				break
			}
			if done%1000 == 0 {
				if rss, err := procmem.Resident(); err == nil {
					fmt.Fprintf(os.Stderr, "neuron-leak: step %d rss=%d KiB\n", done, rss>>10)
				}
			}
		}
	}
	runtime.GC()
	end, err := procmem.Resident()
	if err != nil {
		return err
	}
	fmt.Printf("neuron-leak: steps=%d batch=%d rss_start=%d rss_end=%d growth=%.2f%%\n",
		steps, batch, start>>10, end>>10, 100*float64(end-start)/float64(start))
	return nil
}
