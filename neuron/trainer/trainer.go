package trainer

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"net"
	"path/filepath"
	"slices"
	"time"

	"github.com/opentensor/bittensor-go/neuron/axon"
	"github.com/opentensor/bittensor-go/neuron/dendrite"
	"github.com/opentensor/bittensor-go/neuron/router"
	"github.com/opentensor/bittensor-go/neuron/synapse"

	"google.golang.org/grpc/codes"

	"github.com/opentensor/bittensor-go/neuron/keys"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
	"github.com/opentensor/bittensor-go/torch/optim"
)

// The seed's training settings.
const (
	learningRate = 0.01
	momentum     = 0.9
	// routerMaxNorm bounds the norm of the router's gradient at each step.
	routerMaxNorm = 0.5
	// weightDecay is how much of a synapse's weight survives a step; the
	// rest comes from the router's mean gate for it.
	weightDecay = 0.99
	// maxSynapses is how many synapses a step asks the Metagraph for.
	maxSynapses = 1000
	// maxPeers bounds the peers counted for the log line.
	maxPeers = 1000
)

// Checkpoint file names in the Trainer's folder.
const (
	// BestCheckpoint holds the model with the lowest test loss so far.
	BestCheckpoint = "best.ckpt"
	// LastCheckpoint holds the state at the end of the last epoch, or at a stop.
	LastCheckpoint = "last.ckpt"
)

// Batch is a minibatch: inputs and their targets, examples first.
type Batch struct {
	Inputs, Targets *torch.Tensor
	// Text holds the examples as strings, for a synapse of modality TEXT:
	// what the network is sent. Inputs is then what the model's Tokenize
	// makes of them.
	Text []string
}

// Batches is a dataset cut into minibatches.
type Batches interface {
	// Len returns the number of batches in an epoch.
	Len() int
	// Examples returns the number of examples in an epoch.
	Examples() int
	// Epoch returns the batches of epoch e; it ends early when ctx ends.
	Epoch(ctx context.Context, e int) iter.Seq[Batch]
}

// StepResult reports one training step.
type StepResult struct {
	// LocalLoss, TargetLoss and DistillationLoss are the seed's three losses:
	// the local target loss, the network target loss, the distillation loss.
	LocalLoss, TargetLoss, DistillationLoss float64
	// Peers is the number of live peers, Synapses the number of synapses
	// the step could route to: those that fit its batch (the log line's nP|nS).
	Peers, Synapses int
	// Routed names (by the first 8 hex digits of their keys) the synapses
	// the step called.
	Routed []string
	// Failed is how many of the step's calls to synapses failed.
	Failed int
	// Skipped reports a step that changed nothing because its loss was not
	// finite; the losses are what was computed.
	Skipped bool
}

// TestResult reports a pass over the test set.
type TestResult struct {
	// Loss is the mean total loss per example.
	Loss float64
	// LocalAccuracy and NetworkAccuracy are the fractions of examples the
	// local path (student context) and the network path classify right.
	LocalAccuracy, NetworkAccuracy float64
}

// Trainer trains a neuron's served model with the network, following the
// seed's step: context from the local model, synapses from the Metagraph,
// route, call them through the Dendrite, join, forward with the targets and
// the network's answer, backward, clip the router's gradient, step, and move
// the synapses' weights toward the router's mean gates.
type Trainer struct {
	cfg     Config
	net     Network
	synapse *synapse.Local
	model   synapse.Model
	router  *router.Router
	opt     *optim.Optimizer
	recipe  recipe
	dir     string
	device  torch.Device

	epoch    int     // epochs completed
	steps    int     // optimizer steps taken: what the warm-up counts
	bestLoss float64 // lowest test loss seen
}

// Option changes a Trainer's settings from the seed's defaults.
type Option func(*trainerOptions)

type trainerOptions struct {
	sgd optim.SGDOptions
}

// WithSGD sets the optimizer's settings; the default is the seed's MNIST
// recipe, SGD with learning rate 0.01 and momentum 0.9. Config.Optimizer
// and Config.LearningRate override it.
func WithSGD(o optim.SGDOptions) Option {
	return func(t *trainerOptions) { t.sgd = o }
}

