package neuron

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/opentensor/bittensor-go/proto"
)

// authInterceptor admits only TensorMessages signed by their neuron_key with a
// nonce that caller has not used: a bad signature or a replayed nonce is
// refused with UNAUTHENTICATED before the handler decodes anything. The replay
// guard is consulted only after the signature checked out, so no one can spend
// another caller's nonces.
func authInterceptor(guard *ReplayGuard) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		m, ok := req.(*bittensorpb.TensorMessage)
		if !ok {
			return nil, status.Errorf(codes.Internal, "axon: unexpected request type %T", req)
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
