package trainer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/opentensor/bittensor-go/neuron/dendrite"
	"github.com/opentensor/bittensor-go/neuron/keys"
	"github.com/opentensor/bittensor-go/neuron/router"
	"github.com/opentensor/bittensor-go/neuron/synapse"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
)

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
