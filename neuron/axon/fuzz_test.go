package axon

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/opentensor/bittensor-go/neuron/internal/fixture"
	"github.com/opentensor/bittensor-go/neuron/wire"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
)

// FuzzAxonRequest feeds arbitrary TensorMessages for a served synapse
// straight to the Axon's Forward and Backward handlers, past the network and
// authentication: they must never panic, must answer every request either with a
// result or with a gRPC status of an expected code, and must keep answering a
// valid request afterwards.
func FuzzAxonRequest(f *testing.F) {
	syn := fixture.NewLinearSynapse(f, 1)
	cfg := AxonConfig()
	cfg.Limits = axonFuzzLimits()
	a, err := New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	if err := a.Serve(syn); err != nil {
		f.Fatal(err)
	}
	svc := axonService{a: a}
	x, _ := wire.SerializeTensor(torch.Zeros([]int64{2, fixture.In}), bittensorpb.Modality_TENSOR)
	g, _ := wire.SerializeTensor(torch.Ones([]int64{2, fixture.Out}), bittensorpb.Modality_TENSOR)
	text, _ := wire.EncodeText([]string{"ab", "c"})
	for _, ts := range [][]*bittensorpb.Tensor{{x}, {x, g}, {text}, {text, g}, {g}} {
		b, _ := proto.Marshal(&bittensorpb.TensorMessage{Tensors: ts})
		f.Add(b, false)
		f.Add(b, true)
	}
	valid := &bittensorpb.TensorMessage{SynapseKey: syn.Key(), Tensors: []*bittensorpb.Tensor{x}}
	validBytes, _ := proto.Marshal(valid)
	call := func(b []byte, backward bool) (*wire.Outgoing, error) {
		req := a.newRequest()
		if err := wire.NewCodec().Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, req); err != nil {
			return nil, fmt.Errorf("the wire codec refused a valid TensorMessage: %w", err)
		}
		defer req.Free()
		if req.Err != nil { // the interceptor refuses it with INVALID_ARGUMENT
			if !errors.Is(req.Err, wire.ErrMalformed) {
				return nil, fmt.Errorf("a refused request's error %w does not wrap ErrMalformed", req.Err)
			}
			return nil, status.Error(codes.InvalidArgument, req.Err.Error())
		}
		if backward {
			return svc.backward(context.Background(), req)
		}
		return svc.forward(context.Background(), req)
	}
	f.Fuzz(func(t *testing.T, b []byte, backward bool) {
		var m bittensorpb.TensorMessage
		if proto.Unmarshal(b, &m) != nil {
			return
		}
		m.SynapseKey = syn.Key()
		b, err := proto.Marshal(&m)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := call(b, backward)
		switch status.Code(err) {
		case codes.OK, codes.InvalidArgument, codes.Unimplemented, codes.Internal:
		default:
			t.Fatalf("request answered %v", err)
		}
		if resp != nil {
			resp.Free()
		}
		resp, err = call(validBytes, false)
		if err != nil {
			t.Fatalf("valid request after a fuzzed one: %v", err)
		}
		resp.Free()
	})
}

// axonFuzzLimits are small so the fuzzer reaches the limit checks quickly.
func axonFuzzLimits() wire.Limits {
	return wire.Limits{MaxTensors: 4, MaxRank: 4, MaxElements: 1 << 12, MaxStrings: 64, MaxStringBytes: 256}
}
