package router

import (
	"errors"
	"fmt"
	"math"
	"slices"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
)

// DefaultCapacity is the number of synapse keys a Router holds unless
// told otherwise: as many synapses as a neuron asks the Metagraph for.
const DefaultCapacity = 1000

// Router learns which synapses to send each example to. Every synapse it
// sees gets a learned key; a linear projection of an example's context is
// its query; the scores are query·keysᵀ. Each example goes to its top k
// synapses, whose gates are the softmax of their scores among themselves
// (the other synapses are masked with −∞ and get gate 0), and the network's
// answer for the example is the gate-weighted sum of their responses.
//
// The keys live in one parameter matrix, a row per synapse (as many rows as
// the capacity, see WithCapacity). A synapse gets a row, freshly
// initialised, the first time Route sees it; when all rows are taken, the
// row whose synapse has not been seen for longest is recycled.
// A Router is used by one goroutine at a time.
type Router struct {
	nn.Base
	xDim, keyDim, topK int

	query *nn.Linear    // xDim → keyDim
	keys  *torch.Tensor // [capacity, keyDim], a row per synapse

	slots    map[string]int // synapse id → row of keys
	owner    []string       // row → synapse id ("" = free)
	lastSeen []uint64       // row → the Route call that last used it
	calls    uint64
}

// Option changes a Router's defaults.
type Option func(*Router)

// WithCapacity sets how many synapse keys the router holds (default
// DefaultCapacity); Route refuses more synapses than this at once.
func WithCapacity(n int) Option {
	return func(r *Router) { r.owner = make([]string, n) }
}

// New returns a router over contexts of xDim features with keys of
// keyDim features, sending each example to topK synapses. The query
// projection is an nn.Linear ("query") and the keys a parameter ("keys")
// drawn from N(0, 1/keyDim), both from the torch random generator; the
// Router is an nn.Module, so nn.Parameters and nn.StateDict apply.
func New(xDim, keyDim, topK int, opts ...Option) (*Router, error) {
	if xDim < 1 || keyDim < 1 || topK < 1 {
		return nil, fmt.Errorf("router: xDim %d, keyDim %d, topK %d: want each at least 1", xDim, keyDim, topK)
	}
	r := &Router{xDim: xDim, keyDim: keyDim, topK: topK, owner: make([]string, DefaultCapacity)}
	for _, o := range opts {
		o(r)
	}
	if len(r.owner) < 1 {
		return nil, fmt.Errorf("router: capacity %d, want at least 1", len(r.owner))
	}
	r.lastSeen = make([]uint64, len(r.owner))
	r.slots = make(map[string]int)
	r.query = nn.Register(r, "query", nn.NewLinear(int64(xDim), int64(keyDim), true))
	r.keys = r.RegisterParameter("keys",
		torch.Randn([]int64{int64(len(r.owner)), int64(keyDim)}).MulScalar(1/math.Sqrt(float64(keyDim))))
	for _, p := range nn.Parameters(r) {
		if err := p.Err(); err != nil {
			return nil, fmt.Errorf("router: %w", err)
		}
	}
	return r, nil
}

// Dispatch is the result of routing one batch: what to send to which
// synapse, and how to join the answers.
type Dispatch struct {
	// Synapses are the synapses that received at least one example, in the
	// order of the synapses given to Route.
	Synapses []*bittensorpb.Synapse
	// Requests[i] holds the examples routed to Synapses[i] (rows of inputs).
	Requests []*torch.Tensor
	// Scores are the gates, [batch, n] over all n synapses given to Route:
	// each row sums to 1 over min(k, n) synapses and is 0 elsewhere.
	Scores *torch.Tensor

	batch    int64
	rows     [][]int64       // rows[i]: the rows of inputs sent to Synapses[i]
	examples []*torch.Tensor // examples[i]: rows[i] as a tensor
	gates    []*torch.Tensor // gates[i]: their gates, [len, 1]
	scope    *torch.Scope
}

