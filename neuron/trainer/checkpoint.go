package trainer

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
	"github.com/opentensor/bittensor-go/torch/optim"
)

// Names in a checkpoint file besides the model's and the router's state
// (prefixed "model." and "router.").
const (
	ckptModel    = "model."
	ckptRouter   = "router."
	ckptSlots    = "meta.router_slots" // uint8: the key rows' owners, newline separated
	ckptEpoch    = "meta.epoch"        // int64: epochs completed
	ckptBestLoss = "meta.best_loss"    // float64: lowest test loss
)

// ResumeError is New's error for a checkpoint it cannot resume
// from: unreadable, truncated, or written for another model or optimizer.
type ResumeError struct {
	// Path is the checkpoint's file.
	Path string
	// Err says what is wrong with it.
	Err error
}

// Error returns the reason, which names the file.
func (e *ResumeError) Error() string { return e.Err.Error() }

// Unwrap returns the reason.
func (e *ResumeError) Unwrap() error { return e.Err }

// Save writes the trainer's state to path, atomically and durably (a crash
// during Save leaves the previous file whole): the model, the router
// (with which synapse owns which key), the optimizer, the epochs completed
// and the best test loss.
func (t *Trainer) Save(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("trainer: checkpoint: %w", err)
	}
	ts := map[string]*torch.Tensor{
		ckptSlots:    torch.FromUint8([]byte(strings.Join(t.router.SlotOwners(), "\n"))),
		ckptEpoch:    torch.FromInt64([]int64{int64(t.epoch)}),
		ckptBestLoss: torch.FromFloat64([]float64{t.bestLoss}),
	}
	for name, v := range nn.StateDict(t.model) {
		ts[ckptModel+name] = v
	}
	for name, v := range nn.StateDict(t.router) {
		ts[ckptRouter+name] = v
	}
	if err := optim.SaveCheckpoint(path, ts, t.opt); err != nil {
		return fmt.Errorf("trainer: %w", err)
	}
	return nil
}

// load restores the trainer's state from a file written by Save. It checks
// the whole file first (every tensor, the model's and the router's state
// dicts, the optimizer's state, the key rows' owners, the counters) and
// changes nothing unless all of it fits: a failed resume leaves the model,
// the router, the optimizer and the counters as they were.
func (t *Trainer) load(path string) error {
	ck, err := optim.ReadCheckpoint(path, t.opt)
	if err != nil {
		if why := t.modelMismatch(path); why != nil {
			return fmt.Errorf("resume %s: %w", path, why)
		}
		return fmt.Errorf("resume: %w", err)
	}
	defer ck.Close()
	st, err := t.checkState(ck.Tensors)
	if err != nil {
		return fmt.Errorf("resume %s: %w", path, err)
	}
	// Apply. The router's key rows go first: SetSlotOwners is the one step
	// left that checks something (and it changes nothing when it fails).
	if err := t.router.SetSlotOwners(st.owners); err != nil {
		return fmt.Errorf("resume %s: %w", path, err)
	}
	if err := ck.Commit(); err != nil {
		return fmt.Errorf("resume %s: %w", path, err)
	}
	if err := nn.LoadStateDict(t.model, st.model); err != nil {
		return fmt.Errorf("resume %s: model: %w", path, err)
	}
	if err := nn.LoadStateDict(t.router, st.router); err != nil {
		return fmt.Errorf("resume %s: router: %w", path, err)
	}
	t.epoch, t.bestLoss = st.epoch, st.bestLoss
	return nil
}

// modelMismatch explains a checkpoint the optimizer refused. libtorch checks
// the optimizer's state while it reads the file, before the model's state
// dict can be, so a checkpoint of another model (say, one made with another
// --context_readout choice) fails first on a parameter group's size, an error
// that names neither model. modelMismatch reads the file again without the
// optimizer and returns checkState's error, which names the tensors that
// differ, or nil when the records fit (the optimizer's error is then the
// cause).
func (t *Trainer) modelMismatch(path string) error {
	ck, err := optim.ReadCheckpoint(path, nil)
	if err != nil {
		return nil
	}
	defer ck.Close()
	_, err = t.checkState(ck.Tensors)
	return err
}

// checkpointState is a checkpoint's contents, checked against the trainer.
type checkpointState struct {
	model, router map[string]*torch.Tensor
	owners        []string
	epoch         int
	bestLoss      float64
}

// checkState sorts a checkpoint's tensors and checks each record against the
// trainer (without changing it).
func (t *Trainer) checkState(ts map[string]*torch.Tensor) (*checkpointState, error) {
	st := &checkpointState{model: map[string]*torch.Tensor{}, router: map[string]*torch.Tensor{}}
	for name, v := range ts {
		switch {
		case strings.HasPrefix(name, ckptModel):
			st.model[strings.TrimPrefix(name, ckptModel)] = v
		case strings.HasPrefix(name, ckptRouter):
			st.router[strings.TrimPrefix(name, ckptRouter)] = v
		case name == ckptSlots || name == ckptEpoch || name == ckptBestLoss:
		default:
			return nil, fmt.Errorf("unexpected record %q", name)
		}
	}
	if err := nn.CheckStateDict(t.model, st.model); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if err := nn.CheckStateDict(t.router, st.router); err != nil {
		return nil, fmt.Errorf("router: %w", err)
	}
	epoch, err := scalar(ts, ckptEpoch, torch.Int64)
	if err != nil {
		return nil, err
	}
	best, err := scalar(ts, ckptBestLoss, torch.Float64)
	if err != nil {
		return nil, err
	}
	if epoch < 0 || epoch > math.MaxInt32 || math.IsNaN(best) {
		return nil, fmt.Errorf("epoch %v, best loss %v", epoch, best)
	}
	st.epoch, st.bestLoss = int(epoch), best
	slots, ok := ts[ckptSlots]
	if !ok {
		return nil, fmt.Errorf("no %s", ckptSlots)
	}
	owners, err := slots.Uint8s()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ckptSlots, err)
	}
	st.owners = strings.Split(string(owners), "\n")
	if len(st.owners) != len(t.router.SlotOwners()) {
		return nil, fmt.Errorf("%s: %d key rows saved, the router has %d", ckptSlots, len(st.owners), len(t.router.SlotOwners()))
	}
	return st, nil
}

// scalar reads the one value of ts[name], which must have the given dtype.
func scalar(ts map[string]*torch.Tensor, name string, dtype torch.DType) (float64, error) {
	v, ok := ts[name]
	if !ok {
		return 0, fmt.Errorf("no %s", name)
	}
	if v.DType() != dtype || v.Numel() != 1 {
		return 0, fmt.Errorf("%s is %v %v, want one %v", name, v.DType(), v.Shape(), dtype)
	}
	return v.Item()
}