// New returns a trainer of synapse's model and router, calling the
// network through n, keeping checkpoints in dir. With cfg.ModelPath it
// resumes from that checkpoint (model, router, optimizer, epoch, best loss).
// The model and router must already be on device.
func New(cfg Config, net Network, synapse *synapse.Local, router *router.Router, dir string, device torch.Device, opts ...Option) (*Trainer, error) {
	o := trainerOptions{sgd: optim.SGDOptions{LR: learningRate, Momentum: momentum}}
	for _, opt := range opts {
		opt(&o)
	}
	t := &Trainer{
		cfg: cfg, net: net, synapse: synapse, model: synapse.Model(), router: router,
		dir: dir, device: device, bestLoss: math.Inf(1),
	}
	if err := synapse.RemoteGrads().Configure(cfg.RemoteGrads); err != nil {
		return nil, fmt.Errorf("trainer: %w", err)
	}
	params := append(nn.Parameters(t.model), nn.Parameters(router)...)
	var err error
	if t.opt, t.recipe, err = cfg.newOptimizer(params, o.sgd); err != nil {
		return nil, err
	}
	cfg.Log.Info().Str("optimizer", t.recipe.name).Float64("learning_rate", t.recipe.warmup.LR).
		Int("warmup_steps", t.recipe.warmup.Steps).Msg("training recipe")
	if cfg.ModelPath != "" {
		err := synapse.Update(func() error { return t.load(cfg.ModelPath) })
		if err != nil {
			t.opt.Close()
			return nil, &ResumeError{Path: cfg.ModelPath, Err: err}
		}
		cfg.Log.Info().Str("model_path", cfg.ModelPath).Int("epoch", t.epoch).Float64("best_loss", t.bestLoss).
			Msgf("resumed from checkpoint at epoch %d", t.epoch)
	}
	return t, nil
}

// Close frees the optimizer's state.
func (t *Trainer) Close() { t.opt.Close() }

// Epoch returns the number of epochs completed.
func (t *Trainer) Epoch() int { return t.epoch }

// Train runs epochs until cfg.Epochs are complete, testing after each one,
// saving the best model to BestCheckpoint and the state to LastCheckpoint.
// When ctx ends it saves LastCheckpoint (the unfinished epoch is run again on
// resume) and returns nil: stopping is not a failure.
func (t *Trainer) Train(ctx context.Context, train, test Batches) error {
	if t.epoch >= t.cfg.Epochs {
		t.cfg.Log.Info().Int("epoch", t.epoch).Msgf("%d epochs done already; raise --epochs to train on", t.epoch)
	}
	for t.epoch < t.cfg.Epochs {
		if err := t.trainEpoch(ctx, train, test); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return t.stop()
		}
		res, err := t.Test(ctx, test)
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return t.stop()
		}
		t.cfg.Log.Info().Int("epoch", t.epoch).Float64("loss", res.Loss).
			Float64("local_accuracy", res.LocalAccuracy).Float64("network_accuracy", res.NetworkAccuracy).
			Msgf("Test Epoch: %d\tLoss: %.6f\tLocal Accuracy: %.2f%%\tNetwork Accuracy: %.2f%%",
				t.epoch, res.Loss, 100*res.LocalAccuracy, 100*res.NetworkAccuracy)
		if o := t.net.Observer; o != nil {
			o.ObserveTest(t.epoch, res)
		}
		t.epoch++
		if res.Loss < t.bestLoss {
			t.bestLoss = res.Loss
			if err := t.Save(filepath.Join(t.dir, BestCheckpoint)); err != nil {
				return err
			}
		}
		if err := t.Save(filepath.Join(t.dir, LastCheckpoint)); err != nil {
			return err
		}
	}
	return nil
}

// stop saves the state on a requested stop.
func (t *Trainer) stop() error {
	path := filepath.Join(t.dir, LastCheckpoint)
	if err := t.Save(path); err != nil {
		return err
	}
	t.cfg.Log.Info().Str("checkpoint", path).Int("epoch", t.epoch).Msg("stopped; resume with --model_path")
	return nil
}

