package neuron

import (
	"context"
	"iter"
	"math"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
	"github.com/opentensor/bittensor-go/torch/optim"
)

// A lone neuron's step calls its own synapse (nP|nS 0|1), learns, and moves its
// synapse's weight toward the router's mean gate: w = 0.99·w + 0.01·1.
func TestTrainerStepAlone(t *testing.T) {
	tr, n := newTestTrainer(t, "")
	ctx := context.Background()
	var first, last float64 // mean local loss of the first and the last 10 steps
	for i := range 40 {
		res, err := tr.Step(ctx, tinyBatch())
		if err != nil {
			t.Fatal(err)
		}
		if res.Peers != 0 || res.Synapses != 1 || res.Failed != 0 {
			t.Fatalf("step %d: nP|nS %d|%d with %d failed calls, want 0|1 and none", i, res.Peers, res.Synapses, res.Failed)
		}
		switch {
		case i < 10:
			first += res.LocalLoss / 10
		case i >= 30:
			last += res.LocalLoss / 10
		}
	}
	if math.IsNaN(last) || !(last < 0.9*first) {
		t.Errorf("local loss went from %v to %v over 40 steps", first, last)
	}
	synapses := n.Metagraph.GetSynapses(10)
	want := 1 - math.Pow(0.99, 40) // 40 steps toward a mean gate of 1
	if w := n.Metagraph.Weights(synapses); len(w) != 1 || math.Abs(w[0]-want) > 1e-6 {
		t.Errorf("weights %v after 40 steps, want [%v]", w, want)
	}
}

// A checkpoint restores the model, the router with its key owners, the
// epoch and the best loss.
func TestTrainerCheckpointRoundTrip(t *testing.T) {
	tr, _ := newTestTrainer(t, "")
	if _, err := tr.Step(context.Background(), tinyBatch()); err != nil {
		t.Fatal(err)
	}
	tr.epoch, tr.bestLoss = 3, 0.25
	path := filepath.Join(t.TempDir(), "ckpt")
	if err := tr.Save(path); err != nil {
		t.Fatal(err)
	}
	resumed, _ := newTestTrainer(t, path)
	if resumed.Epoch() != 3 || resumed.bestLoss != 0.25 {
		t.Fatalf("resumed at epoch %d, best loss %v; want 3, 0.25", resumed.Epoch(), resumed.bestLoss)
	}
	if !slices.Equal(resumed.router.SlotOwners(), tr.router.SlotOwners()) {
		t.Fatalf("router key owners %v, want %v", resumed.router.SlotOwners(), tr.router.SlotOwners())
	}
	want, got := nn.StateDict(tr.model), nn.StateDict(resumed.model)
	for name, w := range nn.StateDict(tr.router) {
		want["router."+name], got["router."+name] = w, nn.StateDict(resumed.router)[name]
	}
	for name, w := range want {
		a, b := floats(t, w), floats(t, got[name])
		if !slices.Equal(a, b) {
			t.Errorf("%s differs after resume", name)
		}
	}
}

// A step whose loss is not finite changes nothing: no parameter, no weight.
func TestTrainerSkipsAStepWhoseLossIsNotFinite(t *testing.T) {
	tr, n := newTestTrainer(t, "")
	ctx := context.Background()
	if _, err := tr.Step(ctx, tinyBatch()); err != nil {
		t.Fatal(err)
	}
	synapses := n.Metagraph.GetSynapses(10)
	weights := n.Metagraph.Weights(synapses)
	before := map[string][]float32{}
	for name, p := range nn.StateDict(tr.model) {
		before[name] = floats(t, p)
	}
	b := tinyBatch()
	b.Inputs = torch.Full([]int64{8, tinyIn}, math.NaN())
	res, err := tr.Step(ctx, b)
	if err != nil {
		t.Fatalf("a step on NaN inputs failed: %v", err)
	}
	if !res.Skipped || !math.IsNaN(res.LocalLoss) {
		t.Fatalf("step on NaN inputs: %+v, want a skipped step with a NaN local loss", res)
	}
	for name, p := range nn.StateDict(tr.model) {
		if !slices.Equal(floats(t, p), before[name]) {
			t.Errorf("%s changed in a skipped step", name)
		}
	}
	if w := n.Metagraph.Weights(synapses); !slices.Equal(w, weights) {
		t.Errorf("weights went from %v to %v in a skipped step", weights, w)
	}
	// Training goes on.
	if res, err := tr.Step(ctx, tinyBatch()); err != nil || res.Skipped || math.IsNaN(res.LocalLoss) {
		t.Fatalf("the step after a skipped one: %+v, %v", res, err)
	}
}

