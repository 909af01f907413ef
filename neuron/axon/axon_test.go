package axon_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/opentensor/bittensor-go/neuron/axon"
	"github.com/opentensor/bittensor-go/neuron/dendrite"
	"github.com/opentensor/bittensor-go/neuron/internal/fixture"
	"github.com/opentensor/bittensor-go/neuron/internal/nettest"
	"github.com/opentensor/bittensor-go/neuron/internal/peertest"
	"github.com/opentensor/bittensor-go/neuron/synapse"
	"github.com/opentensor/bittensor-go/neuron/wire"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/opentensor/bittensor-go/neuron/keys"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
)

func TestAxonRefusesMalformedRequestsAndKeepsServing(t *testing.T) {
	cfg := nettest.AxonConfig()
	cfg.MaxMessageBytes = 1 << 20
	syn := fixture.NewLinearSynapse(t, 1)
	textOnly := fixture.TextOnlySynapse{Base: synapse.NewBase(fixture.Key(t, 2))}
	a, _ := nettest.StartAxon(t, cfg, syn, textOnly)
	client := peertest.RawClient(t, a.Addr())
	caller := fixture.Key(t, 100)
	nonces := wire.NewNonces(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	good := func() *bittensorpb.Tensor { return peertest.FloatTensor(t, torch.Zeros([]int64{2, fixture.In})) }
	grad := func(shape ...int64) *bittensorpb.Tensor { return peertest.FloatTensor(t, torch.Ones(shape)) }
	msg := func(key string, ts ...*bittensorpb.Tensor) *bittensorpb.TensorMessage {
		m := &bittensorpb.TensorMessage{SynapseKey: key, Tensors: ts}
		wire.SignMessage(m, caller, nonces.Next())
		return m
	}
	// A request that was accepted, to replay.
	accepted := msg(syn.Key(), good())
	if _, err := client.Forward(ctx, accepted); err != nil {
		t.Fatalf("valid request: %v", err)
	}
	forged := msg(syn.Key(), good())
	forged.Tensors[0].Buffer[0] ^= 1
	ahead := &bittensorpb.TensorMessage{SynapseKey: syn.Key(), Tensors: []*bittensorpb.Tensor{good()}}
	wire.SignMessage(ahead, caller, time.Now().Add(time.Hour).UnixNano())
	text, _ := wire.EncodeText([]string{"a"})
	trailing, _ := wire.EncodeText([]string{"a"})
	trailing.Buffer = append(trailing.Buffer, 0)
	ints := good()
	ints.Dtype, ints.Buffer = bittensorpb.DataType_INT64, make([]byte, 2*fixture.In*8)
	unknownKey := fixture.Key(t, 77).PublicHex()
	oversize := msg(syn.Key(), peertest.FloatTensor(t, torch.Zeros([]int64{1 << 18, 2})))
	ck := keys.Label(caller.PublicHex())

	for _, tc := range []struct {
		name     string
		backward bool
		m        *bittensorpb.TensorMessage
		code     codes.Code
		msg      string
	}{
		{"buffer length", false, msg(syn.Key(), &bittensorpb.Tensor{Buffer: make([]byte, 12), Shape: []int64{2, 2}, Dtype: bittensorpb.DataType_FLOAT32}),
			codes.InvalidArgument, "axon: tensor 0: malformed: buffer is 12 bytes, want 16 (shape [2 2] × 4 bytes of FLOAT32)"},
		{"negative shape", false, msg(syn.Key(), &bittensorpb.Tensor{Shape: []int64{2, -1}, Dtype: bittensorpb.DataType_FLOAT32}),
			codes.InvalidArgument, "axon: tensor 0: malformed: dimension 1 is negative (-1)"},
		{"huge shape", false, msg(syn.Key(), &bittensorpb.Tensor{Shape: []int64{1 << 40}, Dtype: bittensorpb.DataType_FLOAT32}),
			codes.InvalidArgument, "axon: tensor 0: malformed: dimension 0 is 1099511627776, over the limit of 268435456 elements"},
		{"too many elements", false, msg(syn.Key(), &bittensorpb.Tensor{Shape: []int64{1 << 20, 1 << 20}, Dtype: bittensorpb.DataType_FLOAT32}),
			codes.InvalidArgument, "axon: tensor 0: malformed: shape [1048576 1048576] has more than 268435456 elements"},
		{"unknown dtype", false, msg(syn.Key(), &bittensorpb.Tensor{Shape: []int64{1}, Dtype: bittensorpb.DataType_UNKNOWN}),
			codes.InvalidArgument, "axon: tensor 0: malformed: unknown dtype 0"},
		{"dtype out of range", false, msg(syn.Key(), &bittensorpb.Tensor{Shape: []int64{1}, Dtype: 9}),
			codes.InvalidArgument, "axon: tensor 0: malformed: unknown dtype 9"},
		{"unknown modality", false, msg(syn.Key(), &bittensorpb.Tensor{Shape: []int64{1}, Buffer: make([]byte, 4), Dtype: bittensorpb.DataType_FLOAT32, Modality: 5}),
			codes.InvalidArgument, "axon: tensor 0: malformed: unknown modality 5"},
		{"text as image", false, msg(syn.Key(), &bittensorpb.Tensor{Shape: []int64{1}, Dtype: bittensorpb.DataType_UTF8, Modality: bittensorpb.Modality_IMAGE}),
			codes.InvalidArgument, "axon: tensor 0: malformed: modality IMAGE does not carry dtype UTF8"},
		{"malformed text", false, msg(syn.Key(), trailing),
			codes.InvalidArgument, "axon: inputs: serializer: malformed: TEXT buffer has 1 bytes after 1 strings"},
		{"no tensors", false, msg(syn.Key()),
			codes.InvalidArgument, "axon: malformed: no tensors"},
		{"too many tensors", false, msg(syn.Key(), good(), good()),
			codes.InvalidArgument, "axon: Forward takes 1 tensor (inputs), got 2"},
		{"unknown synapse", false, msg(unknownKey, good()),
			codes.NotFound, `axon: unknown synapse "` + keys.Label(unknownKey) + `"`},
		{"bad signature", false, forged,
			codes.Unauthenticated, "axon: bad signature from " + ck},
		{"unsigned", false, &bittensorpb.TensorMessage{SynapseKey: syn.Key(), Tensors: []*bittensorpb.Tensor{good()}},
			codes.Unauthenticated, `axon: bad signature: neuron_key: neuron: public key is 0 bytes, want 32`},
		{"replayed nonce", false, accepted,
			codes.Unauthenticated, "axon: replayed or stale nonce: nonce " + fixture.Itoa(accepted.GetNonce()) + " from " + ck + " was already used"},
		{"nonce ahead of the clock", false, ahead,
			codes.Unauthenticated, "axon: replayed or stale nonce: nonce " + fixture.Itoa(ahead.GetNonce()) + " from " + ck + " is more than 1m0s ahead of the server clock"},
		{"oversize", false, oversize,
			codes.ResourceExhausted, fmt.Sprintf("grpc: received message larger than max (%d vs. 1048576)", proto.Size(oversize))},
		{"modality not supported", false, msg(textOnly.Key(), good()),
			codes.Unimplemented, "axon: synapse: TENSOR: modality not supported"},
		{"backward without gradient", true, msg(syn.Key(), good()),
			codes.InvalidArgument, "axon: Backward takes 2 tensors (inputs, output gradient), got 1"},
		{"integer gradient", true, msg(syn.Key(), good(), ints),
			codes.InvalidArgument, "axon: output gradient has dtype INT64, want FLOAT32 or FLOAT64"},
		{"gradient shape", true, msg(syn.Key(), func() *bittensorpb.Tensor { g := good(); g.RequiresGrad = true; return g }(), grad(3, fixture.Out)),
			codes.InvalidArgument, "axon: output gradient has shape [3 5], the output [2 5]"},
		{"text gradient", true, msg(syn.Key(), text, text),
			codes.InvalidArgument, "axon: output gradient has dtype UTF8, want FLOAT32 or FLOAT64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			peertest.WantStatus(t, peertest.Send(ctx, client, tc.backward, tc.m), tc.code, tc.msg)
		})
	}

	// The Axon keeps serving: a valid request right after succeeds.
	resp, err := client.Forward(ctx, msg(syn.Key(), good()))
	if err != nil {
		t.Fatalf("valid request after the malformed ones: %v", err)
	}
	if n := len(resp.GetTensors()); n != 1 || !slices.Equal(resp.GetTensors()[0].GetShape(), []int64{2, fixture.Out}) {
		t.Fatalf("valid request answered %v", resp.GetTensors())
	}
	s := nettest.SettledStats(t, a.Stats, 24)
	if s.Codes[codes.OK] != 2 || s.Errors != 22 || s.Requests != 24 {
		t.Fatalf("stats %+v, want 24 requests, 2 OK, 22 errors", s)
	}
}