// Route scores every synapse for every example of context ([batch, xDim])
// and dispatches the rows of inputs ([batch, …]) to their top k synapses.
// The result's tensors are freed by Dispatch.Close.
func (r *Router) Route(synapses []*bittensorpb.Synapse, context, inputs *torch.Tensor) (*Dispatch, error) {
	if err := errors.Join(context.Err(), inputs.Err()); err != nil {
		return nil, fmt.Errorf("router: route: %w", err)
	}
	n := len(synapses)
	if n == 0 {
		return nil, errors.New("router: route: no synapses")
	}
	if n > len(r.owner) {
		return nil, fmt.Errorf("router: route: %d synapses, capacity %d", n, len(r.owner))
	}
	cs := context.Shape()
	if len(cs) != 2 || cs[1] != int64(r.xDim) || cs[0] < 1 {
		return nil, fmt.Errorf("router: route: context shape %v, want [batch %d]", cs, r.xDim)
	}
	batch := cs[0]
	if is := inputs.Shape(); len(is) < 1 || is[0] != batch {
		return nil, fmt.Errorf("router: route: inputs shape %v, want %d examples first", is, batch)
	}
	rows, err := r.rows(synapses)
	if err != nil {
		return nil, err
	}
	s := torch.NewScope()
	d, err := r.route(s, synapses, rows, batch, context, inputs)
	if err != nil {
		s.Close()
		return nil, err
	}
	return d, nil
}

func (r *Router) route(s *torch.Scope, synapses []*bittensorpb.Synapse, rows []int64, batch int64, context, inputs *torch.Tensor) (*Dispatch, error) {
	dev := context.Device()
	n := int64(len(synapses))
	k := min(int64(r.topK), n)
	// The index tensors and an alias of context are tracked in s, so that
	// every tensor computed from them joins the dispatch's scope.
	rowIdx := indexTensor(s, rows, dev)
	keys := r.keys.IndexSelect(0, rowIdx)                                   // [n, keyDim]
	query := r.query.Forward(s.Track(context.Alias()))                      // [batch, keyDim]
	scores := query.Matmul(keys.T())                                        // [batch, n]
	topScores, top := scores.TopK(k, 1, true)                               // [batch, k]
	chosen := scores.ZerosLike().Scatter(1, top, topScores.OnesLike())      // 1 where routed
	gates := scores.MaskedFill(chosen.EqScalar(0), math.Inf(-1)).Softmax(1) // 0 where not
	if err := gates.Err(); err != nil {
		return nil, fmt.Errorf("router: route: %w", err)
	}
	topIdx, err := top.Int64s()
	if err != nil {
		return nil, fmt.Errorf("router: route: %w", err)
	}
	perSynapse := make([][]int64, n)
	for i, j := range topIdx {
		perSynapse[j] = append(perSynapse[j], int64(i)/k)
	}
	d := &Dispatch{Scores: gates, batch: batch, scope: s}
	for j, ex := range perSynapse {
		if len(ex) == 0 {
			continue
		}
		idx := indexTensor(s, ex, dev)
		col := indexTensor(s, []int64{int64(j)}, dev)
		d.Synapses = append(d.Synapses, synapses[j])
		d.rows = append(d.rows, ex)
		d.Requests = append(d.Requests, inputs.IndexSelect(0, idx))
		d.examples = append(d.examples, idx)
		d.gates = append(d.gates, gates.IndexSelect(1, col).IndexSelect(0, idx))
	}
	for _, t := range d.Requests {
		if err := t.Err(); err != nil {
			return nil, fmt.Errorf("router: route: %w", err)
		}
	}
	return d, nil
}

// indexTensor returns the indices as an int64 tensor on dev, in scope s.
func indexTensor(s *torch.Scope, indices []int64, dev torch.Device) *torch.Tensor {
	t := s.Track(torch.FromInt64(indices))
	if dev != torch.CPU {
		t = t.To(dev)
	}
	return t
}

// rows returns the key row of each synapse, giving rows to new ones.
func (r *Router) rows(synapses []*bittensorpb.Synapse) ([]int64, error) {
	r.calls++
	rows := make([]int64, len(synapses))
	var fresh []int
	for i, syn := range synapses {
		id := RouteKey(syn)
		row, ok := r.slots[id]
		if !ok {
			fresh = append(fresh, i)
			continue
		}
		if r.lastSeen[row] == r.calls {
			return nil, fmt.Errorf("router: route: synapse %s listed twice", id)
		}
		r.lastSeen[row] = r.calls
		rows[i] = int64(row)
	}
	for _, i := range fresh {
		id := RouteKey(synapses[i])
		if _, ok := r.slots[id]; ok {
			return nil, fmt.Errorf("router: route: synapse %s listed twice", id)
		}
		row := r.freeRow()
		if old := r.owner[row]; old != "" {
			delete(r.slots, old)
			if err := r.resetKey(row); err != nil {
				return nil, err
			}
		}
		r.owner[row], r.slots[id], r.lastSeen[row] = id, row, r.calls
		rows[i] = int64(row)
	}
	return rows, nil
}

