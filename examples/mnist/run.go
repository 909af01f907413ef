package mnist

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"path/filepath"

	"github.com/opentensor/bittensor-go/neuron"
	"github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
)

// The seed's router for MNIST: keys of 100 features, 10 synapses per example.
const (
	routerKeyDim = 100
	routerTopK   = 10
)

// Run trains an MNIST neuron with its peers, as the seed's walkthrough does,
// until cfg.Epochs are done or ctx ends (then it checkpoints and returns nil).
// Settings the user must change (a port in use, a bad bootstrap peer, a bad
// checkpoint) fail before the data is loaded, as *neuron.UsageError.
func Run(ctx context.Context, cfg neuron.Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	device, err := torch.ParseDevice(cfg.Device)
	if err != nil {
		return &neuron.UsageError{Flag: "device", Err: err}
	}
	if device.Type == torch.DeviceCUDA && device.Index >= torch.CUDADeviceCount() {
		return &neuron.UsageError{Flag: "device", Err: fmt.Errorf("%s: this libtorch sees %d CUDA devices", device, torch.CUDADeviceCount())}
	}
	seed := cfg.Seed
	if seed == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		seed = binary.LittleEndian.Uint64(b[:]) >> 1
	}
	torch.ManualSeed(int64(seed))

	model := NewModel()
	if err := nn.To(model, device); err != nil {
		return err
	}
	// The synapse key is kept in the --neuron_key file, so that peers'
	// routers (and a resumed one) find the same synapse on every run.
	id, err := neuron.LoadIdentityFlag(cfg.NeuronKey)
	if err != nil {
		return err
	}
	synapse, err := neuron.NewLocalSynapse(id.Synapse, model, bittensorpb.Modality_IMAGE)
	if err != nil {
		return err
	}
	n, err := neuron.StartNeuron(ctx, cfg, ContextDim, device, synapse)
	if err != nil {
		return err
	}
	defer n.Close()
	router, err := neuron.NewRouter(ContextDim, routerKeyDim, routerTopK)
	if err != nil {
		return err
	}
	if err := nn.To(router, device); err != nil {
		return err
	}
	runDir := filepath.Join(cfg.LogDir, "mnist-"+n.Key.PublicHex()[:8])
	trainer, err := neuron.NewTrainer(cfg, n, synapse, router, runDir, device)
	if err != nil {
		return err
	}
	defer trainer.Close()
	if cfg.ServeOnly {
		cfg.Log.Info().Str("checkpoints", runDir).Str("device", device.String()).Msg("serving")
		return trainer.Serve(ctx)
	}

	train, test, err := loaders(ctx, cfg, seed)
	if err != nil {
		return err
	}
	cfg.Log.Info().Str("checkpoints", runDir).Str("device", device.String()).Msg("training")
	return trainer.Train(ctx, train.Tensors(), test.Tensors())
}

// loaders loads MNIST and returns the shuffled training loader and the test loader.
func loaders(ctx context.Context, cfg neuron.Config, seed uint64) (train, test *Loader, err error) {
	dir, err := FindData(ctx, cfg.DataDir)
	if err != nil {
		return nil, nil, err
	}
	trainSet, testSet, err := Load(dir)
	if err != nil {
		return nil, nil, err
	}
	if train, err = NewLoader(trainSet, cfg.BatchSize, true, seed); err != nil {
		return nil, nil, err
	}
	if test, err = NewLoader(testSet, cfg.BatchSize, false, 0); err != nil {
		return nil, nil, err
	}
	cfg.Log.Info().Str("data", dir).Int("train", trainSet.Len()).Int("test", testSet.Len()).Msg("MNIST loaded")
	return train, test, nil
}
