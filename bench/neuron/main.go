// Command neuron measures the full training step of an MNIST neuron
// (context, routing, the Dendrite's calls through real Axons on 127.0.0.1,
// join, forward, backward, step, weights) with 0, 1 and 3 peers, and prints
//
//	neuron-step: peers=0,1,3 samples/s=<s0>,<s1>,<s3>
//	neuron-solo: go=<samples/s> pytorch-twin=<samples/s> ratio=<go/twin> rounds=<each round's ratio>
//	neuron-overhead: step=<samples/s> model=<samples/s> ratio=<step/model> rounds=<each round's ratio>
//	neuron-pair: solo=<samples/s> pair=<samples/s>
//	neuron-leak: steps=<n> batch=<b> rss_start=<KiB> rss_end=<KiB> growth=<percent>%
//
// neuron-pair trains the neuron alone and with one peer in a process of its
// own: a real `bittensor run mnist --serve_only`, which learns from this
// neuron's gradients.
//
// neuron-solo compares a lone neuron's step with its PyTorch twin
// (bench/python/neuron_step.py: the same model work, nothing else),
// neuron-overhead with the same model work written out in Go, and
// neuron-leak runs the real loop for -leak-steps steps. Every case runs with
// one libtorch intra-op thread, and the Go side and the twin both under the
// malloc environment `bittensor` runs under (internal/mallocenv:
// MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_, MALLOC_ARENA_MAX).
//
// The peers are real neurons (Axon, Metagraph, their own MNIST model) in this
// process, joined through the measured neuron's Metagraph, so they share the
// machine's cores with it: on one machine, more peers cost the step their
// forward passes. Routing sends each example to its top 10 synapses, i.e. to
// every synapse here. The neuron calls its own synapse in-process. Each peer
// count is measured -rounds times, interleaved, and the best rate reported.
//
// reference_accuracy.py, next to this file, is the PyTorch twin of a single
// neuron's training (the seed's model, losses and optimizer, the network
// being the neuron's own answer); its test accuracy per epoch is what the
// Go neuron's should match.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
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
)

