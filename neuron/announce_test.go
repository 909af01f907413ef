package neuron

import (
	"slices"
	"testing"

	"github.com/opentensor/bittensor-go/neuron/metagraph"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

// A LocalSynapse's definition announces its modality, its declared inputs
// and the width given; a synapse that says nothing announces nothing.
func TestAnnounce(t *testing.T) {
	key := testKey(t, 1)
	syn, err := NewLocalSynapse(key, declaringModel{newTinyModel()}, bittensorpb.Modality_TENSOR)
	if err != nil {
		t.Fatal(err)
	}
	d := metagraph.NewSynapseDefinition(key.PublicHex(), "10.0.0.1", 8091)
	Announce(d, syn, tinyContext)
	if d.Modality != bittensorpb.Modality_TENSOR || d.InputDtype != bittensorpb.DataType_FLOAT32 ||
		!slices.Equal(d.InputShape, []int64{tinyIn}) || !slices.Equal(d.OutputShape, []int64{tinyContext}) {
		t.Fatalf("announced %v", d)
	}
	if err := metagraph.SignSynapse(d, testKey(t, 2), 1, 0); err != nil {
		t.Fatalf("an announced local synapse does not sign: %v", err)
	}

	undeclared, err := NewLocalSynapse(key, newTinyModel(), bittensorpb.Modality_IMAGE)
	if err != nil {
		t.Fatal(err)
	}
	d = metagraph.NewSynapseDefinition(key.PublicHex(), "10.0.0.1", 8091)
	Announce(d, undeclared, 7)
	if d.Modality != bittensorpb.Modality_IMAGE || d.InputDtype != 0 || d.InputShape != nil || !slices.Equal(d.OutputShape, []int64{7}) {
		t.Fatalf("announced %v for a model that declares no inputs", d)
	}

	plain := NewSynapseBase(key) // no Modality method
	d = metagraph.NewSynapseDefinition(key.PublicHex(), "10.0.0.1", 8091)
	Announce(d, plain, 7)
	if d.Modality != 0 || d.InputDtype != 0 || d.InputShape != nil || d.OutputShape != nil {
		t.Fatalf("a synapse that says nothing announced %v", d)
	}
}
