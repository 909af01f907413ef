package neuron

import (
	"context"
	"testing"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// rawClient returns a bare gRPC client of the Axon, for hand-made requests.
func rawClient(t *testing.T, a *Axon) bittensorpb.BittensorClient {
	t.Helper()
	cc, err := grpc.NewClient(a.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return bittensorpb.NewBittensorClient(cc)
}

// send sends m to the Axon's Backward or Forward and returns the error.
func send(ctx context.Context, client bittensorpb.BittensorClient, backward bool, m *bittensorpb.TensorMessage) error {
	var err error
	if backward {
		_, err = client.Backward(ctx, m)
	} else {
		_, err = client.Forward(ctx, m)
	}
	return err
}

func floatTensor(t *testing.T, x *torch.Tensor) *bittensorpb.Tensor {
	t.Helper()
	w, err := SerializeTensor(x, bittensorpb.Modality_TENSOR)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func signedRequestTo(t *testing.T, synapse string, key *Key, nonce int64) *bittensorpb.TensorMessage {
	t.Helper()
	text, err := EncodeText([]string{"hi"})
	if err != nil {
		t.Fatal(err)
	}
	m := &bittensorpb.TensorMessage{SynapseKey: synapse, Tensors: []*bittensorpb.Tensor{text}}
	SignMessage(m, key, nonce)
	return m
}

func wantStatus(t *testing.T, err error, code codes.Code, msg string) {
	t.Helper()
	if s := status.Convert(err); s.Code() != code || s.Message() != msg {
		t.Fatalf("status = %v %q, want %v %q", s.Code(), s.Message(), code, msg)
	}
}
