package trainer_test

import (
	"context"
	"iter"
	"math"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/opentensor/bittensor-go/neuron/dendrite"
	"github.com/opentensor/bittensor-go/neuron/internal/fixture"
	"github.com/opentensor/bittensor-go/neuron/internal/neurontest"
	"github.com/opentensor/bittensor-go/neuron/synapse"
	"github.com/opentensor/bittensor-go/neuron/trainer"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
	"github.com/opentensor/bittensor-go/torch/optim"
)

// A lone neuron's step calls its own synapse (nP|nS 0|1), learns, and moves its
// synapse's weight toward the router's mean gate: w = 0.99·w + 0.01·1.
func TestTrainerStepAlone(t *testing.T) {
	tr, n := neurontest.NewTrainer(t, "")
	ctx := context.Background()
	var first, last float64 // mean local loss of the first and the last 10 steps
	for i := range 40 {
		res, err := tr.Step(ctx, neurontest.TinyBatch())
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
	tr, _ := neurontest.NewTrainer(t, "")
	if _, err := tr.Step(context.Background(), neurontest.TinyBatch()); err != nil {
		t.Fatal(err)
	}
	tr.SetProgress(3, 0.25)
	path := filepath.Join(t.TempDir(), "ckpt")
	if err := tr.Save(path); err != nil {
		t.Fatal(err)
	}
	resumed, _ := neurontest.NewTrainer(t, path)
	if resumed.Epoch() != 3 || resumed.BestLoss() != 0.25 {
		t.Fatalf("resumed at epoch %d, best loss %v; want 3, 0.25", resumed.Epoch(), resumed.BestLoss())
	}
	if !slices.Equal(resumed.RoutedBy().SlotOwners(), tr.RoutedBy().SlotOwners()) {
		t.Fatalf("router key owners %v, want %v", resumed.RoutedBy().SlotOwners(), tr.RoutedBy().SlotOwners())
	}
	want, got := nn.StateDict(tr.TrainedModel()), nn.StateDict(resumed.TrainedModel())
	for name, w := range nn.StateDict(tr.RoutedBy()) {
		want["router."+name], got["router."+name] = w, nn.StateDict(resumed.RoutedBy())[name]
	}
	for name, w := range want {
		a, b := fixture.Floats(t, w), fixture.Floats(t, got[name])
		if !slices.Equal(a, b) {
			t.Errorf("%s differs after resume", name)
		}
	}
}

// A step whose loss is not finite changes nothing: no parameter, no weight.
func TestTrainerSkipsAStepWhoseLossIsNotFinite(t *testing.T) {
	tr, n := neurontest.NewTrainer(t, "")
	ctx := context.Background()
	if _, err := tr.Step(ctx, neurontest.TinyBatch()); err != nil {
		t.Fatal(err)
	}
	synapses := n.Metagraph.GetSynapses(10)
	weights := n.Metagraph.Weights(synapses)
	before := map[string][]float32{}
	for name, p := range nn.StateDict(tr.TrainedModel()) {
		before[name] = fixture.Floats(t, p)
	}
	b := neurontest.TinyBatch()
	b.Inputs = torch.Full([]int64{8, fixture.TinyIn}, math.NaN())
	res, err := tr.Step(ctx, b)
	if err != nil {
		t.Fatalf("a step on NaN inputs failed: %v", err)
	}
	if !res.Skipped || !math.IsNaN(res.LocalLoss) {
		t.Fatalf("step on NaN inputs: %+v, want a skipped step with a NaN local loss", res)
	}
	for name, p := range nn.StateDict(tr.TrainedModel()) {
		if !slices.Equal(fixture.Floats(t, p), before[name]) {
			t.Errorf("%s changed in a skipped step", name)
		}
	}
	if w := n.Metagraph.Weights(synapses); !slices.Equal(w, weights) {
		t.Errorf("weights went from %v to %v in a skipped step", weights, w)
	}
	// Training goes on.
	if res, err := tr.Step(ctx, neurontest.TinyBatch()); err != nil || res.Skipped || math.IsNaN(res.LocalLoss) {
		t.Fatalf("the step after a skipped one: %+v, %v", res, err)
	}
}

// A neuron's Dendrite dials through the neuron's one bounded pool (its
// gossip does too: see metagraph's TestGossipDialsThroughSharedPool), which
// the neuron closes.
func TestNeuronSharesOneConnectionPool(t *testing.T) {
	tr, n := neurontest.NewTrainer(t, "")
	if n.Dendrite.Pool() != n.Conns {
		t.Fatal("the Dendrite does not dial through the neuron's pool")
	}
	if _, err := tr.Step(context.Background(), neurontest.TinyBatch()); err != nil {
		t.Fatal(err)
	}
	if got := n.Conns.Len(); got != 0 {
		t.Errorf("after a lone step the pool holds %d connections, want none (the own synapse is called in-process)", got)
	}
	// A call over the wire to the neuron's own Axon (by a Dendrite that does
	// not call it in-process) dials through the pool.
	dcfg := dendrite.DefaultConfig()
	dcfg.OutputDim, dcfg.Pool = fixture.TinyContext, n.Conns
	wired, err := dendrite.New(n.Key, dcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer wired.Close()
	own := n.Metagraph.GetSynapses(1)[0]
	res, err := wired.ForwardTensor(context.Background(), []*bittensorpb.Synapse{own}, []*torch.Tensor{torch.Zeros([]int64{1, fixture.TinyIn})})
	if err != nil || res.Errs[0] != nil {
		t.Fatalf("a call over the wire: %v %v", err, res.Errs)
	}
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
	*fixture.TinyModel
	commits        int
	forwardsInEval int
}

func (m *statefulModel) Forward(x, network, targets *torch.Tensor) *synapse.Output {
	if !m.IsTraining() {
		m.forwardsInEval++
	}
	return m.TinyModel.Forward(x, network, targets)
}

func (m *statefulModel) CommitState() error {
	m.commits++
	return nil
}

// A StatefulModel's state is committed after each optimizer step, and its
// Forward runs in evaluation mode during Test only.
func TestTrainerCommitsStateAndTestsInEvalMode(t *testing.T) {
	torch.ManualSeed(6)
	m := &statefulModel{TinyModel: fixture.NewTinyModel()}
	tr, _, _ := neurontest.StartNeuronServing(t, neurontest.Config(), m)
	ctx := context.Background()
	for range 3 {
		if _, err := tr.Step(ctx, neurontest.TinyBatch()); err != nil {
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
	cfg := neurontest.Config()
	model := fixture.NewTinyModel()
	n, syn, router := neurontest.StartLone(t, cfg, model)
	tr, err := trainer.New(cfg.TrainerConfig(), n.TrainerNetwork(), syn, router, t.TempDir(), torch.CPU, trainer.WithSGD(optim.SGDOptions{LR: 1e-30}))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	before, err := model.Classifier.Weight.Clone().Float32s()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Step(context.Background(), neurontest.TinyBatch()); err != nil {
		t.Fatal(err)
	}
	after, err := model.Classifier.Weight.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(before, after) {
		t.Fatal("a step with learning rate 1e-30 changed the parameters")
	}
	if _, err := trainer.New(cfg.TrainerConfig(), n.TrainerNetwork(), syn, router, t.TempDir(), torch.CPU, trainer.WithSGD(optim.SGDOptions{LR: -1})); err == nil {
		t.Fatal("a negative learning rate was accepted")
	}
}

// tinyBatches is n batches of tinyBatch.
type tinyBatches struct{ n int }

func (b tinyBatches) Len() int      { return b.n }
func (b tinyBatches) Examples() int { return 8 * b.n }
func (b tinyBatches) Epoch(ctx context.Context, _ int) iter.Seq[trainer.Batch] {
	return func(yield func(trainer.Batch) bool) {
		for range b.n {
			if ctx.Err() != nil || !yield(neurontest.TinyBatch()) {
				return
			}
		}
	}
}

// encodeCounter is a tinyModel that counts its Encodes.
type encodeCounter struct {
	*fixture.TinyModel
	encodes atomic.Int64
}

func (m *encodeCounter) Encode(x *torch.Tensor) *torch.Tensor {
	m.encodes.Add(1)
	return m.TinyModel.Encode(x)
}

// sharedTinyModel is an encodeCounter whose local path is its encoding,
// shared with the router (a SharedEncodingModel).
type sharedTinyModel struct{ encodeCounter }

func (m *sharedTinyModel) ForwardLocal(x *torch.Tensor) *synapse.Output { return m.LocalPath(x) }

func (m *sharedTinyModel) ForwardNetwork(out *synapse.Output, x, network, targets *torch.Tensor) *synapse.Output {
	return m.NetworkPath(out, x, network, targets)
}

// A SharedEncodingModel's step never encodes the batch apart (the router
// takes the local path's encoding, and the own synapse answers with it)
// and trains the model exactly as the step of the same model without the
// interface does, which encodes it twice (for the router, and in the own
// synapse's in-process call), learning from its own answer included.
func TestTrainerSharesTheLocalEncoding(t *testing.T) {
	cfg := neurontest.Config()
	torch.ManualSeed(5)
	plain := &encodeCounter{TinyModel: fixture.NewTinyModel()}
	plainTrainer, _, _ := neurontest.StartNeuronServing(t, cfg, plain)
	torch.ManualSeed(5)
	shared := &sharedTinyModel{encodeCounter{TinyModel: fixture.NewTinyModel()}}
	sharedTrainer, _, _ := neurontest.StartNeuronServing(t, cfg, shared)
	before := plain.Encoder.Weight.Detach().Clone()
	ctx := context.Background()
	const steps = 5
	for i := range steps {
		b := neurontest.TinyBatch()
		for _, tr := range []*trainer.Trainer{plainTrainer, sharedTrainer} {
			torch.ManualSeed(int64(100 + i)) // the router draws its noise
			if _, err := tr.Step(ctx, trainer.Batch{Inputs: b.Inputs.Clone(), Targets: b.Targets.Clone()}); err != nil {
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
	if moved, err := plain.Encoder.Weight.Sub(before).Abs().Max().Item(); err != nil || !(moved > 1e-4) {
		t.Errorf("the encoder moved by %v (%v) in %d steps: the comparison shows nothing", moved, err, steps)
	}
}
