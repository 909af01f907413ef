package cifar

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"

	"github.com/opentensor/bittensor-go/neuron"
	"github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
	"github.com/opentensor/bittensor-go/torch/optim"
)

// The seed's CIFAR recipe: batches of 32, SGD with learning rate 0.01,
// momentum 0.9 and weight decay 5e-4; the router's keys of 100 features and
// 10 synapses per example.
const (
	BatchSize    = 32
	learningRate = 0.01
	momentum     = 0.9
	weightDecay  = 5e-4
	routerKeyDim = 100
	routerTopK   = 10
)

// The datasets Run trains on.
const (
	// DatasetCIFAR10 is CIFAR-10, from its binary files under --data_dir.
	DatasetCIFAR10 = "cifar10"
	// DatasetFashionMNIST is Fashion-MNIST as 3×32×32 images, by default
	// from Debian's dataset-fashion-mnist package.
	DatasetFashionMNIST = "fashion-mnist"
)

// Options are the CIFAR neuron's own settings, beyond neuron.Config.
type Options struct {
	// Dataset is DatasetCIFAR10 (the default when empty) or DatasetFashionMNIST.
	Dataset string
	// Model is the network's shape; the zero value means DPN26.
	Model DPNConfig
}

// Run trains a CIFAR neuron on CIFAR-10 with its peers (RunWith with the
// default Options).
func Run(ctx context.Context, cfg neuron.Config) error { return RunWith(ctx, cfg, Options{}) }

// RunWith trains a CIFAR neuron with its peers, as the seed's walkthrough
// does, until cfg.Epochs are done or ctx ends (then it checkpoints and
// returns nil). The data is loaded first; settings the user must change (an
// unknown dataset, missing data, a port in use, a bad bootstrap peer, a bad
// checkpoint) fail before training, as *neuron.UsageError.
func RunWith(ctx context.Context, cfg neuron.Config, o Options) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if o.Dataset == "" {
		o.Dataset = DatasetCIFAR10
	}
	if o.Dataset != DatasetCIFAR10 && o.Dataset != DatasetFashionMNIST {
		return &neuron.UsageError{Flag: "dataset", Err: fmt.Errorf("%q, want %s or %s", o.Dataset, DatasetCIFAR10, DatasetFashionMNIST)}
	}
	if o.Model == (DPNConfig{}) {
		o.Model = DPN26()
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
	var train, test *Loader
	if !cfg.ServeOnly {
		// Load the data before anything starts listening: missing or
		// damaged files fail at once.
		dataDir, err := findData(cfg.DataDir, o.Dataset)
		if err != nil {
			return err
		}
		if train, test, err = loaders(cfg, o.Dataset, dataDir, seed); err != nil {
			return err
		}
	}

	model, err := NewModelWith(o.Model)
	if err != nil {
		return err
	}
	if err := nn.To(model, device); err != nil {
		return err
	}
	id, err := neuron.LoadIdentityFlag(cfg.NeuronKey)
	if err != nil {
		return err
	}
	synapse, err := neuron.NewLocalSynapse(id.Synapse, model, bittensorpb.Modality_IMAGE)
	if err != nil {
		return err
	}
	n, err := neuron.StartNeuron(ctx, cfg, model.ContextDim(), device, synapse)
	if err != nil {
		return err
	}
	defer n.Close()
	router, err := neuron.NewRouter(int(model.ContextDim()), routerKeyDim, routerTopK)
	if err != nil {
		return err
	}
	if err := nn.To(router, device); err != nil {
		return err
	}
	runDir := filepath.Join(cfg.LogDir, "cifar-"+n.Key.PublicHex()[:8])
	trainer, err := neuron.NewTrainer(cfg, n, synapse, router, runDir, device,
		neuron.WithSGD(optim.SGDOptions{LR: learningRate, Momentum: momentum, WeightDecay: weightDecay}))
	if err != nil {
		return err
	}
	defer trainer.Close()
	if cfg.ServeOnly {
		cfg.Log.Info().Str("checkpoints", runDir).Str("device", device.String()).Msg("serving")
		return trainer.Serve(ctx)
	}

	cfg.Log.Info().Str("checkpoints", runDir).Str("device", device.String()).Msg("training")
	return trainer.Train(ctx, train.Tensors(), test.Tensors())
}

// findData returns the folder to read dataset from: dataDir, or for
// Fashion-MNIST Debian's copy when dataDir is empty. CIFAR-10 has no
// default: it must be downloaded elsewhere, and the error says how.
func findData(dataDir, dataset string) (string, error) {
	if dataDir == "" {
		if dataset == DatasetCIFAR10 {
			return "", &neuron.UsageError{Flag: "data_dir", Err: fmt.Errorf("CIFAR-10 needs its files: %s", cifarHint)}
		}
		dataDir = FashionMNISTDir
	}
	if st, err := os.Stat(dataDir); err != nil || !st.IsDir() {
		hint := cifarHint
		if dataset == DatasetFashionMNIST {
			hint = fashionHint
		}
		return "", &neuron.UsageError{Flag: "data_dir", Err: fmt.Errorf("%s is not a folder: %s", dataDir, hint)}
	}
	return dataDir, nil
}

// loaders loads the dataset and returns the shuffled, augmented training
// loader and the test loader.
func loaders(cfg neuron.Config, dataset, dir string, seed uint64) (train, test *Loader, err error) {
	var trainSet, testSet *Dataset
	if dataset == DatasetFashionMNIST {
		trainSet, testSet, err = LoadFashionMNIST(dir)
	} else {
		trainSet, testSet, err = LoadCIFAR10(dir)
	}
	if err != nil {
		return nil, nil, err
	}
	if train, err = NewLoader(trainSet, cfg.BatchSize, true, seed); err != nil {
		return nil, nil, err
	}
	if test, err = NewLoader(testSet, cfg.BatchSize, false, 0); err != nil {
		return nil, nil, err
	}
	cfg.Log.Info().Str("dataset", dataset).Str("data", dir).Int("train", trainSet.Len()).Int("test", testSet.Len()).
		Msg("data loaded")
	return train, test, nil
}