func TestAxonGracefulStop(t *testing.T) {
	syn := &fixture.GatedSynapse{LinearSynapse: fixture.NewLinearSynapse(t, 1), Entered: make(chan struct{}, 1), Release: make(chan struct{})}
	cfg := nettest.AxonConfig()
	cfg.Address = "127.0.0.1:0"
	a, err := axon.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Serve(syn); err != nil {
		t.Fatal(err)
	}
	if err := a.Serve(syn); err == nil {
		t.Fatal("serving the same synapse twice succeeded")
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	defs := fixture.Definitions(t, a.Addr(), syn)
	d := nettest.NewDendrite(t, 10*time.Second)

	inflight := make(chan dendrite.Responses, 1)
	go func() {
		res, _ := d.ForwardTensor(context.Background(), defs, []*torch.Tensor{torch.Zeros([]int64{1, fixture.In})})
		inflight <- res
	}()
	<-syn.Entered
	stopped := make(chan error, 1)
	go func() { stopped <- a.Stop(context.Background()) }()
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) while a request was in progress", err)
	case res := <-inflight:
		t.Fatalf("in-flight request ended (%v) before it was released", res.Errs)
	default:
	}
	close(syn.Release)
	if res := <-inflight; res.Errs[0] != nil {
		t.Fatalf("in-flight request failed during a graceful stop: %v", res.Errs[0])
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Stop: %v", err)
	}
	res, _ := d.ForwardTensor(context.Background(), defs, []*torch.Tensor{torch.Zeros([]int64{1, fixture.In})})
	if code := status.Code(res.Errs[0]); code != codes.Unavailable {
		t.Fatalf("request after Stop: %v, want UNAVAILABLE", res.Errs[0])
	}
	if err := a.Stop(context.Background()); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if err := a.Start(); err == nil {
		t.Fatal("Start after Stop succeeded")
	}
}