// freeRow returns an unowned row, or the row seen longest ago.
func (r *Router) freeRow() int {
	best := 0
	for row, owner := range r.owner {
		if owner == "" {
			return row
		}
		if r.lastSeen[row] < r.lastSeen[best] {
			best = row
		}
	}
	return best
}

// resetKey gives a recycled row fresh random values.
func (r *Router) resetKey(row int) error {
	fresh := torch.Randn([]int64{1, int64(r.keyDim)}).MulScalar(1 / math.Sqrt(float64(r.keyDim)))
	if err := r.keys.Narrow(0, int64(row), 1).CopyFrom(fresh.To(r.keys.Device())); err != nil {
		return fmt.Errorf("router: reset key: %w", err)
	}
	return nil
}

// SlotOwners returns the synapse id of each key row ("" for a free row).
func (r *Router) SlotOwners() []string { return slices.Clone(r.owner) }

// SetSlotOwners gives each key row back to its synapse, as SlotOwners listed them.
func (r *Router) SetSlotOwners(owners []string) error {
	if len(owners) != len(r.owner) {
		return fmt.Errorf("router: %d key rows saved, the router has %d", len(owners), len(r.owner))
	}
	slots := make(map[string]int, len(owners))
	for row, id := range owners {
		if id == "" {
			continue
		}
		if _, dup := slots[id]; dup {
			return fmt.Errorf("router: synapse %s owns two key rows", id)
		}
		slots[id] = row
	}
	copy(r.owner, owners)
	r.slots = slots
	clear(r.lastSeen)
	return nil
}

// RouteKey names a synapse by its owner and its own key.
func RouteKey(s *bittensorpb.Synapse) string { return s.GetNeuronKey() + "/" + s.GetSynapseKey() }

// Join returns the network's answer for each example of the batch:
// the sum of the responses of its synapses weighted by their gates.
// responses[i] answers Requests[i] and has shape [len(Requests[i]), …];
// all responses share their trailing dimensions. The result is
// differentiable with respect to the gates (so the router learns) and to
// the responses (so gradients flow back through the Dendrite to the peers).
func (d *Dispatch) Join(responses []*torch.Tensor) (*torch.Tensor, error) {
	if len(responses) != len(d.Requests) {
		return nil, fmt.Errorf("router: join: %d responses for %d requests", len(responses), len(d.Requests))
	}
	var tail []int64
	for i, resp := range responses {
		if err := resp.Err(); err != nil {
			return nil, fmt.Errorf("router: join: response %d: %w", i, err)
		}
		shape := resp.Shape()
		if len(shape) < 1 || shape[0] != d.examples[i].Numel() {
			return nil, fmt.Errorf("router: join: response %d has shape %v, want %d rows", i, shape, d.examples[i].Numel())
		}
		if i == 0 {
			tail = shape[1:]
		} else if !slices.Equal(tail, shape[1:]) {
			return nil, fmt.Errorf("router: join: response %d has shape %v, response 0 has [… %v]", i, shape, tail)
		}
	}
	out := d.scope.Track(torch.Zeros(append([]int64{d.batch}, tail...),
		torch.WithDType(responses[0].DType()), torch.WithDevice(responses[0].Device())))
	for i, resp := range responses {
		gate := d.gates[i].Reshape(append([]int64{-1}, ones(len(tail))...)...) // broadcast over the tail
		out = out.IndexAdd(0, d.examples[i], resp.Mul(gate))
	}
	if err := out.Err(); err != nil {
		return nil, fmt.Errorf("router: join: %w", err)
	}
	return out, nil
}

// Close frees the dispatch's tensors (Requests, Scores and what Join made).
func (d *Dispatch) Close() { d.scope.Close() }

func ones(n int) []int64 {
	s := make([]int64, n)
	for i := range s {
		s[i] = 1
	}
	return s
}

// Batch returns the number of examples routed.
func (d *Dispatch) Batch() int64 { return d.batch }

// Rows returns the rows of the inputs sent to Synapses[i], in order.
func (d *Dispatch) Rows(i int) []int64 { return d.rows[i] }

// Examples returns Rows(i) as an index tensor, owned by the Dispatch.
func (d *Dispatch) Examples(i int) *torch.Tensor { return d.examples[i] }
