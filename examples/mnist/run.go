package mnist

import (
	"context"
	"errors"
	"fmt"

	"github.com/opentensor/bittensor-go/neuron"
)

// Run trains an MNIST neuron with its peers until cfg.Epochs are done or ctx
// ends.
func Run(ctx context.Context, cfg neuron.Config) error {
	dir, err := FindData(ctx, cfg.DataDir)
	if err != nil {
		return err
	}
	train, test, err := Load(dir)
	if err != nil {
		return err
	}
	cfg.Log.Info().Str("data", dir).Int("train", train.Len()).Int("test", test.Len()).Msg("MNIST loaded")
	return fmt.Errorf("mnist: %w", errors.New("the training loop is not built yet"))
}
