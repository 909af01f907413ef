package cifar

import (
	"context"
	"fmt"
	"os"

	"github.com/opentensor/bittensor-go/neuron"
	"github.com/opentensor/bittensor-go/neuron/synapse"
	"github.com/opentensor/bittensor-go/neuron/trainer"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
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
// does (neuron.Run), until cfg.Epochs are done or ctx ends (then it
// checkpoints and returns nil). The data is read first; settings the user
// must change (an unknown dataset, missing data, a port in use, a bad
// bootstrap peer, a bad checkpoint) fail before training, as
// *neuron.UsageError.
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
	if err := o.Model.Validate(); err != nil {
		return err
	}
	var trainSet, testSet *Dataset
	if !cfg.ServeOnly {
		// Read the data before anything starts listening: missing or
		// damaged files fail at once.
		var err error
		if trainSet, testSet, err = loadDataset(cfg, o.Dataset); err != nil {
			return err
		}
	}
	return neuron.Run(ctx, cfg, neuron.Spec{
		Name:      "cifar",
		Modality:  bittensorpb.Modality_IMAGE,
		OutputDim: o.Model.FeatureDim(),
		NewModel:  func() (synapse.Model, error) { return NewModelWith(o.Model) },
		Data: func(_ context.Context, cfg neuron.Config, seed uint64) (train, test trainer.Batches, err error) {
			return loaders(cfg, trainSet, testSet, seed)
		},
		RouterKeyDim: routerKeyDim,
		RouterTopK:   routerTopK,
		Trainer:      []trainer.Option{trainer.WithSGD(optim.SGDOptions{LR: learningRate, Momentum: momentum, WeightDecay: weightDecay})},
	})
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

// loadDataset reads the chosen dataset from --data_dir (or Debian's
// Fashion-MNIST when none is given).
func loadDataset(cfg neuron.Config, dataset string) (train, test *Dataset, err error) {
	dir, err := findData(cfg.DataDir, dataset)
	if err != nil {
		return nil, nil, err
	}
	if dataset == DatasetFashionMNIST {
		train, test, err = LoadFashionMNIST(dir)
	} else {
		train, test, err = LoadCIFAR10(dir)
	}
	if err != nil {
		return nil, nil, err
	}
	cfg.Log.Info().Str("dataset", dataset).Str("data", dir).Int("train", train.Len()).Int("test", test.Len()).
		Msg("data loaded")
	return train, test, nil
}

// loaders returns the shuffled, augmented training batches and the test
// batches of the datasets.
func loaders(cfg neuron.Config, trainSet, testSet *Dataset, seed uint64) (train, test trainer.Batches, err error) {
	tr, err := NewLoader(trainSet, cfg.BatchSize, true, seed)
	if err != nil {
		return nil, nil, err
	}
	te, err := NewLoader(testSet, cfg.BatchSize, false, 0)
	if err != nil {
		return nil, nil, err
	}
	return tr.Tensors(), te.Tensors(), nil
}
