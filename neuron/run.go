package neuron

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/opentensor/bittensor-go/neuron/router"
	"github.com/opentensor/bittensor-go/neuron/synapse"
	"github.com/opentensor/bittensor-go/neuron/trainer"

	"github.com/opentensor/bittensor-go/neuron/keys"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
)

// The seed's router: keys of 100 features, each example sent to 10 synapses.
const (
	defaultRouterKeyDim = 100
	defaultRouterTopK   = 10
)

// Spec is what a user writes to run a model as a neuron: the model, what it
// serves, and its data. Run does the rest of the seed's walkthrough.
type Spec struct {
	// Name names the kind of neuron: checkpoints go to
	// <logdir>/<Name>-<first 8 hex digits of the neuron key>.
	Name string
	// Modality is what the model's synapse serves and what the neuron sends
	// its peers: IMAGE, TENSOR, or TEXT (the model is then a TextModel and
	// its batches carry their strings).
	Modality bittensorpb.Modality
	// OutputDim is the width of the model's context: the features per
	// example its Encode returns, the width every synapse it routes to must
	// answer. Definitions announce it, so that neurons of other widths never
	// call this one, nor it them.
	OutputDim int64
	// NewModel returns the model, initialised from the torch random
	// generator (Run seeds it first). A model that implements InputModel
	// declares its inputs: the Axon refuses others, and the definition
	// announces them.
	NewModel func() (synapse.Model, error)
	// Data returns the training and the test batches. Run calls it once the
	// neuron is up (so that a port in use fails before a long load), and not
	// at all with cfg.ServeOnly; seed is the run's seed, for the order of
	// the examples.
	Data func(ctx context.Context, cfg Config, seed uint64) (train, test trainer.Batches, err error)
	// RouterKeyDim and RouterTopK set the router: keys of RouterKeyDim
	// features, each example sent to its RouterTopK best synapses (0: the
	// seed's 100 and 10).
	RouterKeyDim, RouterTopK int
	// Trainer holds options for the Trainer, e.g. WithSGD for a recipe
	// other than the seed's.
	Trainer []trainer.Option
}

// validate checks the parts of a Spec a user fills in.
func (s Spec) validate() error {
	switch {
	case s.Name == "":
		return errors.New("neuron spec: no Name")
	case s.Modality != bittensorpb.Modality_IMAGE && s.Modality != bittensorpb.Modality_TENSOR && s.Modality != bittensorpb.Modality_TEXT:
		return fmt.Errorf("neuron spec %s: modality %v: %w", s.Name, s.Modality, synapse.ErrModalityNotSupported)
	case s.OutputDim < 1:
		return fmt.Errorf("neuron spec %s: OutputDim %d, want at least 1", s.Name, s.OutputDim)
	case s.NewModel == nil:
		return fmt.Errorf("neuron spec %s: no NewModel", s.Name)
	case s.Data == nil:
		return fmt.Errorf("neuron spec %s: no Data", s.Name)
	case s.RouterKeyDim < 0 || s.RouterTopK < 0:
		return fmt.Errorf("neuron spec %s: router key dim %d and top k %d, want >= 0", s.Name, s.RouterKeyDim, s.RouterTopK)
	}
	return nil
}

// Run trains the model of spec with its peers until cfg.Epochs are done or
// ctx ends (then it checkpoints and returns nil), as the seed's walkthrough
// does: it seeds torch, builds the model on cfg.Device, serves it as a
// synapse.Local under the synapse key of cfg.NeuronKey, starts the neuron
// (Axon, Metagraph, Dendrite: StartNeuron), builds the router and the
// Trainer (resuming from cfg.ModelPath), and trains on spec.Data, or with
// cfg.ServeOnly serves and learns from its callers alone. Settings the user
// must change (a port in use, a bad bootstrap peer, a bad checkpoint, a bad
// device) fail before the data is loaded, as *UsageError.
func Run(ctx context.Context, cfg Config, spec Spec) error {
	if err := spec.validate(); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	device, err := parseDevice(cfg.Device)
	if err != nil {
		return err
	}
	seed := cfg.Seed
	if seed == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		seed = binary.LittleEndian.Uint64(b[:]) >> 1
	}
	torch.ManualSeed(int64(seed))

	model, err := spec.NewModel()
	if err != nil {
		return fmt.Errorf("%s: model: %w", spec.Name, err)
	}
	if err := nn.To(model, device); err != nil {
		return err
	}
	// The synapse key is kept in the --neuron_key file, so that peers'
	// routers (and a resumed one) find the same synapse on every run.
	id, err := LoadIdentityFlag(cfg.NeuronKey)
	if err != nil {
		return err
	}
	syn, err := synapse.NewLocal(id.Synapse, model, spec.Modality)
	if err != nil {
		return err
	}
	n, err := StartNeuron(ctx, cfg, spec.OutputDim, device, syn)
	if err != nil {
		return err
	}
	defer n.Close()
	rt, err := router.New(int(spec.OutputDim), cmp.Or(spec.RouterKeyDim, defaultRouterKeyDim), cmp.Or(spec.RouterTopK, defaultRouterTopK))
	if err != nil {
		return err
	}
	if err := nn.To(rt, device); err != nil {
		return err
	}
	runDir := filepath.Join(cfg.LogDir, spec.Name+"-"+keys.Label(n.Key.PublicHex()))
	tr, err := trainer.New(cfg.TrainerConfig(), n.TrainerNetwork(), syn, rt, runDir, device, spec.Trainer...)
	if resume := (*trainer.ResumeError)(nil); errors.As(err, &resume) {
		return &UsageError{Flag: "model_path", Err: err}
	}
	if err != nil {
		return err
	}
	defer tr.Close()
	if cfg.ServeOnly {
		cfg.Log.Info().Str("checkpoints", runDir).Str("device", device.String()).Msg("serving")
		return tr.Serve(ctx)
	}
	train, test, err := spec.Data(ctx, cfg, seed)
	if err != nil {
		return err
	}
	cfg.Log.Info().Str("checkpoints", runDir).Str("device", device.String()).Msg("training")
	return tr.Train(ctx, train, test)
}

// parseDevice reads the --device setting and checks that the device exists.
func parseDevice(s string) (torch.Device, error) {
	device, err := torch.ParseDevice(s)
	if err != nil {
		return torch.Device{}, &UsageError{Flag: "device", Err: err}
	}
	if device.Type == torch.DeviceCUDA && device.Index >= torch.CUDADeviceCount() {
		return torch.Device{}, &UsageError{Flag: "device", Err: fmt.Errorf("%s: this libtorch sees %d CUDA devices", device, torch.CUDADeviceCount())}
	}
	return device, nil
}
