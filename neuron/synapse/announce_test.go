package synapse_test

import (
	"slices"
	"testing"

	"github.com/opentensor/bittensor-go/neuron/synapse"

	"github.com/opentensor/bittensor-go/neuron/internal/fixture"

	"github.com/opentensor/bittensor-go/neuron/metagraph"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

// A Local's definition announces its modality, its declared inputs
// and the width given; a synapse that says nothing announces nothing.
func TestAnnounce(t *testing.T) {
	key := fixture.Key(t, 1)
	syn, err := synapse.NewLocal(key, fixture.DeclaringModel{TinyModel: fixture.NewTinyModel()}, bittensorpb.Modality_TENSOR)
	if err != nil {
		t.Fatal(err)
	}
	d := metagraph.NewSynapseDefinition(key.PublicHex(), "10.0.0.1", 8091)
	synapse.Announce(d, syn, fixture.TinyContext)
	if d.Modality != bittensorpb.Modality_TENSOR || d.InputDtype != bittensorpb.DataType_FLOAT32 ||
		!slices.Equal(d.InputShape, []int64{fixture.TinyIn}) || !slices.Equal(d.OutputShape, []int64{fixture.TinyContext}) {
		t.Fatalf("announced %v", d)
	}
	if err := metagraph.SignSynapse(d, fixture.Key(t, 2), 1, 0); err != nil {
		t.Fatalf("an announced local synapse does not sign: %v", err)
	}

	undeclared, err := synapse.NewLocal(key, fixture.NewTinyModel(), bittensorpb.Modality_IMAGE)
	if err != nil {
		t.Fatal(err)
	}
	d = metagraph.NewSynapseDefinition(key.PublicHex(), "10.0.0.1", 8091)
	synapse.Announce(d, undeclared, 7)
	if d.Modality != bittensorpb.Modality_IMAGE || d.InputDtype != 0 || d.InputShape != nil || !slices.Equal(d.OutputShape, []int64{7}) {
		t.Fatalf("announced %v for a model that declares no inputs", d)
	}

	plain := synapse.NewBase(key) // no Modality method
	d = metagraph.NewSynapseDefinition(key.PublicHex(), "10.0.0.1", 8091)
	synapse.Announce(d, plain, 7)
	if d.Modality != 0 || d.InputDtype != 0 || d.InputShape != nil || d.OutputShape != nil {
		t.Fatalf("a synapse that says nothing announced %v", d)
	}
}
