package neuron

import (
	"context"
	"testing"
	"time"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
)

// newTestTrainer starts a lone neuron on 127.0.0.1 serving a tinyModel and
// returns its trainer.
func newTestTrainer(t *testing.T, modelPath string) (*Trainer, *Neuron) {
	t.Helper()
	torch.ManualSeed(5)
	cfg := testNeuronConfig()
	cfg.ModelPath = modelPath
	tr, n, _ := startTinyNeuron(t, cfg)
	return tr, n
}

// testNeuronConfig returns the settings of a test neuron: fast gossip.
func testNeuronConfig() Config {
	cfg := DefaultConfig()
	cfg.MetagraphPeriod, cfg.MetagraphTTL = 50*time.Millisecond, time.Second
	return cfg
}

// startTinyNeuron starts a neuron on 127.0.0.1 serving a tinyModel drawn
// from the torch generator and returns its trainer, the neuron and the
// synapse; all end with the test.
func startTinyNeuron(t *testing.T, cfg Config) (*Trainer, *Neuron, *LocalSynapse) {
	t.Helper()
	return startNeuronServing(t, cfg, newTinyModel())
}

// startNeuronServing is startTinyNeuron for a model with tinyModel's sizes.
func startNeuronServing(t *testing.T, cfg Config, model Model) (*Trainer, *Neuron, *LocalSynapse) {
	t.Helper()
	key, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	syn, err := NewLocalSynapse(key, model, bittensorpb.Modality_TENSOR)
	if err != nil {
		t.Fatal(err)
	}
	n, err := StartNeuron(context.Background(), cfg, tinyContext, torch.CPU, syn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	router, err := NewRouter(tinyContext, 2, 2, WithCapacity(4))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(cfg.TrainerConfig(), n.TrainerNetwork(), syn, router, t.TempDir(), torch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.Close)
	return tr, n, syn
}

// tinyBatch returns 8 random examples whose class is whether their first
// feature is positive.
func tinyBatch() Batch {
	x := torch.Randn([]int64{8, tinyIn})
	return Batch{Inputs: x, Targets: x.Narrow(1, 0, 1).GtScalar(0).Reshape(-1).ToDType(torch.Int64)}
}

// synapseWithKey returns the definition of the synapse key in n's
// Metagraph, nil if it lists none.
func synapseWithKey(n *Neuron, key string) *bittensorpb.Synapse {
	for _, s := range n.Metagraph.GetSynapses(1000) {
		if s.GetSynapseKey() == key {
			return s
		}
	}
	return nil
}

// awaitSynapse trains tr until its neuron routes to the synapse key too
// (gossip brings it within a few periods), failing after the deadline.
func awaitSynapse(t *testing.T, tr *Trainer, n *Neuron, key string, deadline time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	for synapseWithKey(n, key) == nil {
		if ctx.Err() != nil {
			t.Fatalf("the bad synapse is not in the honest metagraph after %v", deadline)
		}
		if _, err := tr.Step(ctx, tinyBatch()); err != nil && ctx.Err() == nil {
			t.Fatalf("honest step while waiting for the bad peer: %v", err)
		}
	}
}
