package neuron

import (
	"context"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/opentensor/bittensor-go/proto"
)

// admission bounds the RPCs an Axon works on: at most cap(slots) run at once,
// at most maxQueued more wait for a slot, and the rest are refused with
// RESOURCE_EXHAUSTED at once instead of piling up memory and latency.
type admission struct {
	slots     chan struct{}
	queued    atomic.Int64
	maxQueued int64
}

func newAdmission(maxConcurrent, maxQueued int) *admission {
	return &admission{slots: make(chan struct{}, max(maxConcurrent, 1)), maxQueued: int64(max(maxQueued, 0))}
}

// acquire takes a slot, waiting in the queue while there is room in it.
func (a *admission) acquire(ctx context.Context) error {
	select {
	case a.slots <- struct{}{}:
		return nil
	default:
	}
	if a.queued.Add(1) > a.maxQueued {
		a.queued.Add(-1)
		return status.Errorf(codes.ResourceExhausted, "axon: busy: %d requests running and %d queued", cap(a.slots), a.maxQueued)
	}
	defer a.queued.Add(-1)
	select {
	case a.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	}
}

func (a *admission) release() { <-a.slots }

// interceptor admits each RPC before it runs and releases its slot after.
func (a *admission) interceptor(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := a.acquire(ctx); err != nil {
		return nil, err
	}
	defer a.release()
	return handler(ctx, req)
}

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