// A neuron's Dendrite dials through the neuron's one bounded pool (its
// gossip does too: see metagraph's TestGossipDialsThroughSharedPool), which
// the neuron closes.
func TestNeuronSharesOneConnectionPool(t *testing.T) {
	tr, n := newTestTrainer(t, "")
	if n.Dendrite.pool != n.Conns || n.Dendrite.ownsPool {
		t.Fatal("the Dendrite does not dial through the neuron's pool")
	}
	if _, err := tr.Step(context.Background(), tinyBatch()); err != nil {
		t.Fatal(err)
	}
	if got := n.Conns.Len(); got != 0 {
		t.Errorf("after a lone step the pool holds %d connections, want none (the own synapse is called in-process)", got)
	}
	// A call over the wire to the neuron's own Axon dials through the pool.
	own := n.Metagraph.GetSynapses(1)[0]
	in, err := EncodeTorch(n.Dendrite.bufs, torch.Zeros([]int64{1, tinyIn}), bittensorpb.Modality_TENSOR, false, true)
	if err != nil {
		t.Fatal(err)
	}
	resp := n.Dendrite.newAnswer(nil)
	if err := n.Dendrite.call(context.Background(), own, false, 5*time.Second, resp, in); err != nil {
		t.Fatal(err)
	}
	resp.Free()
	in.Free()
	if got := n.Conns.Len(); got != 1 {
		t.Errorf("after a call over the wire the pool holds %d connections, want 1 (to the neuron's own Axon)", got)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if got := n.Conns.Len(); got != 0 {
		t.Errorf("after Close the pool holds %d connections", got)
	}
}

// statefulModel is a tinyModel that records its mode in Forward and the
// commits of its state (as a model with batch norm would).
type statefulModel struct {
	*tinyModel
	commits        int
	forwardsInEval int
}

func (m *statefulModel) Forward(x, network, targets *torch.Tensor) *Output {
	if !m.IsTraining() {
		m.forwardsInEval++
	}
	return m.tinyModel.Forward(x, network, targets)
}

func (m *statefulModel) CommitState() error {
	m.commits++
	return nil
}

// A StatefulModel's state is committed after each optimizer step, and its
// Forward runs in evaluation mode during Test only.
func TestTrainerCommitsStateAndTestsInEvalMode(t *testing.T) {
	torch.ManualSeed(6)
	m := &statefulModel{tinyModel: newTinyModel()}
	tr, _, _ := startNeuronServing(t, testNeuronConfig(), m)
	ctx := context.Background()
	for range 3 {
		if _, err := tr.Step(ctx, tinyBatch()); err != nil {
			t.Fatal(err)
		}
	}
	if m.commits != 3 || m.forwardsInEval != 0 {
		t.Fatalf("%d commits and %d eval-mode forwards after 3 steps, want 3 and 0", m.commits, m.forwardsInEval)
	}
	if _, err := tr.Test(ctx, tinyBatches{2}); err != nil {
		t.Fatal(err)
	}
	if m.forwardsInEval != 2 || !m.IsTraining() || m.commits != 3 {
		t.Fatalf("Test: %d eval-mode forwards of 2 batches, training mode after: %v, %d commits",
			m.forwardsInEval, m.IsTraining(), m.commits)
	}
}

// The optimizer's settings come from WithSGD: with a learning rate of
// 1e-30 a step leaves float32 parameters as they were (the default 0.01
// moves them: TestTrainerStepAlone), and bad settings are refused.
func TestTrainerWithSGD(t *testing.T) {
	torch.ManualSeed(7)
	cfg := testNeuronConfig()
	model := newTinyModel()
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
	defer n.Close()
	router, err := NewRouter(tinyContext, 2, 2, WithCapacity(4))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(cfg.TrainerConfig(), n.TrainerNetwork(), syn, router, t.TempDir(), torch.CPU, WithSGD(optim.SGDOptions{LR: 1e-30}))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	before, err := model.classifier.Weight.Clone().Float32s()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Step(context.Background(), tinyBatch()); err != nil {
		t.Fatal(err)
	}
	after, err := model.classifier.Weight.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(before, after) {
		t.Fatal("a step with learning rate 1e-30 changed the parameters")
	}
	if _, err := NewTrainer(cfg.TrainerConfig(), n.TrainerNetwork(), syn, router, t.TempDir(), torch.CPU, WithSGD(optim.SGDOptions{LR: -1})); err == nil {
		t.Fatal("a negative learning rate was accepted")
	}
}

// tinyBatches is n batches of tinyBatch.
type tinyBatches struct{ n int }

func (b tinyBatches) Len() int      { return b.n }
func (b tinyBatches) Examples() int { return 8 * b.n }
func (b tinyBatches) Epoch(ctx context.Context, _ int) iter.Seq[Batch] {
	return func(yield func(Batch) bool) {
		for range b.n {
			if ctx.Err() != nil || !yield(tinyBatch()) {
				return
			}
		}
	}
}

// encodeCounter is a tinyModel that counts its Encodes.
type encodeCounter struct {
	*tinyModel
	encodes atomic.Int64
}

func (m *encodeCounter) Encode(x *torch.Tensor) *torch.Tensor {
	m.encodes.Add(1)
	return m.tinyModel.Encode(x)
}

// sharedTinyModel is an encodeCounter whose local path is its encoding,
// shared with the router (a SharedEncodingModel).
type sharedTinyModel struct{ encodeCounter }

func (m *sharedTinyModel) ForwardLocal(x *torch.Tensor) *Output { return m.forwardLocal(x) }

func (m *sharedTinyModel) ForwardNetwork(out *Output, x, network, targets *torch.Tensor) *Output {
	return m.forwardNetwork(out, x, network, targets)
}

// A SharedEncodingModel's step never encodes the batch apart (the router
// takes the local path's encoding, and the own synapse answers with it)
// and trains the model exactly as the step of the same model without the
// interface does, which encodes it twice (for the router, and in the own
// synapse's in-process call), learning from its own answer included.
func TestTrainerSharesTheLocalEncoding(t *testing.T) {
	cfg := testNeuronConfig()
	torch.ManualSeed(5)
	plain := &encodeCounter{tinyModel: newTinyModel()}
	plainTrainer, _, _ := startNeuronServing(t, cfg, plain)
	torch.ManualSeed(5)
	shared := &sharedTinyModel{encodeCounter{tinyModel: newTinyModel()}}
	sharedTrainer, _, _ := startNeuronServing(t, cfg, shared)
	before := plain.encoder.Weight.Detach().Clone()
	ctx := context.Background()
	const steps = 5
	for i := range steps {
		b := tinyBatch()
		for _, tr := range []*Trainer{plainTrainer, sharedTrainer} {
			torch.ManualSeed(int64(100 + i)) // the router draws its noise
			if _, err := tr.Step(ctx, Batch{Inputs: b.Inputs.Clone(), Targets: b.Targets.Clone()}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if p, s := plain.encodes.Load(), shared.encodes.Load(); p != 2*steps || s != 0 {
		t.Errorf("%d steps encoded %d times without sharing and %d with, want %d and 0", steps, p, s, 2*steps)
	}
	want, got := nn.NamedParameters(plain), nn.NamedParameters(shared)
	for name, w := range want {
		diff, err := w.Sub(got[name]).Abs().Max().Item()
		if err != nil {
			t.Fatal(err)
		}
		if !(diff < 1e-5) {
			t.Errorf("parameter %s differs by %g after %d steps with the shared encoding", name, diff, steps)
		}
	}
	if moved, err := plain.encoder.Weight.Sub(before).Abs().Max().Item(); err != nil || !(moved > 1e-4) {
		t.Errorf("the encoder moved by %v (%v) in %d steps: the comparison shows nothing", moved, err, steps)
	}
}
