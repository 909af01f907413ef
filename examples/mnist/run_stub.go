//go:build !bt_integration

package mnist

import (
	"context"
	"errors"

	"github.com/opentensor/bittensor-go/neuron"
)

// Run is a placeholder until the Axon, Dendrite and Metagraph are merged.
func Run(ctx context.Context, cfg neuron.Config) error {
	return errors.New("mnist: this build lacks the Axon, Dendrite and Metagraph (build with -tags bt_integration)")
}
