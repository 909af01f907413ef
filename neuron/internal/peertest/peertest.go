package peertest

import (
	"context"
	"net"
	"testing"

	"github.com/opentensor/bittensor-go/neuron/keys"
	"github.com/opentensor/bittensor-go/neuron/wire"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
)

// RawClient returns a bare gRPC client of the Axon, for hand-made requests.
func RawClient(t *testing.T, addr net.Addr) bittensorpb.BittensorClient {
	t.Helper()
	cc, err := grpc.NewClient(addr.String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return bittensorpb.NewBittensorClient(cc)
}

// Send sends m to the Axon's Backward or Forward and returns the error.
func Send(ctx context.Context, client bittensorpb.BittensorClient, backward bool, m *bittensorpb.TensorMessage) error {
	var err error
	if backward {
		_, err = client.Backward(ctx, m)
	} else {
		_, err = client.Forward(ctx, m)
	}
	return err
}

func FloatTensor(t *testing.T, x *torch.Tensor) *bittensorpb.Tensor {
	t.Helper()
	w, err := wire.SerializeTensor(x, bittensorpb.Modality_TENSOR)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func SignedRequestTo(t *testing.T, synapse string, key *keys.Key, nonce int64) *bittensorpb.TensorMessage {
	t.Helper()
	text, err := wire.EncodeText([]string{"hi"})
	if err != nil {
		t.Fatal(err)
	}
	m := &bittensorpb.TensorMessage{SynapseKey: synapse, Tensors: []*bittensorpb.Tensor{text}}
	wire.SignMessage(m, key, nonce)
	return m
}

func WantStatus(t *testing.T, err error, code codes.Code, msg string) {
	t.Helper()
	if s := status.Convert(err); s.Code() != code || s.Message() != msg {
		t.Fatalf("status = %v %q, want %v %q", s.Code(), s.Message(), code, msg)
	}
}