func main() {
	// The Go side runs under the same malloc environment as its references.
	if err := mallocenv.Reexec(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	peers := flag.String("peers", "0,1,3", "comma-separated peer counts to measure")
	steps := flag.Int("steps", 40, "timed training steps per peer count")
	warmup := flag.Int("warmup", 5, "untimed steps before timing")
	batch := flag.Int("batch_size", 64, "examples per step")
	rounds := flag.Int("rounds", 2, "measurements of each peer count, interleaved; the best is reported")
	python := flag.String("python", "/usr/bin/python3", "Python with Debian's python3-torch")
	script := flag.String("script", "bench/python/neuron_step.py", "the PyTorch twin of a lone neuron's step")
	leakSteps := flag.Int("leak-steps", 10000, "training steps of the neuron-leak case")
	leakBatch := flag.Int("leak-batch", 16, "examples per step of the neuron-leak case")
	cases := flag.String("cases", "step,solo,pair,leak", "comma-separated cases to run")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file (cgo time shows under its Go callers)")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fail(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fail(err)
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	if err := torch.SetNumThreads(1); err != nil {
		fail(err)
	}
	ctx := context.Background()
	for _, c := range strings.Split(*cases, ",") {
		var err error
		switch c {
		case "step":
			err = run(ctx, *peers, *steps, *warmup, *batch, *rounds)
		case "solo":
			var loader *mnist.Loader
			if loader, err = trainLoader(ctx, *batch); err == nil {
				err = soloCases(ctx, loader, *python, *script, *steps, *warmup, *rounds)
			}
		case "pair":
			var loader *mnist.Loader
			if loader, err = trainLoader(ctx, *batch); err == nil {
				err = pairCase(ctx, loader, *steps, *warmup, *rounds)
			}
		case "leak":
			err = leakCase(ctx, *leakBatch, *leakSteps, 200)
		default:
			err = fmt.Errorf("unknown case %q", c)
		}
		if err != nil {
			fail(fmt.Errorf("%s: %w", c, err))
		}
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "bench neuron: %v\n", err)
	os.Exit(1)
}

// trainLoader returns a shuffled loader of MNIST's training set.
func trainLoader(ctx context.Context, batch int) (*mnist.Loader, error) {
	dir, err := mnist.FindData(ctx, "")
	if err != nil {
		return nil, err
	}
	train, _, err := mnist.Load(dir)
	if err != nil {
		return nil, err
	}
	return mnist.NewLoader(train, batch, true, 1)
}

func run(ctx context.Context, peerList string, steps, warmup, batch, rounds int) error {
	var counts []int
	for _, f := range strings.Split(peerList, ",") {
		p, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || p < 0 {
			return fmt.Errorf("peer count %q", f)
		}
		counts = append(counts, p)
	}
	if steps < 1 || warmup < 0 || rounds < 1 {
		return fmt.Errorf("steps %d, warmup %d, rounds %d: want steps and rounds ≥ 1, warmup ≥ 0", steps, warmup, rounds)
	}
	loader, err := trainLoader(ctx, batch)
	if err != nil {
		return err
	}
	best := make([]float64, len(counts))
	for range rounds {
		for i, p := range counts {
			rate, err := measure(ctx, loader, p, steps, warmup)
			if err != nil {
				return fmt.Errorf("peers=%d: %w", p, err)
			}
			best[i] = max(best[i], rate)
		}
	}
	peers, rates := make([]string, len(counts)), make([]string, len(counts))
	for i, p := range counts {
		peers[i], rates[i] = strconv.Itoa(p), fmt.Sprintf("%.1f", best[i])
	}
	fmt.Printf("neuron-step: peers=%s samples/s=%s\n", strings.Join(peers, ","), strings.Join(rates, ","))
	return nil
}

// member is a running neuron with its served model.
type member struct {
	neuron  *neuron.Neuron
	synapse *synapse.Local
}

func startMember(ctx context.Context, cfg neuron.Config) (*member, error) {
	key, err := keys.NewKey()
	if err != nil {
		return nil, err
	}
	syn, err := synapse.NewLocal(key, mnist.NewModelWith(mnist.DefaultModelOptions()), bittensorpb.Modality_IMAGE)
	if err != nil {
		return nil, err
	}
	n, err := neuron.StartNeuron(ctx, cfg, mnist.ContextDim, torch.CPU, syn)
	if err != nil {
		return nil, err
	}
	return &member{neuron: n, synapse: syn}, nil
}

// benchConfig is the configuration of the measured neurons. With peers,
// gossip runs every 100 ms so that they find each other at once; a lone
// neuron keeps the default period, as `bittensor run` does, since each
// round re-signs its definition with a proof of work (16 bits, tens of
// milliseconds), which every 100 ms would take a tenth of a core from the
// step it measures.
func benchConfig(peers int) neuron.Config {
	cfg := neuron.DefaultConfig()
	if peers > 0 {
		cfg.MetagraphPeriod, cfg.MetagraphTTL = 100*time.Millisecond, 30*time.Second
	}
	cfg.LogDir = os.TempDir()
	return cfg
}

// startLone starts a neuron with no peers and its trainer.
func startLone(ctx context.Context) (*trainer.Trainer, *member, error) {
	cfg := benchConfig(0)
	self, err := startMember(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	tr, err := newTrainer(cfg, self)
	if err != nil {
		self.neuron.Close()
		return nil, nil, err
	}
	return tr, self, nil
}

// newTrainer returns the trainer of m with the MNIST example's router.
func newTrainer(cfg neuron.Config, m *member) (*trainer.Trainer, error) {
	router, err := router.New(mnist.ContextDim, 100, 10)
	if err != nil {
		return nil, err
	}
	return trainer.New(cfg.TrainerConfig(), m.neuron.TrainerNetwork(), m.synapse, router, os.TempDir(), torch.CPU)
}

// measure returns the training samples per second of a neuron with p peers.
func measure(ctx context.Context, loader *mnist.Loader, p, steps, warmup int) (float64, error) {
	cfg := benchConfig(p)
	self, err := startMember(ctx, cfg)
	if err != nil {
		return 0, err
	}
	defer self.neuron.Close()
	peerCfg := cfg
	peerCfg.Bootstrap = self.neuron.Metagraph.Addr()
	for range p {
		m, err := startMember(ctx, peerCfg)
		if err != nil {
			return 0, err
		}
		defer m.neuron.Close()
	}
	return timeSteps(ctx, loader, cfg, self, p+1, steps, warmup)
}

// timeSteps waits, at most 60 s, until self's Metagraph lists synapses
// synapses, then trains self for warmup and then steps steps, each of which
// must route to every synapse with no failed call, and returns the samples
// per second of the timed steps.
func timeSteps(ctx context.Context, loader *mnist.Loader, cfg neuron.Config, self *member, synapses, steps, warmup int) (float64, error) {
	deadline := time.Now().Add(60 * time.Second)
	for len(self.neuron.Metagraph.GetSynapses(1000)) < synapses {
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%d synapses did not join within 60s", synapses)
		}
		time.Sleep(50 * time.Millisecond)
	}
	trainer, err := newTrainer(cfg, self)
	if err != nil {
		return 0, err
	}
	defer trainer.Close()
	var start time.Time
	done, samples := 0, 0
	for b := range loader.Tensors().Epoch(ctx, 0) {
		if done == warmup {
			start = time.Now()
		}
		n := int(b.Inputs.Size(0))
		res, err := trainer.Step(ctx, b)
		if err != nil {
			return 0, err
		}
		if res.Synapses != synapses || res.Failed > 0 {
			return 0, fmt.Errorf("step routed to %d synapses with %d failed calls, want %d and none", res.Synapses, res.Failed, synapses)
		}
		if done++; done > warmup {
			samples += n
		}
		if done == warmup+steps {
			break
		}
	}
	return float64(samples) / time.Since(start).Seconds(), nil
}
