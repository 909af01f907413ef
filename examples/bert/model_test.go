package bert

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/opentensor/bittensor-go/examples/bert/wordpiece"
	"github.com/opentensor/bittensor-go/neuron"
	"github.com/opentensor/bittensor-go/neuron/dendrite"
	"github.com/opentensor/bittensor-go/neuron/keys"
	"github.com/opentensor/bittensor-go/neuron/synapse"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
)

// tinyConfig is a model small enough for fast tests, over the real vocabulary.
func tinyConfig() Config {
	return Config{Vocab: 30522, MaxLen: 16, Hidden: 16, Heads: 2, Intermediate: 32, Layers: 1, Dropout: 0.1}
}

func tinyModel(t *testing.T) *Model {
	t.Helper()
	torch.ManualSeed(7)
	m, err := NewModel(tinyConfig(), wordpiece.Default())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func values(t *testing.T, x *torch.Tensor) []float32 {
	t.Helper()
	v, err := x.Detach().Float32s()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Tokenize lays out pairs and single texts, pads to the longest, and takes
// any string.
func TestTokenize(t *testing.T) {
	m := tinyModel(t)
	x, err := m.Tokenize([]string{"hello world\nit is", "hello", "", "\xff\x00\n\n", strings.Repeat("word ", 1000)})
	if err != nil {
		t.Fatal(err)
	}
	if got := x.Shape(); !slices.Equal(got, []int64{5, 2, 16}) {
		t.Fatalf("shape %v, want [5 2 16] (the long text fills MaxLen)", got)
	}
	v, err := x.Int64s()
	if err != nil {
		t.Fatal(err)
	}
	row := func(i, j int) []int64 { return v[(i*2+j)*16 : (i*2+j)*16+16] }
	// [CLS] hello world [SEP] it is [SEP]; it=2009, is=2003.
	wantIDs := []int64{101, 7592, 2088, 102, 2009, 2003, 102, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	wantSeg := []int64{0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if !slices.Equal(row(0, 0), wantIDs) || !slices.Equal(row(0, 1), wantSeg) {
		t.Errorf("pair encoded as %v / %v, want %v / %v", row(0, 0), row(0, 1), wantIDs, wantSeg)
	}
	if got := row(2, 0)[:3]; !slices.Equal(got, []int64{101, 102, 0}) {
		t.Errorf("empty text encoded as %v, want [CLS] [SEP] [PAD]…", got)
	}
	if got := row(3, 0)[:4]; !slices.Equal(got, []int64{101, 102, 102, 0}) {
		t.Errorf("junk pair encoded as %v, want [CLS] [SEP] [SEP] [PAD]…", got)
	}
	if _, err := m.Tokenize(nil); err == nil {
		t.Error("an empty batch was tokenized")
	}
}

// Bad inputs give errors, never a crash.
func TestModelRefusesBadInputs(t *testing.T) {
	m := tinyModel(t)
	for name, x := range map[string]*torch.Tensor{
		"float":        torch.Zeros([]int64{2, 2, 4}),
		"rank 2":       torch.FromInt64([]int64{101, 102}, 1, 2),
		"no segments":  torch.FromInt64([]int64{101, 102}, 1, 1, 2),
		"too long":     torch.Zeros([]int64{1, 2, 17}, torch.WithDType(torch.Int64)),
		"id too large": torch.FromInt64([]int64{101, 40000, 0, 0}, 1, 2, 2),
		"negative id":  torch.FromInt64([]int64{101, -5, 0, 0}, 1, 2, 2),
		"segment 7":    torch.FromInt64([]int64{101, 102, 0, 7}, 1, 2, 2),
	} {
		if err := m.Encode(x).Err(); err == nil {
			t.Errorf("%s: Encode gave no error", name)
		}
		out := m.Forward(x, nil, torch.FromInt64([]int64{0}, 1))
		if err := out.Loss.Err(); err == nil {
			t.Errorf("%s: Forward gave no error", name)
		}
	}
}

// The served answer never uses dropout; the training path does while
// autograd is on, and a test pass (under NoGrad) does not.
func TestDropoutModes(t *testing.T) {
	m := tinyModel(t)
	x, err := m.Tokenize([]string{"the cat sat\non the mat", "dogs bark"})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := values(t, m.Encode(x)), values(t, m.Encode(x)); !slices.Equal(a, b) {
		t.Error("two Encodes of the same inputs differ: the served answer uses dropout")
	}
	network := torch.Zeros([]int64{2, 16})
	if a, b := values(t, m.Forward(x, network, nil).LocalTarget), values(t, m.Forward(x, network, nil).LocalTarget); slices.Equal(a, b) {
		t.Error("two training forwards are equal: no dropout while training")
	}
	var a, b []float32
	torch.NoGrad(func() {
		a, b = values(t, m.Forward(x, network, nil).LocalTarget), values(t, m.Forward(x, network, nil).LocalTarget)
	})
	if !slices.Equal(a, b) {
		t.Error("two forwards under NoGrad differ: dropout in a test pass")
	}
}

// A peer's ForwardText reaches the served BERT synapse over gRPC with the
// length-prefixed UTF-8 encoding, answers [batch, hidden], and its Backward
// trains the server: the synapse collects a parameter gradient.
func TestTextOverTheWire(t *testing.T) {
	m := tinyModel(t)
	id, err := keys.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	syn, err := synapse.NewLocal(id.Synapse, m, bittensorpb.Modality_TEXT)
	if err != nil {
		t.Fatal(err)
	}
	cfg := neuron.DefaultConfig()
	cfg.RemoteIP, cfg.Log = "127.0.0.1", zerolog.Nop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := neuron.StartNeuron(ctx, cfg, 16, torch.CPU, syn)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	defs := n.Metagraph.GetSynapses(10)
	if len(defs) != 1 {
		t.Fatalf("%d synapse definitions, want 1", len(defs))
	}
	key, err := keys.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	dcfg := dendrite.DefaultConfig()
	dcfg.OutputDim = 16
	d, err := dendrite.New(key, dcfg) // a stranger: calls go over the wire
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	batch := []string{"the cat sat\non the mat", "héllo wörld", "\x00 junk\u200b\n", ""}
	res, err := d.ForwardText(ctx, defs, [][]string{batch})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errs[0] != nil {
		t.Fatalf("ForwardText: %v", res.Errs[0])
	}
	got := values(t, res.Outputs[0])
	var want []float32
	torch.NoGrad(func() {
		x, err := m.Tokenize(batch)
		if err != nil {
			t.Fatal(err)
		}
		want = values(t, m.Encode(x))
	})
	if !slices.Equal(res.Outputs[0].Shape(), []int64{4, 16}) {
		t.Fatalf("answer of shape %v, want [4 16]", res.Outputs[0].Shape())
	}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-6 {
			t.Fatalf("answer element %d is %v, the model's own %v", i, got[i], want[i])
		}
	}
	select {
	case <-syn.RemoteGrads().Pending():
		t.Fatal("gradients pending before any Backward")
	default:
	}
	if err := res.Outputs[0].Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-syn.RemoteGrads().Pending():
	case <-ctx.Done():
		t.Fatal("the Backward of a text call did not train the server")
	}
}
