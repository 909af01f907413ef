package mnist

import (
	"context"

	"github.com/opentensor/bittensor-go/neuron"
	"github.com/opentensor/bittensor-go/neuron/synapse"
	"github.com/opentensor/bittensor-go/neuron/trainer"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

// Run trains an MNIST neuron with its peers, as the seed's walkthrough does,
// until cfg.Epochs are done or ctx ends (then it checkpoints and returns nil).
// Its model has the DefaultModelOptions.
// Settings the user must change (a port in use, a bad bootstrap peer, a bad
// checkpoint) fail before the data is loaded, as *neuron.UsageError.
func Run(ctx context.Context, cfg neuron.Config) error {
	return RunWith(ctx, cfg, DefaultModelOptions())
}

// RunWith is Run with the model options o.
func RunWith(ctx context.Context, cfg neuron.Config, o ModelOptions) error {
	return neuron.Run(ctx, cfg, SpecWith(o))
}

// Spec is the MNIST neuron for neuron.Run: the seed's MNIST synapse with the
// DefaultModelOptions, serving images of [batch, 1, 28, 28] and answering
// ContextDim features per example, with the seed's router (keys of 100
// features, 10 synapses per example).
func Spec() neuron.Spec {
	return SpecWith(DefaultModelOptions())
}

// SpecWith is Spec with the model options o.
func SpecWith(o ModelOptions) neuron.Spec {
	return neuron.Spec{
		Name:         "mnist",
		Modality:     bittensorpb.Modality_IMAGE,
		OutputDim:    ContextDim,
		NewModel:     func() (synapse.Model, error) { return NewModelWith(o), nil },
		Data:         data,
		RouterKeyDim: 100,
		RouterTopK:   10,
	}
}

// data loads MNIST and returns the shuffled training batches and the test batches.
func data(ctx context.Context, cfg neuron.Config, seed uint64) (train, test trainer.Batches, err error) {
	trainLoader, testLoader, err := loaders(ctx, cfg, seed)
	if err != nil {
		return nil, nil, err
	}
	return trainLoader.Tensors(), testLoader.Tensors(), nil
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
