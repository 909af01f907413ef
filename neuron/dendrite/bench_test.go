package dendrite_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/opentensor/bittensor-go/neuron/axon"
	"github.com/opentensor/bittensor-go/neuron/dendrite"
	"github.com/opentensor/bittensor-go/neuron/internal/fixture"
	"github.com/opentensor/bittensor-go/neuron/internal/nettest"
	"github.com/opentensor/bittensor-go/neuron/synapse"
	"github.com/opentensor/bittensor-go/neuron/wire"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
)

// identitySynapse answers a tensor with itself.
type identitySynapse struct{ synapse.Base }

func (identitySynapse) ForwardTensor(x *torch.Tensor) (*torch.Tensor, error) { return x, nil }

// BenchmarkAxonForward times one Dendrite→Axon→Dendrite round trip of a
// [64,784] float32 tensor through an identity synapse over 127.0.0.1.
func BenchmarkAxonForward(b *testing.B) {
	benchmarkForward(b, []int64{64, 784})
}

// BenchmarkAxonForward16MiB is BenchmarkAxonForward with a 16 MiB tensor.
func BenchmarkAxonForward16MiB(b *testing.B) {
	benchmarkForward(b, []int64{1024, 4096})
}

func benchmarkForward(b *testing.B, shape []int64) {
	syn := identitySynapse{synapse.NewBase(fixture.Key(b, 1))}
	cfg := nettest.AxonConfig()
	a, err := axon.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := a.Serve(syn); err != nil {
		b.Fatal(err)
	}
	if err := a.Start(); err != nil {
		b.Fatal(err)
	}
	defer a.Stop(context.Background())
	dcfg := dendrite.DefaultConfig()
	dcfg.OutputDim = shape[1]
	d, err := dendrite.New(fixture.Key(b, 2), dcfg)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	_, port, _ := net.SplitHostPort(a.Addr().String())
	defs := []*bittensorpb.Synapse{{SynapseKey: syn.Key(), Address: "127.0.0.1", Port: port}}
	x := torch.Rand(shape)
	b.SetBytes(x.Numel() * 4)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for b.Loop() {
		res, err := d.ForwardTensor(ctx, defs, []*torch.Tensor{x})
		if err != nil || res.Errs[0] != nil {
			b.Fatal(err, res.Errs)
		}
	}
}

// echoServer answers Forward with its request, as a bare grpc-go server would.
type echoServer struct {
	bittensorpb.UnimplementedBittensorServer
}

func (echoServer) Forward(_ context.Context, req *bittensorpb.TensorMessage) (*bittensorpb.TensorMessage, error) {
	return req, nil
}

// BenchmarkRawEcho is the reference for BenchmarkAxonForward: the same
// TensorMessage echoed by a bare grpc-go server.
func BenchmarkRawEcho(b *testing.B) {
	s := grpc.NewServer()
	bittensorpb.RegisterBittensorServer(s, echoServer{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go s.Serve(lis)
	defer s.Stop()
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Close()
	w, err := wire.SerializeTensor(torch.Rand([]int64{64, 784}), bittensorpb.Modality_TENSOR)
	if err != nil {
		b.Fatal(err)
	}
	req := &bittensorpb.TensorMessage{Tensors: []*bittensorpb.Tensor{w}}
	wire.SignMessage(req, fixture.Key(b, 1), 1)
	client := bittensorpb.NewBittensorClient(cc)
	b.SetBytes(int64(len(w.GetBuffer())))
	for b.Loop() {
		if _, err := client.Forward(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}
