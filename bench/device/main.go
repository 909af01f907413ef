// Command device measures a lone MNIST neuron's training step on a chosen
// device (the neuron-solo case of bench/neuron, on cpu or cuda) and prints
//
//	neuron-solo: device=<cpu|cuda:N> threads=<n> batch=<b> steps=<n> samples/s=<rate> loss=<last local loss>
//
// The neuron is the real one `bittensor run mnist --device D` starts: its
// model and router on D, a Metagraph and an Axon on 127.0.0.1, its trainer
// calling its own synapse in-process. It is what scripts/gpu-check.sh runs on
// a GPU machine, once with -device cuda and once with -device cpu, so the two
// rates come from the same binary, data and settings. -data_dir names the
// folder of MNIST's *-ubyte.gz files where there is no Go module cache.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/opentensor/bittensor-go/examples/mnist"
	"github.com/opentensor/bittensor-go/internal/mallocenv"
	"github.com/opentensor/bittensor-go/neuron"
	"github.com/opentensor/bittensor-go/neuron/keys"
	"github.com/opentensor/bittensor-go/neuron/router"
	"github.com/opentensor/bittensor-go/neuron/synapse"
	"github.com/opentensor/bittensor-go/neuron/trainer"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
)

func main() {
	// The same malloc environment as `bittensor` and the other benchmarks.
	if err := mallocenv.Reexec(); err != nil {
		fail(err)
	}
	device := flag.String("device", "cpu", "cpu, cuda or cuda:N")
	steps := flag.Int("steps", 300, "timed training steps")
	warmup := flag.Int("warmup", 20, "untimed steps before timing (CUDA's first steps load kernels)")
	batch := flag.Int("batch_size", 64, "examples per step")
	threads := flag.Int("threads", 1, "libtorch intra-op threads (bench/neuron uses 1)")
	dataDir := flag.String("data_dir", "", "folder holding MNIST's *-ubyte.gz files (default: the Go module cache)")
	flag.Parse()

	d, err := torch.ParseDevice(*device)
	if err != nil {
		fail(err)
	}
	if *steps < 1 || *warmup < 0 || *batch < 1 || *threads < 1 {
		fail(fmt.Errorf("steps %d, warmup %d, batch_size %d, threads %d: want steps, batch_size, threads ≥ 1 and warmup ≥ 0",
			*steps, *warmup, *batch, *threads))
	}
	if d.Type == torch.DeviceCUDA && d.Index >= torch.CUDADeviceCount() {
		fail(fmt.Errorf("%v: this libtorch (%s, CUDA runtime %d) sees %d CUDA devices",
			d, torch.LibtorchVersion(), torch.CUDARuntimeVersion(), torch.CUDADeviceCount()))
	}
	if err := torch.SetNumThreads(*threads); err != nil {
		fail(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	rate, loss, err := soloRate(ctx, d, *dataDir, *batch, *steps, *warmup)
	if err != nil {
		fail(err)
	}
	fmt.Printf("neuron-solo: device=%v threads=%d batch=%d steps=%d samples/s=%.1f loss=%.4f\n",
		d, *threads, *batch, *steps, rate, loss)
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "bench device: %v\n", err)
	os.Exit(1)
}

// soloRate trains a lone neuron on d for warmup and then steps steps and
// returns the samples per second of the timed ones and the last local loss.
func soloRate(ctx context.Context, d torch.Device, dataDir string, batch, steps, warmup int) (rate, loss float64, err error) {
	dir, err := mnist.FindData(ctx, dataDir)
	if err != nil {
		return 0, 0, err
	}
	train, _, err := mnist.Load(dir)
	if err != nil {
		return 0, 0, err
	}
	loader, err := mnist.NewLoader(train, batch, true, 1)
	if err != nil {
		return 0, 0, err
	}
	logDir, err := os.MkdirTemp("", "bench-device-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(logDir)
	cfg := neuron.DefaultConfig()
	cfg.Device, cfg.LogDir = d.String(), logDir
	cfg.MetagraphPeriod, cfg.MetagraphTTL = 100*time.Millisecond, 30*time.Second

	torch.ManualSeed(1)
	model := mnist.NewModel()
	if err := nn.To(model, d); err != nil {
		return 0, 0, err
	}
	key, err := keys.NewKey()
	if err != nil {
		return 0, 0, err
	}
	synapse, err := synapse.NewLocal(key, model, bittensorpb.Modality_IMAGE)
	if err != nil {
		return 0, 0, err
	}
	n, err := neuron.StartNeuron(ctx, cfg, mnist.ContextDim, d, synapse)
	if err != nil {
		return 0, 0, err
	}
	defer n.Close()
	router, err := router.New(mnist.ContextDim, 100, 10)
	if err != nil {
		return 0, 0, err
	}
	if err := nn.To(router, d); err != nil {
		return 0, 0, err
	}
	trainer, err := trainer.New(cfg.TrainerConfig(), n.TrainerNetwork(), synapse, router, logDir, d)
	if err != nil {
		return 0, 0, err
	}
	defer trainer.Close()

	var start time.Time
	done, samples := 0, 0
	for epoch := 0; done < warmup+steps; epoch++ {
		for b := range loader.Tensors().Epoch(ctx, epoch) {
			if done == warmup {
				start = time.Now()
			}
			n := int(b.Inputs.Size(0)) // the step frees the batch
			res, err := trainer.Step(ctx, b)
			if err != nil {
				return 0, 0, fmt.Errorf("step %d: %w", done, err)
			}
			if res.Failed > 0 {
				return 0, 0, fmt.Errorf("step %d: %d failed calls to its own synapse", done, res.Failed)
			}
			loss = res.LocalLoss
			if done++; done > warmup {
				samples += n
			}
			if done == warmup+steps {
				break
			}
		}
		if ctx.Err() != nil {
			return 0, 0, ctx.Err()
		}
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return 0, 0, errors.New("training diverged: the last loss is not finite")
	}
	return float64(samples) / time.Since(start).Seconds(), loss, nil
}
