package neurontest

import (
	"context"
	"testing"
	"time"

	"github.com/opentensor/bittensor-go/neuron"
	"github.com/opentensor/bittensor-go/neuron/internal/fixture"
	"github.com/opentensor/bittensor-go/neuron/keys"
	"github.com/opentensor/bittensor-go/neuron/router"
	"github.com/opentensor/bittensor-go/neuron/synapse"
	"github.com/opentensor/bittensor-go/neuron/trainer"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
)

// NewTrainer starts a lone neuron on 127.0.0.1 serving a TinyModel and
// returns its trainer. Each prepare runs on the neuron before the trainer is
// made (to change its Dendrite, say).
func NewTrainer(t *testing.T, modelPath string, prepare ...func(*neuron.Neuron)) (*trainer.Trainer, *neuron.Neuron) {
	t.Helper()
	torch.ManualSeed(5)
	cfg := Config()
	cfg.ModelPath = modelPath
	tr, n, _ := StartNeuronServing(t, cfg, fixture.NewTinyModel(), prepare...)
	return tr, n
}

// Config returns the settings of a test neuron: fast gossip.
func Config() neuron.Config {
	cfg := neuron.DefaultConfig()
	cfg.MetagraphPeriod, cfg.MetagraphTTL = 50*time.Millisecond, time.Second
	return cfg
}

// StartTinyNeuron starts a neuron on 127.0.0.1 serving a TinyModel drawn
// from the torch generator and returns its trainer, the neuron and the
// synapse; all end with the test.
func StartTinyNeuron(t *testing.T, cfg neuron.Config) (*trainer.Trainer, *neuron.Neuron, *synapse.Local) {
	t.Helper()
	return StartNeuronServing(t, cfg, fixture.NewTinyModel())
}

// StartNeuronServing is StartTinyNeuron for a model with TinyModel's sizes;
// each prepare runs on the neuron before the trainer is made.
func StartNeuronServing(t *testing.T, cfg neuron.Config, model synapse.Model, prepare ...func(*neuron.Neuron)) (*trainer.Trainer, *neuron.Neuron, *synapse.Local) {
	t.Helper()
	n, syn, rt := StartLone(t, cfg, model, prepare...)
	tr, err := trainer.New(cfg.TrainerConfig(), n.TrainerNetwork(), syn, rt, t.TempDir(), torch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.Close)
	return tr, n, syn
}

// StartLone starts a neuron on 127.0.0.1 serving model (of TinyModel's
// sizes) and returns it, its synapse and a router for a trainer of it; each
// prepare runs on the neuron first. The neuron ends with the test.
func StartLone(t *testing.T, cfg neuron.Config, model synapse.Model, prepare ...func(*neuron.Neuron)) (*neuron.Neuron, *synapse.Local, *router.Router) {
	t.Helper()
	key, err := keys.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	syn, err := synapse.NewLocal(key, model, bittensorpb.Modality_TENSOR)
	if err != nil {
		t.Fatal(err)
	}
	n, err := neuron.StartNeuron(context.Background(), cfg, fixture.TinyContext, torch.CPU, syn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	for _, p := range prepare {
		p(n)
	}
	rt, err := router.New(fixture.TinyContext, 2, 2, router.WithCapacity(4))
	if err != nil {
		t.Fatal(err)
	}
	return n, syn, rt
}

// TinyBatch returns 8 random examples whose class is whether their first
// feature is positive.
func TinyBatch() trainer.Batch {
	x := torch.Randn([]int64{8, fixture.TinyIn})
	return trainer.Batch{Inputs: x, Targets: x.Narrow(1, 0, 1).GtScalar(0).Reshape(-1).ToDType(torch.Int64)}
}

// SynapseWithKey returns the definition of the synapse key in n's
// Metagraph, nil if it lists none.
func SynapseWithKey(n *neuron.Neuron, key string) *bittensorpb.Synapse {
	for _, s := range n.Metagraph.GetSynapses(1000) {
		if s.GetSynapseKey() == key {
			return s
		}
	}
	return nil
}

// AwaitSynapse trains tr until its neuron routes to the synapse key too
// (gossip brings it within a few periods), failing after the deadline.
func AwaitSynapse(t *testing.T, tr *trainer.Trainer, n *neuron.Neuron, key string, deadline time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	for SynapseWithKey(n, key) == nil {
		if ctx.Err() != nil {
			t.Fatalf("the bad synapse is not in the honest metagraph after %v", deadline)
		}
		if _, err := tr.Step(ctx, TinyBatch()); err != nil && ctx.Err() == nil {
			t.Fatalf("honest step while waiting for the bad peer: %v", err)
		}
	}
}