// trainEpoch runs one pass over train; with cfg.TestEvery it also tests
// every TestEvery steps, counted from the first step of the first epoch.
func (t *Trainer) trainEpoch(ctx context.Context, train, test Batches) error {
	if p := t.cfg.Progress; p != nil {
		p.StartEpoch(t.epoch, train.Len())
		defer p.EndEpoch()
	}
	seen, step := 0, 0
	t.steps = t.epoch * train.Len() // a resumed run reruns its unfinished epoch
	for b := range train.Epoch(ctx, t.epoch) {
		size := int(b.Inputs.Size(0)) // before Step frees the batch
		res, err := t.Step(ctx, b)
		if err != nil {
			return err
		}
		if res.Skipped {
			t.cfg.Log.Warn().Int("epoch", t.epoch).Int("seen", seen).Float64("local_loss", res.LocalLoss).
				Float64("target_loss", res.TargetLoss).Float64("distillation_loss", res.DistillationLoss).
				Msg("skipped a training step: its loss is not finite")
		}
		if step%t.cfg.LogInterval == 0 {
			t.logStep(seen, train.Examples(), res)
		}
		step++
		seen += size
		if p := t.cfg.Progress; p != nil {
			p.Step()
		}
		if n := t.cfg.TestEvery; n > 0 && ctx.Err() == nil {
			if steps := t.epoch*train.Len() + step; steps%n == 0 {
				if err := t.testAtStep(ctx, test, steps); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// testAtStep tests in the middle of an epoch and logs the result with the
// number of steps trained so far (epochs completed × batches per epoch +
// steps into this one). Testing changes nothing that training sees.
func (t *Trainer) testAtStep(ctx context.Context, test Batches, steps int) error {
	res, err := t.Test(ctx, test)
	if err != nil || ctx.Err() != nil {
		return err
	}
	t.cfg.Log.Info().Int("epoch", t.epoch).Int("step", steps).Float64("loss", res.Loss).
		Float64("local_accuracy", res.LocalAccuracy).Float64("network_accuracy", res.NetworkAccuracy).
		Msgf("Test Step: %d\tLoss: %.6f\tLocal Accuracy: %.2f%%\tNetwork Accuracy: %.2f%%",
			steps, res.Loss, 100*res.LocalAccuracy, 100*res.NetworkAccuracy)
	return nil
}

// logStep writes the seed's training line. Its fields add the synapses the
// step routed to, the definitions the Metagraph holds (fitting or not), the
// requests the Axon served and those it refused as not fitting its synapse
// (UNIMPLEMENTED: another modality; INVALID_ARGUMENT: other inputs).
func (t *Trainer) logStep(seen, total int, r StepResult) {
	var served axon.Stats
	if t.net.Served != nil {
		served = t.net.Served()
	}
	t.cfg.Log.Info().Int("epoch", t.epoch).Int("seen", seen).
		Float64("local_loss", r.LocalLoss).Float64("target_loss", r.TargetLoss).
		Float64("distillation_loss", r.DistillationLoss).Int("peers", r.Peers).Int("synapses", r.Synapses).
		Int("failed", r.Failed).Strs("routed", r.Routed).
		Int("definitions", len(t.net.Metagraph.GetSynapses(maxSynapses))).
		Uint64("axon_requests", served.Requests).Uint64("axon_unfit", served.Codes[codes.Unimplemented]+served.Codes[codes.InvalidArgument]).
		Msgf("Train Epoch: %d [%d/%d (%.0f%%)]\tLocal Loss: %.6f\tTarget Loss: %.6f\tDistillation Loss: %.6f\tnP|nS: %d|%d",
			t.epoch, seen, total, 100*float64(seen)/float64(total),
			r.LocalLoss, r.TargetLoss, r.DistillationLoss, r.Peers, r.Synapses)
}

// Step trains on one batch. It routes only to synapses the Dendrite may
// call now (and always to the neuron's own), and a step whose loss is not
// finite changes nothing and reports Skipped: bad numbers never reach the
// parameters, the gates or the weights. The neuron's Observer is told of
// every step that returns no error.
func (t *Trainer) Step(ctx context.Context, b Batch) (StepResult, error) {
	start, examples := time.Now(), int(b.Inputs.Size(0)) // before step frees the batch
	res, err := t.step(ctx, b)
	if err == nil {
		if o := t.net.Observer; o != nil {
			o.ObserveStep(t.epoch, examples, time.Since(start), res)
		}
	}
	return res, err
}

// step is Step without the report.
func (t *Trainer) step(ctx context.Context, b Batch) (StepResult, error) {
	s := torch.NewScope()
	defer s.Close()
	x, y := t.onDevice(s, b.Inputs), t.onDevice(s, b.Targets)
	if err := t.opt.ZeroGrad(); err != nil {
		return StepResult{}, fmt.Errorf("trainer: %w", err)
	}
	encoding, forward := t.encode(x)
	known, err := t.fitting(x)
	if err != nil {
		return StepResult{}, err
	}
	synapses := t.callable(known)
	q, err := t.query(ctx, s, synapses, encoding, x, b.Text)
	if err != nil {
		return StepResult{}, err
	}
	defer q.dispatch.Close()
	out := forward(q.network, y)
	res := StepResult{Synapses: len(known), Failed: q.res.Failed(), Routed: keyLabels(q.dispatch.Synapses)}
	for _, l := range []struct {
		v   *torch.Tensor
		dst *float64
	}{{out.LocalTargetLoss, &res.LocalLoss}, {out.NetworkTargetLoss, &res.TargetLoss}, {out.DistillationLoss, &res.DistillationLoss}} {
		if *l.dst, err = l.v.Item(); err != nil {
			return StepResult{}, fmt.Errorf("trainer: loss: %w", err)
		}
	}
	res.Peers = len(t.net.Metagraph.GetPeers(maxPeers))
	if !finite(res.LocalLoss, res.TargetLoss, res.DistillationLoss) {
		res.Skipped = true
		return res, nil
	}
	if err := out.Loss.BackwardWith(nil, q.own.retainsGraph()); err != nil {
		return StepResult{}, fmt.Errorf("trainer: backward: %w", err)
	}
	t.learnOwn(q.own)
	norm, err := torch.ClipGradNorm(nn.Parameters(t.router), routerMaxNorm)
	if err != nil {
		return StepResult{}, fmt.Errorf("trainer: %w", err)
	}
	if !finite(norm) {
		res.Skipped = true
		return res, t.opt.ZeroGrad()
	}
	if err := t.synapse.Update(t.applyAndStep); err != nil {
		return StepResult{}, fmt.Errorf("trainer: step: %w", err)
	}
	if err := t.updateWeights(known, synapses, q); err != nil {
		return StepResult{}, err
	}
	return res, nil
}

// applyAndStep adds the callers' gradients to the model's, steps the
// optimizer and commits a StatefulModel's state; it runs inside the
// synapse's Update.
func (t *Trainer) applyAndStep() error {
	if _, err := t.synapse.RemoteGrads().Apply(); err != nil {
		return err
	}
	if err := t.stepOptimizer(); err != nil {
		return err
	}
	if m, ok := t.model.(synapse.StatefulModel); ok {
		return m.CommitState()
	}
	return nil
}

// stepOptimizer steps the optimizer at the rate the recipe's warm-up
// gives the step, and counts it. Past the warm-up the rate is the one the
// optimizer was made with, so it is not set again.
func (t *Trainer) stepOptimizer() error {
	if t.steps < t.recipe.warmup.Steps {
		if err := t.opt.SetLR(t.recipe.warmup.At(t.steps)); err != nil {
			return err
		}
	}
	if err := t.opt.Step(); err != nil {
		return err
	}
	t.steps++
	return nil
}

// Serve trains the served model from the network alone until ctx ends, for
// a neuron with no training data of its own: each time callers' gradients
// wait, it applies them with the optimizer. When ctx ends it saves
// LastCheckpoint and returns nil.
func (t *Trainer) Serve(ctx context.Context) error {
	remote := t.synapse.RemoteGrads()
	t.cfg.Log.Info().Msg("serving only: the model learns from its callers' gradients")
	for {
		select {
		case <-ctx.Done():
			return t.stop()
		case <-remote.Pending():
		}
		err := t.synapse.Update(func() error {
			if err := t.opt.ZeroGrad(); err != nil {
				return err
			}
			n, err := remote.Apply()
			if err != nil || n == 0 {
				return err
			}
			if err := t.stepOptimizer(); err != nil {
				return err
			}
			return t.opt.ZeroGrad()
		})
		if err != nil {
			return fmt.Errorf("trainer: serve: %w", err)
		}
	}
}

// encode returns the encoding of x that the router takes, and the function
// that completes the model's Forward of x with the network's answer. A
// SharedEncodingModel computes its local path once for both.
func (t *Trainer) encode(x *torch.Tensor) (*torch.Tensor, func(network, targets *torch.Tensor) *synapse.Output) {
	if m, ok := t.model.(synapse.SharedEncodingModel); ok {
		local := m.ForwardLocal(x)
		return local.LocalOutput, func(network, targets *torch.Tensor) *synapse.Output {
			return m.ForwardNetwork(local, x, network, targets)
		}
	}
	return t.model.Encode(x), func(network, targets *torch.Tensor) *synapse.Output {
		return t.model.Forward(x, network, targets)
	}
}


// fitting returns the synapses of the Metagraph that fit the batch x: they
// take x's modality and inputs and answer the Dendrite's width (see Ask).
// The Metagraph keeps and gossips the others all the same.
func (t *Trainer) fitting(x *torch.Tensor) ([]*bittensorpb.Synapse, error) {
	ask, err := router.AskFor(t.synapse.Modality(), x, t.net.Dendrite.OutputDim())
	if err != nil {
		return nil, fmt.Errorf("trainer: %w", err)
	}
	return t.net.Metagraph.GetSynapsesWhere(maxSynapses, ask.Fits), nil
}

// keyLabels names synapses by the first 8 hex digits of their keys.
func keyLabels(synapses []*bittensorpb.Synapse) []string {
	out := make([]string, len(synapses))
	for i, syn := range synapses {
		out[i] = keys.Label(syn.GetSynapseKey())
	}
	return out
}

// callable returns the synapses a step routes to: the neuron's own and those
// the Dendrite does not back off.
func (t *Trainer) callable(synapses []*bittensorpb.Synapse) []*bittensorpb.Synapse {
	keys := make([]string, len(synapses))
	for i, syn := range synapses {
		keys[i] = syn.GetSynapseKey()
	}
	idx := routable(keys, t.synapse.Key(), t.net.Dendrite.Callable)
	out := make([]*bittensorpb.Synapse, len(idx))
	for j, i := range idx {
		out[j] = synapses[i]
	}
	return out
}

// queried is the network's answer to one batch.
type queried struct {
	network  *torch.Tensor      // the joined answer
	dispatch *router.Dispatch   // the routing; Close it after use
	res      dendrite.Responses // per synapse of dispatch.Synapses
	own      *ownAnswer         // the own synapse's answer when taken from the local encoding
}

// query routes x to synapses, calls them and joins their answers: the
// network's context for x. A TEXT synapse sends the peers the strings of
// text (one per row of x) instead of x.
func (t *Trainer) query(ctx context.Context, s *torch.Scope, synapses []*bittensorpb.Synapse, encoding, x *torch.Tensor, text []string) (queried, error) {
	if len(synapses) == 0 {
		return queried{}, errors.New("trainer: no synapse of the metagraph fits the batch, not even our own " +
			"(does the model's declared input shape match the batches?)")
	}
	d, err := t.router.Route(synapses, encoding, x)
	if err != nil {
		return queried{}, fmt.Errorf("trainer: %w", err)
	}
	// The own synapse's answer comes from the local encoding where it can
	// (ownIndex); the Dendrite calls the others.
	own := t.ownIndex(d, x)
	called, requests := d.Synapses, d.Requests
	if own >= 0 {
		called, requests = slices.Delete(slices.Clone(called), own, own+1), slices.Delete(slices.Clone(requests), own, own+1)
	}
	var res dendrite.Responses
	switch {
	case len(called) == 0:
	case t.synapse.Modality() == bittensorpb.Modality_TEXT:
		var batches [][]string
		if batches, err = textRequests(d, text); err == nil {
			res, err = t.net.Dendrite.ForwardText(ctx, called, batches)
		}
	case t.synapse.Modality() == bittensorpb.Modality_IMAGE:
		res, err = t.net.Dendrite.ForwardImage(ctx, called, requests)
	default:
		res, err = t.net.Dendrite.ForwardTensor(ctx, called, requests)
	}
	if err != nil {
		d.Close()
		return queried{}, fmt.Errorf("trainer: %w", err)
	}
	for _, o := range res.Outputs {
		s.Track(o)
	}
	var q queried
	if own >= 0 {
		var answer *torch.Tensor
		q.own, answer, err = t.answerOwn(s, d.Synapses[own].GetSynapseKey(), d.Rows(own), d.Examples(own), d.Batch(), encoding)
		if answer == nil { // the answer could not be attached to the graph
			d.Close()
			return queried{}, err
		}
		res.Outputs, res.Errs = slices.Insert(res.Outputs, own, answer), slices.Insert(res.Errs, own, err)
	}
	t.logCalls(d.Synapses, res.Errs)
	network, err := d.Join(res.Outputs)
	if err != nil {
		d.Close()
		return queried{}, fmt.Errorf("trainer: %w", err)
	}
	q.network, q.dispatch, q.res = network, d, res
	return q, nil
}

// textRequests returns the strings of text that d sends each synapse.
func textRequests(d *router.Dispatch, text []string) ([][]string, error) {
	if int64(len(text)) != d.Batch() {
		return nil, fmt.Errorf("trainer: %d strings of text for a batch of %d", len(text), d.Batch())
	}
	out := make([][]string, len(d.Synapses))
	for i := range d.Synapses {
		for _, r := range d.Rows(i) {
			out[i] = append(out[i], text[r])
		}
	}
	return out, nil
}

// updateWeights moves the weight of each known synapse toward the router's
// mean gate for it: w = 0.99·w + 0.01·mean(scores). A synapse that was not
// routed to (backed off) or whose call failed counts a gate of 0, so the
// weight of a failing peer falls.
func (t *Trainer) updateWeights(known, routed []*bittensorpb.Synapse, q queried) error {
	mean, err := q.dispatch.Scores.Mean(0).Float32s()
	if err != nil {
		return fmt.Errorf("trainer: weights: %w", err)
	}
	failed := make(map[string]bool)
	for i, syn := range q.dispatch.Synapses {
		if q.res.Errs[i] != nil {
			failed[router.RouteKey(syn)] = true
		}
	}
	gates := stepGates(routeKeys(routed), mean, failed)
	w := nextWeights(routeKeys(known), t.net.Metagraph.Weights(known), gates)
	if err := t.net.Metagraph.SetWeights(known, w); err != nil {
		return fmt.Errorf("trainer: weights: %w", err)
	}
	return nil
}

// routeKeys returns the route keys of synapses (see router.RouteKey).
func routeKeys(synapses []*bittensorpb.Synapse) []string {
	out := make([]string, len(synapses))
	for i, syn := range synapses {
		out[i] = router.RouteKey(syn)
	}
	return out
}

// onDevice tracks x in s and moves it to the trainer's device.
func (t *Trainer) onDevice(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
	x = s.Track(x)
	if t.device != torch.CPU {
		x = x.To(t.device)
	}
	return x
}

// Test classifies the test set through the local path and through the
// network path (routing to the synapses of the Metagraph), without learning,
// with the model in evaluation mode (nn.Eval) and back in training mode after.
func (t *Trainer) Test(ctx context.Context, test Batches) (TestResult, error) {
	nn.Eval(t.model)
	defer nn.Train(t.model)
	var loss, local, network float64
	n := 0
	var err error
	for b := range test.Epoch(ctx, 0) {
		size := int(b.Inputs.Size(0)) // before testBatch frees the batch
		torch.NoGrad(func() {
			var l, c1, c2 float64
			l, c1, c2, err = t.testBatch(ctx, b)
			loss, local, network = loss+l, local+c1, network+c2
		})
		if err != nil {
			return TestResult{}, err
		}
		n += size
	}
	if n == 0 {
		return TestResult{}, nil
	}
	return TestResult{Loss: loss / float64(n), LocalAccuracy: local / float64(n), NetworkAccuracy: network / float64(n)}, nil
}

// testBatch returns the batch's summed loss and its counts of right answers
// on the local and the network paths.
func (t *Trainer) testBatch(ctx context.Context, b Batch) (loss, local, network float64, err error) {
	s := torch.NewScope()
	defer s.Close()
	x, y := t.onDevice(s, b.Inputs), t.onDevice(s, b.Targets)
	synapses, err := t.fitting(x)
	if err != nil {
		return 0, 0, 0, err
	}
	encoding, forward := t.encode(x)
	q, err := t.query(ctx, s, t.callable(synapses), encoding, x, b.Text)
	if err != nil {
		return 0, 0, 0, err
	}
	defer q.dispatch.Close()
	out := forward(q.network, y)
	size := float64(x.Size(0))
	if loss, err = out.Loss.Item(); err != nil {
		return 0, 0, 0, fmt.Errorf("trainer: test: %w", err)
	}
	if local, err = out.LocalTarget.Argmax(1, false).Eq(y).Sum().Item(); err != nil {
		return 0, 0, 0, fmt.Errorf("trainer: test: %w", err)
	}
	if network, err = out.NetworkTarget.Argmax(1, false).Eq(y).Sum().Item(); err != nil {
		return 0, 0, 0, fmt.Errorf("trainer: test: %w", err)
	}
	return loss * size, local, network, nil
}

// logCalls writes, at debug level, the endpoints of the synapses a step
// called that answered, and how many failed.
func (t *Trainer) logCalls(synapses []*bittensorpb.Synapse, errs []error) {
	e := t.cfg.Log.Debug()
	if !e.Enabled() {
		return
	}
	answered := make([]string, 0, len(synapses))
	for i, syn := range synapses {
		if errs[i] == nil {
			answered = append(answered, net.JoinHostPort(syn.GetAddress(), syn.GetPort()))
		}
	}
	e.Strs("routed", keyLabels(synapses)).Strs("answered", answered).Int("failed", len(synapses)-len(answered)).Msg("step calls")
}
