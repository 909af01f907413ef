package neuron

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/opentensor/bittensor-go/proto"
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
// The handler decodes nothing of a refused request.
func authInterceptor(served func(synapseKey string) error, guard *ReplayGuard) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		m, ok := req.(*bittensorpb.TensorMessage)
		if !ok {
			return nil, status.Errorf(codes.Internal, "axon: unexpected request type %T", req)
		}
		if err := served(m.GetSynapseKey()); err != nil {
			return nil, err
		}
		if err := VerifyMessage(m); err != nil {
			return nil, status.Errorf(codes.Unauthenticated, "axon: %v", err)
		}
		if err := guard.Check(m.GetNeuronKey(), m.GetNonce()); err != nil {
			return nil, status.Errorf(codes.Unauthenticated, "axon: %v", err)
		}
		return handler(ctx, req)
	}
}
