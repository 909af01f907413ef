package dendrite

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/opentensor/bittensor-go/neuron/keys"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

// endpointOf returns the host:port of a synapse definition after checking that
// it names a host and a port number.
func endpointOf(s *bittensorpb.Synapse) (string, error) {
	if s == nil {
		return "", errors.New("dendrite: nil synapse")
	}
	if s.GetAddress() == "" {
		return "", fmt.Errorf("dendrite: synapse %s has no address", keys.Label(s.GetSynapseKey()))
	}
	port, err := strconv.ParseUint(s.GetPort(), 10, 16)
	if err != nil || port == 0 {
		return "", fmt.Errorf("dendrite: synapse %s has port %q, want 1-65535", keys.Label(s.GetSynapseKey()), s.GetPort())
	}
	return net.JoinHostPort(s.GetAddress(), s.GetPort()), nil
}
