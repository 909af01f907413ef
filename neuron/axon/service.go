package axon

import (
	"context"
	"math"

	"github.com/opentensor/bittensor-go/neuron/wire"

	"google.golang.org/grpc"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

// wireServer is what the Axon's service answers: the methods of the
// Bittensor service over the wire codec's messages.
type wireServer interface {
	forward(context.Context, *wire.Incoming) (*wire.Outgoing, error)
	backward(context.Context, *wire.Incoming) (*wire.Outgoing, error)
}

// axonServiceDesc is the Bittensor service of bittensor.proto, under the
// names of the generated bittensorpb.Bittensor_ServiceDesc, with handlers
// that decode each request with the wire codec into an Incoming (see
// Codec) and answer an Outgoing.
var axonServiceDesc = grpc.ServiceDesc{
	ServiceName: bittensorpb.Bittensor_ServiceDesc.ServiceName,
	HandlerType: (*wireServer)(nil),
	Methods: []grpc.MethodDesc{
		{MethodName: "Forward", Handler: wireHandler(bittensorpb.Bittensor_Forward_FullMethodName, wireServer.forward)},
		{MethodName: "Backward", Handler: wireHandler(bittensorpb.Bittensor_Backward_FullMethodName, wireServer.backward)},
	},
	Metadata: bittensorpb.Bittensor_ServiceDesc.Metadata,
}

// wireHandler returns the gRPC handler of one method: it decodes the request
// (see Axon.newRequest), runs the interceptors and call, and frees the
// request's tensors that call did not take once it returned (its answer is
// encoded by then).
func wireHandler(fullMethod string, call func(wireServer, context.Context, *wire.Incoming) (*wire.Outgoing, error)) grpc.MethodHandler {
	return func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
		s := srv.(axonService)
		req := s.a.newRequest()
		if err := dec(req); err != nil {
			return nil, err
		}
		defer req.Free()
		handler := func(ctx context.Context, r any) (any, error) {
			resp, err := call(s, ctx, r.(*wire.Incoming))
			if err != nil {
				return nil, err
			}
			return resp, nil
		}
		if interceptor == nil {
			return handler(ctx, req)
		}
		return interceptor(ctx, req, &grpc.UnaryServerInfo{Server: srv, FullMethod: fullMethod}, handler)
	}
}

// newRequest returns the decoding target of a request: the Axon's Limits,
// finite float values, and no tensor allocated for a synapse it does not
// serve.
func (a *Axon) newRequest() *wire.Incoming {
	return wire.NewIncoming(a.cfg.Limits, math.Inf(1), func(m *wire.Incoming) error {
		_, err := a.synapse(m.Header.SynapseKey)
		return err
	})
}
