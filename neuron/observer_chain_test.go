package neuron

import (
	"math"
	"testing"

	"github.com/opentensor/bittensor-go/neuron/metagraph"
)

// On the chain, the page's weight matrix has this neuron's row first, then
// each other neuron's published record over the listed synapses, NaN where a
// Record says nothing of a synapse; weights for unlisted synapses and this
// neuron's own published record are left out.
func TestChainWeightsMatrix(t *testing.T) {
	cols := []string{"s1", "s2", "s3"}
	own := []float64{0.5, 0.25, 0.25}
	records := []*metagraph.WeightsRecord{
		{Neuron: "me", Weights: []metagraph.SynapseWeight{{Synapse: "s1", Weight: 9}}},
		{Neuron: "b", Weights: []metagraph.SynapseWeight{{Synapse: "s3", Weight: 0.75}, {Synapse: "gone", Weight: 1}, {Synapse: "s1", Weight: 0.125}}},
	}
	w := chainWeights("me", cols, own, records)
	if len(w.Rows) != 2 || w.Rows[0] != "me" || w.Rows[1] != "b" {
		t.Fatalf("rows %v, want [me b]", w.Rows)
	}
	if got := w.Values[0]; got[0] != 0.5 || got[1] != 0.25 || got[2] != 0.25 {
		t.Errorf("own row %v, want the current weights %v", got, own)
	}
	b := w.Values[1]
	if b[0] != 0.125 || !math.IsNaN(b[1]) || b[2] != 0.75 {
		t.Errorf("b's row %v, want [0.125 NaN 0.75]", b)
	}
}
