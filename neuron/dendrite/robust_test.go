package dendrite_test

import (
	"context"
	"errors"
	"math"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opentensor/bittensor-go/neuron/internal/fixture"
	"github.com/opentensor/bittensor-go/neuron/internal/nettest"
	"github.com/opentensor/bittensor-go/neuron/internal/peertest"
	"github.com/opentensor/bittensor-go/neuron/synapse"
	"github.com/opentensor/bittensor-go/neuron/wire"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/opentensor/bittensor-go/neuron/keys"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
)

// constantSynapse answers every tensor forward with [batch, testOut] copies
// of value, counting its calls.
type constantSynapse struct {
	synapse.Base
	value float32
	calls atomic.Int64
}

func (s *constantSynapse) ForwardTensor(x *torch.Tensor) (*torch.Tensor, error) {
	s.calls.Add(1)
	n := x.Size(0)
	v := make([]float32, n*fixture.Out)
	for i := range v {
		v[i] = s.value
	}
	return torch.FromFloat32(v, n, fixture.Out), nil
}

func TestBadNumbersFromAPeerAreFailedCallsAndBackItOff(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value float32
	}{
		{"NaN", float32(math.NaN())},
		{"+Inf", float32(math.Inf(1))},
		{"-Inf", float32(math.Inf(-1))},
		{"absurd", 1e20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := &constantSynapse{Base: synapse.NewBase(fixture.Key(t, 30)), value: tc.value}
			_, defs := nettest.StartAxon(t, nettest.AxonConfig(), bad)
			d := nettest.NewDendrite(t, 5*time.Second)
			x := torch.FromFloat32(fixture.PseudoRandom(3, 2*fixture.In), 2, fixture.In).SetRequiresGrad(true)
			res, err := d.ForwardTensor(context.Background(), defs, []*torch.Tensor{x})
			if err != nil {
				t.Fatal(err)
			}
			if !errors.Is(res.Errs[0], wire.ErrBadNumbers) {
				t.Fatalf("a peer answering %v: error %v, want one wrapping ErrBadNumbers", tc.value, res.Errs[0])
			}
			fixture.AssertClose(t, "output of a peer answering bad numbers", res.Outputs[0], torch.Zeros([]int64{2, fixture.Out}), 0)
			st := d.Stats()[bad.Key()]
			if st.Standing.BadAnswers != 1 || st.ForwardFailures != 1 || d.Callable(bad.Key()) {
				t.Errorf("standing after a bad answer: %+v, callable %v; want 1 bad answer, backed off", st, d.Callable(bad.Key()))
			}
			// The output is a constant: a loss over it back-propagates, and
			// no Backward is sent to a backed-off peer.
			if err := res.Outputs[0].Sum().Add(x.Sum()).Backward(); err != nil {
				t.Fatal(err)
			}
			if st := d.Stats()[bad.Key()]; st.Backwards != 0 {
				t.Errorf("%d Backward calls sent to a peer that answered bad numbers", st.Backwards)
			}
		})
	}
}

// lyingPeer answers every Forward with zeros of the right shape and every
// Backward with a NaN input gradient.
type lyingPeer struct {
	bittensorpb.UnimplementedBittensorServer
	backwards atomic.Int64
}

func (p *lyingPeer) Forward(_ context.Context, req *bittensorpb.TensorMessage) (*bittensorpb.TensorMessage, error) {
	in := req.GetTensors()[0]
	out, err := wire.SerializeTensor(torch.Zeros([]int64{in.GetShape()[0], fixture.Out}), bittensorpb.Modality_TENSOR)
	if err != nil {
		return nil, err
	}
	return &bittensorpb.TensorMessage{Tensors: []*bittensorpb.Tensor{out}}, nil
}

