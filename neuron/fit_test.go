package neuron

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/opentensor/bittensor-go/neuron/keys"
	"github.com/opentensor/bittensor-go/neuron/metagraph"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
)

func TestAskFits(t *testing.T) {
	mnist := Ask{Modality: bittensorpb.Modality_IMAGE, DType: bittensorpb.DataType_FLOAT32, Shape: []int64{1, 28, 28}, OutputDim: 1024}
	text := Ask{Modality: bittensorpb.Modality_TEXT, DType: bittensorpb.DataType_UTF8, OutputDim: 256}
	def := func(m bittensorpb.Modality, dt bittensorpb.DataType, in []int64, out ...int64) *bittensorpb.Synapse {
		return &bittensorpb.Synapse{Modality: m, InputDtype: dt, InputShape: in, OutputShape: out}
	}
	const (
		image, tensor, textM = bittensorpb.Modality_IMAGE, bittensorpb.Modality_TENSOR, bittensorpb.Modality_TEXT
		f32, f64, unknown    = bittensorpb.DataType_FLOAT32, bittensorpb.DataType_FLOAT64, bittensorpb.DataType_UNKNOWN
	)
	cases := []struct {
		name string
		ask  Ask
		def  *bittensorpb.Synapse
		want bool
	}{
		{"mnist's own", mnist, def(image, f32, []int64{1, 28, 28}, 1024), true},
		{"inputs undeclared", mnist, def(image, unknown, nil, 1024), true},
		{"any height and width", mnist, def(image, f32, []int64{1, -1, -1}, 1024), true},
		{"a 2020 definition", mnist, &bittensorpb.Synapse{}, false},
		{"text synapse", mnist, def(textM, unknown, nil, 1024), false},
		{"tensor synapse", mnist, def(tensor, f32, []int64{1, 28, 28}, 1024), false},
		{"narrower answer", mnist, def(image, f32, []int64{1, 28, 28}, 512), false},
		{"answer of two dims", mnist, def(image, f32, []int64{1, 28, 28}, 1024, 1), false},
		{"cifar images", mnist, def(image, f32, []int64{3, 32, 32}, 1024), false},
		{"flat images", mnist, def(image, f32, []int64{784}, 1024), false},
		{"float64 images", mnist, def(image, f64, []int64{1, 28, 28}, 1024), false},
		{"bert's own", text, def(textM, unknown, nil, 256), true},
		{"text of another width", text, def(textM, unknown, nil, 1024), false},
		{"image for text", text, def(image, unknown, nil, 256), false},
		{"text declaring a shape", text, def(textM, unknown, []int64{5}, 256), false},
	}
	for _, c := range cases {
		if got := c.ask.Fits(c.def); got != c.want {
			t.Errorf("%s: %v fits %v = %v, want %v", c.name, c.ask, c.def, got, c.want)
		}
	}
}

func TestAskFor(t *testing.T) {
	s := torch.NewScope()
	defer s.Close()
	ask, err := AskFor(bittensorpb.Modality_IMAGE, s.Track(torch.Zeros([]int64{64, 1, 28, 28})), 1024)
	if err != nil {
		t.Fatal(err)
	}
	want := Ask{Modality: bittensorpb.Modality_IMAGE, DType: bittensorpb.DataType_FLOAT32, Shape: []int64{1, 28, 28}, OutputDim: 1024}
	if ask.Modality != want.Modality || ask.DType != want.DType || !slices.Equal(ask.Shape, want.Shape) || ask.OutputDim != want.OutputDim {
		t.Fatalf("AskFor = %v, want %v", ask, want)
	}
	if _, err := AskFor(bittensorpb.Modality_TENSOR, s.Track(torch.Scalar(1)), 3); err == nil {
		t.Error("AskFor a scalar: no error")
	}
	if _, err := AskFor(bittensorpb.Modality_TENSOR, s.Track(torch.Zeros([]int64{2, 2}).ToDType(torch.Bool)), 3); err == nil {
		t.Error("AskFor bool inputs: no error")
	}
}

// declaringModel is tinyModel declaring float32 inputs of tinyIn features.
type declaringModel struct{ *tinyModel }

func (declaringModel) Inputs() InputSpec {
	return InputSpec{DType: bittensorpb.DataType_FLOAT32, Shape: []int64{-1, tinyIn}}
}

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

// A neuron in a network with a synapse of another width never calls it:
// both metagraphs hold both definitions, each trainer routes only to its
// own kind, and the other neuron's Axon receives no request.
func TestTrainerRoutesOnlyToFittingSynapses(t *testing.T) {
	torch.ManualSeed(7)
	cfg := testNeuronConfig()
	cfg.MetagraphTTL = 5 * time.Second // slack for a loaded machine
	trA, a, synA := startTinyNeuron(t, cfg)
	cfg.Bootstrap = a.Metagraph.Addr()
	trB, b, synB := startTinyNeuron(t, cfg)

	// A third neuron of the same modality and inputs announcing a wider
	// answer (never called, so its model need not be wider).
	key, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewLocalSynapse(key, newTinyModel(), bittensorpb.Modality_TENSOR)
	if err != nil {
		t.Fatal(err)
	}
	c, err := StartNeuron(context.Background(), cfg, tinyContext+1, torch.CPU, other)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	all := []string{synA.Key(), synB.Key(), other.Key()}
	for _, n := range []*Neuron{a, b} {
		for _, k := range all {
			for synapseWithKey(n, k) == nil {
				if ctx.Err() != nil {
					t.Fatalf("neuron %s never learned of synapse %s", keys.Label(n.Key.PublicHex()), keys.Label(k))
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
	// Step both until each has routed to the other (and at least 20 steps):
	// under load a definition may lapse for a moment, so the count of
	// fitting synapses may dip, but never include the wide one.
	routedPeer := map[*Trainer]bool{}
	for i := 0; i < 20 || !routedPeer[trA] || !routedPeer[trB]; i++ {
		if ctx.Err() != nil {
			t.Fatalf("after %d steps, a tiny neuron never routed to the other (A→B %v, B→A %v)", i, routedPeer[trA], routedPeer[trB])
		}
		for _, pair := range []struct {
			tr   *Trainer
			peer string
		}{{trA, synB.Key()}, {trB, synA.Key()}} {
			res, err := pair.tr.Step(ctx, tinyBatch())
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