func TestAxonConfigValidation(t *testing.T) {
	for name, mutate := range map[string]func(*axon.Config){
		"message size": func(c *axon.Config) { c.MaxMessageBytes = 0 },
		"concurrency":  func(c *axon.Config) { c.MaxConcurrent = 0 },
		"queue":        func(c *axon.Config) { c.MaxQueued = -1 },
		"window":       func(c *axon.Config) { c.ReplayWindow = 0 },
		"connections":  func(c *axon.Config) { c.MaxConns = 0 },
		"streams":      func(c *axon.Config) { c.MaxStreamsPerConn = 0 },
		"limits":       func(c *axon.Config) { c.Limits = wire.Limits{} },
	} {
		cfg := axon.DefaultConfig()
		mutate(&cfg)
		if _, err := axon.New(cfg); err == nil {
			t.Errorf("NewAxon with a bad %s succeeded", name)
		}
	}
	a, err := axon.New(nettest.AxonConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Serve(fixture.TextOnlySynapse{}); err == nil {
		t.Fatal("serving a synapse without a key succeeded")
	}
	if a.Addr() != nil {
		t.Fatal("Addr before Start is not nil")
	}
	if err := a.Stop(context.Background()); err != nil {
		t.Fatalf("Stop before Start: %v", err)
	}
}

func TestAxonHardStopWaitsForRunningForwards(t *testing.T) {
	syn := &fixture.GatedSynapse{LinearSynapse: fixture.NewLinearSynapse(t, 1), Entered: make(chan struct{}, 1), Release: make(chan struct{})}
	cfg := nettest.AxonConfig()
	a, err := axon.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Serve(syn); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	defs := fixture.Definitions(t, a.Addr(), syn)
	d := nettest.NewDendrite(t, 10*time.Second)
	inflight := make(chan dendrite.Responses, 1)
	go func() {
		res, _ := d.ForwardTensor(context.Background(), defs, []*torch.Tensor{torch.Zeros([]int64{1, fixture.In})})
		inflight <- res
	}()
	<-syn.Entered
	expired, cancel := context.WithCancel(context.Background())
	cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- a.Stop(expired) }()
	// The caller learns at once that its request is lost...
	if res := <-inflight; res.Errs[0] == nil {
		t.Fatal("in-flight request succeeded through a hard stop")
	}
	// ...but Stop returns only once the running forward has.
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) while a forward was running", err)
	default:
	}
	close(syn.Release)
	if err := <-stopped; err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

func TestAxonUnknownSynapseLeavesNoReplayState(t *testing.T) {
	syn := fixture.NewLinearSynapse(t, 1)
	a, _ := nettest.StartAxon(t, nettest.AxonConfig(), syn)
	client := peertest.RawClient(t, a.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	caller, nonces := fixture.Key(t, 100), wire.NewNonces(nil)
	unknown := fixture.Key(t, 77).PublicHex()
	for range 10 {
		_, err := client.Forward(ctx, peertest.SignedRequestTo(t, unknown, caller, nonces.Next()))
		peertest.WantStatus(t, err, codes.NotFound, `axon: unknown synapse "`+keys.Label(unknown)+`"`)
	}
	if n := a.ReplayEntries(); n != 0 {
		t.Fatalf("requests to an unknown synapse left %d replay entries", n)
	}
	// A request to the served synapse is recorded as before.
	req := &bittensorpb.TensorMessage{SynapseKey: syn.Key(), Tensors: []*bittensorpb.Tensor{peertest.FloatTensor(t, torch.Zeros([]int64{1, fixture.In}))}}
	wire.SignMessage(req, caller, nonces.Next())
	if _, err := client.Forward(ctx, req); err != nil {
		t.Fatalf("request to the served synapse: %v", err)
	}
	if n := a.ReplayEntries(); n != 1 {
		t.Fatalf("guard holds %d entries after one accepted request, want 1", n)
	}
}