func (p *lyingPeer) Backward(_ context.Context, req *bittensorpb.TensorMessage) (*bittensorpb.TensorMessage, error) {
	p.backwards.Add(1)
	in := req.GetTensors()[0]
	g, err := wire.SerializeTensor(torch.Full(in.GetShape(), math.NaN()), bittensorpb.Modality_TENSOR)
	if err != nil {
		return nil, err
	}
	return &bittensorpb.TensorMessage{Tensors: []*bittensorpb.Tensor{g}}, nil
}

func TestANaNGradientFromAPeerNeverReachesTheGraph(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	peer := &lyingPeer{}
	bittensorpb.RegisterBittensorServer(srv, peer)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	def := fixture.Definitions(t, lis.Addr(), fixture.NewLinearSynapse(t, 31))[0]

	d := nettest.NewDendrite(t, 5*time.Second)
	x := torch.FromFloat32(fixture.PseudoRandom(4, 2*fixture.In), 2, fixture.In).SetRequiresGrad(true)
	res, err := d.ForwardTensor(context.Background(), []*bittensorpb.Synapse{def}, []*torch.Tensor{x})
	if err != nil || res.Errs[0] != nil {
		t.Fatalf("forward: %v, %v", err, res.Errs[0])
	}
	// The loss also depends on x directly, so x gets a gradient either way.
	if err := res.Outputs[0].Sum().Add(x.Sum()).Backward(); err != nil {
		t.Fatal(err)
	}
	if peer.backwards.Load() != 1 {
		t.Fatalf("%d Backward calls reached the peer, want 1", peer.backwards.Load())
	}
	fixture.AssertClose(t, "input gradient", x.Grad(), torch.Ones([]int64{2, fixture.In}), 0)
	if st := d.Stats()[def.GetSynapseKey()]; st.BackwardFailures != 1 || st.Standing.BadAnswers != 1 {
		t.Errorf("stats after a NaN gradient: %+v, want 1 failed backward, a bad answer", st)
	}
}

// declaredSynapse is a linearSynapse that declares its tensor inputs.
type declaredSynapse struct{ *fixture.LinearSynapse }

func (declaredSynapse) Inputs(modality bittensorpb.Modality) (synapse.InputSpec, bool) {
	return synapse.InputSpec{DType: bittensorpb.DataType_FLOAT32, Shape: []int64{-1, fixture.In}}, modality == bittensorpb.Modality_TENSOR
}

func TestAxonRefusesBadNumbersAndUndeclaredInputs(t *testing.T) {
	syn := declaredSynapse{fixture.NewLinearSynapse(t, 32)}
	a, _ := nettest.StartAxon(t, nettest.AxonConfig(), syn)
	client := peertest.RawClient(t, a.Addr())
	caller := fixture.Key(t, 101)
	nonces := wire.NewNonces(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msg := func(ts ...*bittensorpb.Tensor) *bittensorpb.TensorMessage {
		m := &bittensorpb.TensorMessage{SynapseKey: syn.Key(), Tensors: ts}
		wire.SignMessage(m, caller, nonces.Next())
		return m
	}
	good := peertest.FloatTensor(t, torch.Zeros([]int64{2, fixture.In}))
	nanIn := peertest.FloatTensor(t, torch.Full([]int64{2, fixture.In}, math.NaN()))
	infGrad := peertest.FloatTensor(t, torch.Full([]int64{2, fixture.Out}, math.Inf(-1)))
	wide := peertest.FloatTensor(t, torch.Zeros([]int64{2, fixture.In + 1}))
	doubles := peertest.FloatTensor(t, torch.Zeros([]int64{2, fixture.In}, torch.WithDType(torch.Float64)))

	for _, tc := range []struct {
		name     string
		backward bool
		m        *bittensorpb.TensorMessage
		msg      string
	}{
		{"NaN inputs", false, msg(nanIn), "axon: inputs: bad numbers: element 0 is NaN"},
		{"NaN inputs to Backward", true, msg(nanIn, peertest.FloatTensor(t, torch.Ones([]int64{2, fixture.Out}))), "axon: inputs: bad numbers: element 0 is NaN"},
		{"infinite gradient", true, msg(good, infGrad), "axon: output gradient: bad numbers: element 0 is -Inf"},
		{"wrong width", false, msg(wide), "inputs are FLOAT32 [2 7], want FLOAT32 [batch 6]"},
		{"wrong dtype", false, msg(doubles), "inputs are FLOAT64 [2 6], want FLOAT32 [batch 6]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := peertest.Send(ctx, client, tc.backward, tc.m)
			if c := status.Code(err); c != codes.InvalidArgument || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("%s: %v, want INVALID_ARGUMENT containing %q", tc.name, err, tc.msg)
			}
		})
	}
	if _, err := client.Forward(ctx, msg(good)); err != nil {
		t.Fatalf("a valid request after the bad ones: %v", err)
	}
}

