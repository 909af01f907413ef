package neuron_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/opentensor/bittensor-go/internal/testing/eventually"
	"github.com/opentensor/bittensor-go/neuron"
	"github.com/opentensor/bittensor-go/neuron/internal/fixture"
	"github.com/opentensor/bittensor-go/neuron/internal/neurontest"
	"github.com/opentensor/bittensor-go/neuron/keys"
	"github.com/opentensor/bittensor-go/neuron/synapse"
	"github.com/opentensor/bittensor-go/neuron/trainer"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
)

// A neuron in a network with a synapse of another width never calls it:
// both metagraphs hold both definitions, each trainer routes only to its
// own kind, and the other neuron's Axon receives no request.
func TestTrainerRoutesOnlyToFittingSynapses(t *testing.T) {
	torch.ManualSeed(7)
	cfg := neurontest.Config()
	cfg.MetagraphTTL = 5 * time.Second // slack for a loaded machine
	trA, a, synA := neurontest.StartTinyNeuron(t, cfg)
	cfg.Bootstrap = a.Metagraph.Addr()
	trB, b, synB := neurontest.StartTinyNeuron(t, cfg)

	// A third neuron of the same modality and inputs announcing a wider
	// answer (never called, so its model need not be wider).
	key, err := keys.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	other, err := synapse.NewLocal(key, fixture.NewTinyModel(), bittensorpb.Modality_TENSOR)
	if err != nil {
		t.Fatal(err)
	}
	c, err := neuron.StartNeuron(context.Background(), cfg, fixture.TinyContext+1, torch.CPU, other)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	deadline, _ := ctx.Deadline()
	all := []string{synA.Key(), synB.Key(), other.Key()}
	for _, n := range []*neuron.Neuron{a, b} {
		for _, k := range all {
			eventually.True(t, time.Until(deadline), func() bool { return neurontest.SynapseWithKey(n, k) != nil },
				"neuron %s learns of synapse %s", keys.Label(n.Key.PublicHex()), keys.Label(k))
		}
	}
	// Step both until each has routed to the other (and at least 20 steps):
	// under load a definition may lapse for a moment, so the count of
	// fitting synapses may dip, but never include the wide one.
	routedPeer := map[*trainer.Trainer]bool{}
	for i := 0; i < 20 || !routedPeer[trA] || !routedPeer[trB]; i++ {
		if ctx.Err() != nil {
			t.Fatalf("after %d steps, a tiny neuron never routed to the other (A→B %v, B→A %v)", i, routedPeer[trA], routedPeer[trB])
		}
		for _, pair := range []struct {
			tr   *trainer.Trainer
			peer string
		}{{trA, synB.Key()}, {trB, synA.Key()}} {
			res, err := pair.tr.Step(ctx, neurontest.TinyBatch())
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			if res.Synapses > 2 {
				t.Fatalf("step %d: %d synapses fit, want at most 2 (the tiny ones, not the wide one)", i, res.Synapses)
			}
			if slices.Contains(res.Routed, keys.Label(other.Key())) {
				t.Fatalf("step %d routed to the wide synapse: %v", i, res.Routed)
			}
			routedPeer[pair.tr] = routedPeer[pair.tr] || slices.Contains(res.Routed, keys.Label(pair.peer))
		}
	}
	if got := c.Axon.Stats().Requests; got != 0 {
		t.Fatalf("the wide synapse's Axon received %d requests, want none", got)
	}
	if st, ok := a.Dendrite.Stats()[other.Key()]; ok && st.Forwards > 0 {
		t.Fatalf("A's Dendrite called the wide synapse %d times", st.Forwards)
	}
	if got := b.Axon.Stats().Requests; got == 0 {
		t.Fatal("B's Axon received no request from A")
	}
}
