package trainer

import (
	"context"

	"github.com/opentensor/bittensor-go/neuron/dendrite"
	"github.com/opentensor/bittensor-go/neuron/router"
	"github.com/opentensor/bittensor-go/neuron/synapse"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/optim"
)

// The internals the package's external tests (package trainer_test) reach.

// The record names of a checkpoint file.
const (
	CkptModel    = ckptModel
	CkptRouter   = ckptRouter
	CkptSlots    = ckptSlots
	CkptEpoch    = ckptEpoch
	CkptBestLoss = ckptBestLoss
)

// Finite is finite.
var Finite = finite

// TrainedModel returns the model the trainer trains.
func (t *Trainer) TrainedModel() synapse.Model { return t.model }

// RoutedBy returns the trainer's router.
func (t *Trainer) RoutedBy() *router.Router { return t.router }

// Opt returns the trainer's optimizer.
func (t *Trainer) Opt() *optim.Optimizer { return t.opt }

// SetOpt replaces the trainer's optimizer.
func (t *Trainer) SetOpt(o *optim.Optimizer) { t.opt = o }

// BestLoss returns the lowest test loss recorded.
func (t *Trainer) BestLoss() float64 { return t.bestLoss }

// SetBestLoss sets the lowest test loss recorded.
func (t *Trainer) SetBestLoss(v float64) { t.bestLoss = v }

// Steps returns the optimizer steps taken.
func (t *Trainer) Steps() int { return t.steps }

// Load is load.
func (t *Trainer) Load(path string) error { return t.load(path) }

// Query is query: the network's joined answer for x, its routing and the
// responses.
func (t *Trainer) Query(ctx context.Context, s *torch.Scope, synapses []*bittensorpb.Synapse, encoding, x *torch.Tensor) (*torch.Tensor, *router.Dispatch, dendrite.Responses, error) {
	q, err := t.query(ctx, s, synapses, encoding, x, nil)
	return q.network, q.dispatch, q.res, err
}

// OwnAnswer is ownAnswer.
type OwnAnswer = ownAnswer

// AnswerOwn is answerOwn.
func (t *Trainer) AnswerOwn(s *torch.Scope, key string, rows []int64, examples *torch.Tensor, batch int64, encoding *torch.Tensor) (*OwnAnswer, *torch.Tensor, error) {
	return t.answerOwn(s, key, rows, examples, batch, encoding)
}

// LearnOwn is learnOwn.
func (t *Trainer) LearnOwn(o *OwnAnswer) { t.learnOwn(o) }

// RetainsGraph is retainsGraph.
func (o *OwnAnswer) RetainsGraph() bool { return o.retainsGraph() }

// SetProgress sets the epochs completed and the lowest test loss recorded.
func (t *Trainer) SetProgress(epoch int, best float64) { t.epoch, t.bestLoss = epoch, best }
