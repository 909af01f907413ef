package neuron

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

// Save writes the trainer's state to path, atomically: the model, the router
// (with which synapse owns which key), the optimizer, the epochs completed
// and the best test loss.
func (t *Trainer) Save(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("trainer: checkpoint: %w", err)
	}
	ts := map[string]*torch.Tensor{
		ckptSlots:    torch.FromUint8([]byte(strings.Join(t.router.slotOwners(), "\n"))),
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

// load restores the trainer's state from a file written by Save.
func (t *Trainer) load(path string) error {
	ts, err := optim.LoadCheckpoint(path, t.opt)
	if err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	defer func() {
		for _, v := range ts {
			v.Free()
		}
	}()
	model, router := map[string]*torch.Tensor{}, map[string]*torch.Tensor{}
	for name, v := range ts {
		switch {
		case strings.HasPrefix(name, ckptModel):
			model[strings.TrimPrefix(name, ckptModel)] = v
		case strings.HasPrefix(name, ckptRouter):
			router[strings.TrimPrefix(name, ckptRouter)] = v
		}
	}
	if err := nn.LoadStateDict(t.model, model); err != nil {
		return fmt.Errorf("resume %s: model: %w", path, err)
	}
	if err := nn.LoadStateDict(t.router, router); err != nil {
		return fmt.Errorf("resume %s: router: %w", path, err)
	}
	epoch, err := scalar(ts, ckptEpoch, torch.Int64)
	if err != nil {
		return fmt.Errorf("resume %s: %w", path, err)
	}
	best, err := scalar(ts, ckptBestLoss, torch.Float64)
	if err != nil {
		return fmt.Errorf("resume %s: %w", path, err)
	}
	slots, ok := ts[ckptSlots]
	if !ok {
		return fmt.Errorf("resume %s: no %s", path, ckptSlots)
	}
	owners, err := slots.Uint8s()
	if err != nil {
		return fmt.Errorf("resume %s: %s: %w", path, ckptSlots, err)
	}
	if err := t.router.setSlotOwners(strings.Split(string(owners), "\n")); err != nil {
		return fmt.Errorf("resume %s: %w", path, err)
	}
	if epoch < 0 || epoch > math.MaxInt32 || math.IsNaN(best) {
		return fmt.Errorf("resume %s: epoch %v, best loss %v", path, epoch, best)
	}
	t.epoch, t.bestLoss = int(epoch), best
	return nil
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
