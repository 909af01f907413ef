package axon

import (
	"context"

	"github.com/opentensor/bittensor-go/neuron/wire"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

// authInterceptor admits only TensorMessages for a served synapse, signed by
// their neuron_key, with a nonce the replay guard accepts. The checks run
// cheapest first, and each before anything is recorded for the request:
//
//   - served reports an unknown synapse_key (NOT_FOUND), so requests for a
//     synapse that does not exist cost neither a signature check nor replay
//     state;
//   - a bad signature is refused with UNAUTHENTICATED, before the guard, so no
//     one can spend another caller's nonces;
//   - the guard then records the nonce, or refuses a replayed, stale or too
//     new one with UNAUTHENTICATED.
//
// A request decoded by the wire codec (an Incoming) that breaks the
// Limits is refused with INVALID_ARGUMENT after the synapse lookup and
// before the signature check: its tensors were neither allocated nor hashed.
// The handler runs for none of the refused requests.
func authInterceptor(served func(synapseKey string) error, guard *replayGuard) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		var synapseKey, neuronKey string
		var nonce int64
		var verify func() error
		switch m := req.(type) {
		case *wire.Incoming:
			synapseKey, neuronKey, nonce, verify = m.Header.SynapseKey, m.Header.NeuronKey, m.Header.Nonce, m.Verify
			if err := served(synapseKey); err != nil {
				return nil, err
			}
			if m.Err != nil {
				return nil, status.Errorf(codes.InvalidArgument, "axon: %v", m.Err)
			}
		case *bittensorpb.TensorMessage:
			synapseKey, neuronKey, nonce = m.GetSynapseKey(), m.GetNeuronKey(), m.GetNonce()
			verify = func() error { return wire.VerifyMessage(m) }
			if err := served(synapseKey); err != nil {
				return nil, err
			}
		default:
			return nil, status.Errorf(codes.Internal, "axon: unexpected request type %T", req)
		}
		if err := verify(); err != nil {
			return nil, status.Errorf(codes.Unauthenticated, "axon: %v", err)
		}
		if err := guard.Check(neuronKey, nonce); err != nil {
			return nil, status.Errorf(codes.Unauthenticated, "axon: %v", err)
		}
		return handler(ctx, req)
	}
}