// barrierPeer answers Forward with zeros and holds every Backward until n
// Backward calls are in flight at once, then answers each with a gradient of
// ones; a Backward still held when its deadline passes fails.
type barrierPeer struct {
	bittensorpb.UnimplementedBittensorServer
	n       int64
	arrived atomic.Int64
	all     chan struct{}
}

func (p *barrierPeer) Forward(ctx context.Context, req *bittensorpb.TensorMessage) (*bittensorpb.TensorMessage, error) {
	return (&lyingPeer{}).Forward(ctx, req)
}

func (p *barrierPeer) Backward(ctx context.Context, req *bittensorpb.TensorMessage) (*bittensorpb.TensorMessage, error) {
	if p.arrived.Add(1) == p.n {
		close(p.all)
	}
	select {
	case <-p.all:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	g, err := wire.SerializeTensor(torch.Ones(req.GetTensors()[0].GetShape()), bittensorpb.Modality_TENSOR)
	if err != nil {
		return nil, err
	}
	return &bittensorpb.TensorMessage{Tensors: []*bittensorpb.Tensor{g}}, nil
}

// The Backward calls of one Dendrite call are sent at once: eight peers that
// each answer only once all eight are waiting all answer, where calls sent
// one after another would each run into the deadline.
func TestBackwardFansOutToAllPeersAtOnce(t *testing.T) {
	const peers = 8
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	peer := &barrierPeer{n: peers, all: make(chan struct{})}
	bittensorpb.RegisterBittensorServer(srv, peer)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	defs := make([]*bittensorpb.Synapse, peers)
	for i := range defs {
		defs[i] = fixture.Definitions(t, lis.Addr(), fixture.NewLinearSynapse(t, byte(40+i)))[0]
	}
	d := nettest.NewDendrite(t, 2*time.Second)
	x := torch.FromFloat32(fixture.PseudoRandom(5, 2*fixture.In), 2, fixture.In).SetRequiresGrad(true)
	inputs := make([]*torch.Tensor, peers)
	for i := range inputs {
		inputs[i] = x // one input shared by every synapse
	}
	res, err := d.ForwardTensor(context.Background(), defs, inputs)
	if err != nil || res.Failed() != 0 {
		t.Fatalf("forward: %v, %d failed", err, res.Failed())
	}
	loss := res.Outputs[0].Sum()
	for _, o := range res.Outputs[1:] {
		loss = loss.Add(o.Sum())
	}
	if err := loss.Backward(); err != nil {
		t.Fatal(err)
	}
	for key, st := range d.Stats() {
		if st.Backwards != 1 || st.BackwardFailures != 0 {
			t.Errorf("peer %s: %d Backward calls, %d failed (%v); want 1 that succeeded", keys.Label(key), st.Backwards, st.BackwardFailures, st.LastError)
		}
	}
	// Each peer's gradient of ones adds up in the shared input.
	fixture.AssertClose(t, "input gradient", x.Grad(), torch.Full([]int64{2, fixture.In}, peers), 0)
}
