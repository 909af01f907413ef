package dendrite_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opentensor/bittensor-go/internal/testing/eventually"
	"github.com/opentensor/bittensor-go/neuron/dendrite"
	"github.com/opentensor/bittensor-go/neuron/internal/fixture"
	"github.com/opentensor/bittensor-go/neuron/internal/nettest"
	"github.com/opentensor/bittensor-go/neuron/synapse"
	"github.com/opentensor/bittensor-go/neuron/wire"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/opentensor/bittensor-go/neuron/keys"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
)

func TestForwardOverTheWireEqualsLocal(t *testing.T) {
	syn := fixture.NewLinearSynapse(t, 1)
	_, defs := nettest.StartAxon(t, nettest.AxonConfig(), syn)
	d := nettest.NewDendrite(t, 10*time.Second)
	ctx := context.Background()

	local := func(inputs any, m bittensorpb.Modality) *torch.Tensor {
		var out *torch.Tensor
		var err error
		torch.NoGrad(func() { out, err = synapse.CallForward(syn, inputs, m) })
		if err != nil {
			t.Fatalf("local %v forward: %v", m, err)
		}
		return out
	}
	check := func(m bittensorpb.Modality, res dendrite.Responses, err error, want *torch.Tensor) {
		t.Helper()
		if err != nil {
			t.Fatalf("%v: %v", m, err)
		}
		if res.Errs[0] != nil {
			t.Fatalf("%v: call failed: %v", m, res.Errs[0])
		}
		fixture.AssertClose(t, m.String()+" output", res.Outputs[0], want, 1e-6)
	}

	x := torch.FromFloat32(fixture.PseudoRandom(7, 3*fixture.In), 3, fixture.In)
	res, err := d.ForwardTensor(ctx, defs, []*torch.Tensor{x})
	check(bittensorpb.Modality_TENSOR, res, err, local(x, bittensorpb.Modality_TENSOR))

	img := torch.FromFloat32(fixture.PseudoRandom(8, 2*1*2*3), 2, 1, 2, 3) // flattens to testIn features
	res, err = d.ForwardImage(ctx, defs, []*torch.Tensor{img})
	check(bittensorpb.Modality_IMAGE, res, err, local(img, bittensorpb.Modality_IMAGE))

	text := []string{"the quick brown fox", "", "jumps over ✓"}
	res, err = d.ForwardText(ctx, defs, [][]string{text})
	check(bittensorpb.Modality_TEXT, res, err, local(text, bittensorpb.Modality_TEXT))

	st := d.Stats()[syn.Key()]
	if st.Forwards != 3 || st.ForwardFailures != 0 || st.LastError != nil {
		t.Fatalf("dendrite stats %+v, want 3 forwards and no failure", st)
	}
}

func TestGradientsThroughTheWireEqualLocal(t *testing.T) {
	syn := fixture.NewLinearSynapse(t, 2)
	_, defs := nettest.StartAxon(t, nettest.AxonConfig(), syn)
	d := nettest.NewDendrite(t, 10*time.Second)

	// Local: loss(syn(x·w)).
	x1, w1 := fixture.TwoLayer(t, 5)
	y1, err := syn.ForwardTensor(x1.Matmul(w1))
	if err != nil {
		t.Fatal(err)
	}
	if err := fixture.WeightedSum(t, y1).Backward(); err != nil {
		t.Fatal(err)
	}
	// The synapse's own gradients from the local run must not leak into the remote one.
	for _, p := range []*torch.Tensor{syn.W, syn.B} {
		if err := p.ZeroGrad(); err != nil {
			t.Fatal(err)
		}
	}

	// Remote: the same, with the synapse behind the Dendrite.
	x2, w2 := fixture.TwoLayer(t, 5)
	res, err := d.ForwardTensor(context.Background(), defs, []*torch.Tensor{x2.Matmul(w2)})
	if err != nil || res.Errs[0] != nil {
		t.Fatalf("forward: %v %v", err, res.Errs)
	}
	if !res.Outputs[0].RequiresGrad() {
		t.Fatal("the remote output is not part of the caller's graph")
	}
	if err := fixture.WeightedSum(t, res.Outputs[0]).Backward(); err != nil {
		t.Fatal(err)
	}
	fixture.AssertClose(t, "input gradient", x2.Grad(), x1.Grad(), 1e-5)
	fixture.AssertClose(t, "local layer gradient", w2.Grad(), w1.Grad(), 1e-5)

	// The synapse is not Trainable: its parameters got no gradient and stayed.
	if g := syn.W.Grad(); g != nil && g.Err() == nil {
		if v := fixture.Values(t, g.Abs().Sum()); v[0] != 0 {
			t.Fatalf("a non-trainable synapse's parameters got a gradient of norm %v", v[0])
		}
	}
	st := d.Stats()[syn.Key()]
	if st.Backwards != 1 || st.BackwardFailures != 0 {
		t.Fatalf("dendrite stats %+v, want 1 backward and no failure", st)
	}
}

func TestRemoteBackwardTrainsTheSynapse(t *testing.T) {
	const lr = 0.5
	remote := fixture.NewTrainableSynapse(t, 3, lr)
	twin := fixture.NewLinearSynapse(t, 3) // the same starting weights, trained locally
	_, defs := nettest.StartAxon(t, nettest.AxonConfig(), remote)
	d := nettest.NewDendrite(t, 10*time.Second)

	// Over the wire, with inputs that do not require grad: the dummy input
	// still makes backward run, so the peer learns.
	x := torch.FromFloat32(fixture.PseudoRandom(11, 4*fixture.In), 4, fixture.In)
	res, err := d.ForwardTensor(context.Background(), defs, []*torch.Tensor{x})
	if err != nil || res.Errs[0] != nil {
		t.Fatalf("forward: %v %v", err, res.Errs)
	}
	if err := fixture.WeightedSum(t, res.Outputs[0]).Backward(); err != nil {
		t.Fatal(err)
	}
	if remote.Steps != 1 {
		t.Fatalf("remote synapse took %d steps, want 1", remote.Steps)
	}

	// Locally, by hand: one SGD step on the same loss.
	y, err := twin.ForwardTensor(x)
	if err != nil {
		t.Fatal(err)
	}
	if err := fixture.WeightedSum(t, y).Backward(); err != nil {
		t.Fatal(err)
	}
	wantW := twin.W.Sub(twin.W.Grad().MulScalar(lr))
	wantB := twin.B.Sub(twin.B.Grad().MulScalar(lr))
	fixture.AssertClose(t, "trained weight", remote.W, wantW, 1e-6)
	fixture.AssertClose(t, "trained bias", remote.B, wantB, 1e-6)
	if v := fixture.Values(t, remote.W.Sub(twin.W).Abs().Sum()); v[0] == 0 {
		t.Fatal("the remote weights did not change")
	}
}

func TestRemoteTextBackwardTrains(t *testing.T) {
	remote := fixture.NewTrainableSynapse(t, 4, 0.1)
	_, defs := nettest.StartAxon(t, nettest.AxonConfig(), remote)
	d := nettest.NewDendrite(t, 10*time.Second)
	res, err := d.ForwardText(context.Background(), defs, [][]string{{"a", "bb", "ccc", "dddd"}})
	if err != nil || res.Errs[0] != nil {
		t.Fatalf("forward: %v %v", err, res.Errs)
	}
	if err := fixture.WeightedSum(t, res.Outputs[0]).Backward(); err != nil {
		t.Fatal(err)
	}
	if remote.Steps != 1 {
		t.Fatalf("remote synapse took %d steps after a TEXT backward, want 1", remote.Steps)
	}
}

func TestFailedPeersYieldZerosWithinTheDeadline(t *testing.T) {
	good := fixture.NewLinearSynapse(t, 5)
	slow := &fixture.GatedSynapse{LinearSynapse: fixture.NewLinearSynapse(t, 6), Release: make(chan struct{})}
	_, defs := nettest.StartAxon(t, nettest.AxonConfig(), good, slow)
	t.Cleanup(func() { close(slow.Release) }) // runs before the Axon's Stop

	// A stopped peer: an address whose listener is closed.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stopped := fixture.Definitions(t, lis.Addr(), fixture.NewLinearSynapse(t, 7))[0]
	lis.Close()

	const deadline = 300 * time.Millisecond
	const margin = time.Second
	d := nettest.NewDendrite(t, deadline)
	x := torch.FromFloat32(fixture.PseudoRandom(1, 2*fixture.In), 2, fixture.In)
	start := time.Now()
	res, err := d.ForwardTensor(context.Background(),
		[]*bittensorpb.Synapse{defs[0], stopped, defs[1]}, []*torch.Tensor{x, x, x})
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if elapsed > deadline+margin {
		t.Fatalf("call took %v, over the deadline %v plus %v", elapsed, deadline, margin)
	}
	if res.Errs[0] != nil {
		t.Fatalf("good peer failed: %v", res.Errs[0])
	}
	if c := status.Code(res.Errs[1]); c != codes.Unavailable {
		t.Errorf("stopped peer: error %v (code %v), want UNAVAILABLE", res.Errs[1], c)
	}
	if c := status.Code(res.Errs[2]); c != codes.DeadlineExceeded {
		t.Errorf("slow peer: error %v (code %v), want DEADLINE_EXCEEDED", res.Errs[2], c)
	}
	if res.Failed() != 2 {
		t.Fatalf("Failed() = %d, want 2", res.Failed())
	}
	zeros := torch.Zeros([]int64{2, fixture.Out})
	for _, i := range []int{1, 2} {
		fixture.AssertClose(t, "failed peer output", res.Outputs[i], zeros, 0)
	}
	stats := d.Stats()
	for _, key := range []string{stopped.GetSynapseKey(), slow.Key()} {
		if s := stats[key]; s.Forwards != 1 || s.ForwardFailures != 1 || s.LastError == nil {
			t.Errorf("stats of failed peer %s = %+v, want 1 failed forward", keys.Label(key), s)
		}
	}
	// A loss over all outputs still back-propagates: the zeros are constants.
	xg := x.Clone().SetRequiresGrad(true)
	res, err = d.ForwardTensor(context.Background(), []*bittensorpb.Synapse{defs[0], stopped}, []*torch.Tensor{xg, xg})
	if err != nil {
		t.Fatal(err)
	}
	loss := res.Outputs[0].Add(res.Outputs[1]).Sum()
	if err := loss.Backward(); err != nil {
		t.Fatalf("backward through a failed peer: %v", err)
	}
	if xg.Grad() == nil {
		t.Fatal("no input gradient from the good peer")
	}
}

func TestFanOutToOneAxonKeepsNoncesAcceptable(t *testing.T) {
	// Many parallel calls to one Axon carry nonces that may arrive out of
	// order; the replay guard must accept all of them.
	const n = 32
	syns := make([]synapse.Synapse, n)
	for i := range syns {
		syns[i] = fixture.NewLinearSynapse(t, byte(20+i))
	}
	cfg := nettest.AxonConfig()
	cfg.MaxQueued = n // no request is refused for being busy
	a, defs := nettest.StartAxon(t, cfg, syns...)
	d := nettest.NewDendrite(t, 10*time.Second)
	inputs := make([]*torch.Tensor, n)
	for i := range inputs {
		inputs[i] = torch.FromFloat32(fixture.PseudoRandom(uint64(i), fixture.In), 1, fixture.In)
	}
	for round := range 3 {
		res, err := d.ForwardTensor(context.Background(), defs, inputs)
		if err != nil {
			t.Fatal(err)
		}
		if res.Failed() != 0 {
			for i, e := range res.Errs {
				if e != nil {
					t.Fatalf("round %d: call %d failed: %v", round, i, e)
				}
			}
		}
		// An RPC holds its admission until gRPC has ended it, just after its
		// answer left; let the round end before the next one is admitted.
		nettest.SettledStats(t, a.Stats, uint64((round+1)*n))
	}
	if s := nettest.SettledStats(t, a.Stats, 3*n); s.Codes[codes.OK] != 3*n {
		t.Fatalf("axon answered %v, want %d OK", s.Codes, 3*n)
	}
}

// TestDendriteWithOneConnectionCallsManyAxons makes a Dendrite whose pool
// holds one connection call several Axons at once, again and again: every
// call evicts another's connection while it is in use, and none may fail.
func TestDendriteWithOneConnectionCallsManyAxons(t *testing.T) {
	const peers, rounds = 4, 3
	var defs []*bittensorpb.Synapse
	inputs := make([]*torch.Tensor, peers)
	for i := range peers {
		_, def := nettest.StartAxon(t, nettest.AxonConfig(), fixture.NewLinearSynapse(t, byte(60+i)))
		defs = append(defs, def...)
		inputs[i] = torch.FromFloat32(fixture.PseudoRandom(uint64(i), fixture.In), 1, fixture.In)
	}
	cfg := dendrite.DefaultConfig()
	cfg.OutputDim, cfg.MaxConns = fixture.Out, 1
	d, err := dendrite.New(fixture.Key(t, 201), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for round := range rounds {
		res, err := d.ForwardTensor(context.Background(), defs, inputs)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range res.Errs {
			if e != nil {
				t.Fatalf("round %d: call %d failed: %v", round, i, e)
			}
		}
		if n := d.Pool().Len(); n != 1 {
			t.Fatalf("round %d: %d pooled connections, want the bound 1", round, n)
		}
	}
}

func TestDendriteArguments(t *testing.T) {
	d := nettest.NewDendrite(t, time.Second)
	ctx := context.Background()
	if _, err := d.ForwardTensor(ctx, []*bittensorpb.Synapse{{}}, nil); err == nil {
		t.Error("ForwardTensor with fewer inputs than synapses succeeded")
	}
	if _, err := d.ForwardImage(ctx, []*bittensorpb.Synapse{{}}, []*torch.Tensor{torch.FromUint8([]uint8{1}, 1, 1)}); err == nil {
		t.Error("ForwardImage of a uint8 tensor (no wire dtype) succeeded")
	}
	if _, err := d.ForwardText(ctx, []*bittensorpb.Synapse{{}}, [][]string{{"\xff"}}); err == nil {
		t.Error("ForwardText of invalid UTF-8 succeeded")
	}
	// A synapse definition without a usable address fails that call only.
	res, err := d.ForwardTensor(ctx, []*bittensorpb.Synapse{{SynapseKey: "k"}}, []*torch.Tensor{torch.Zeros([]int64{3, fixture.In})})
	if err != nil || res.Failed() != 1 || res.Outputs[0].Shape()[0] != 3 {
		t.Fatalf("call to an address-less synapse: %v, %+v", err, res)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	res, _ = d.ForwardTensor(ctx, []*bittensorpb.Synapse{{SynapseKey: "k", Address: "127.0.0.1", Port: "1"}}, []*torch.Tensor{torch.Zeros([]int64{1, fixture.In})})
	if res.Failed() != 1 {
		t.Fatal("a call after Close succeeded")
	}
}

func TestForwardUnderNoGradIsDetached(t *testing.T) {
	syn := fixture.NewLinearSynapse(t, 8)
	_, defs := nettest.StartAxon(t, nettest.AxonConfig(), syn)
	d := nettest.NewDendrite(t, 10*time.Second)
	x := torch.FromFloat32(fixture.PseudoRandom(3, 2*fixture.In), 2, fixture.In).SetRequiresGrad(true)
	var res dendrite.Responses
	var err error
	torch.NoGrad(func() { res, err = d.ForwardTensor(context.Background(), defs, []*torch.Tensor{x}) })
	if err != nil || res.Errs[0] != nil {
		t.Fatalf("forward: %v %v", err, res.Errs)
	}
	if res.Outputs[0].RequiresGrad() {
		t.Fatal("an output computed under NoGrad is attached to a graph")
	}
}

func TestDendriteConfigValidation(t *testing.T) {
	if _, err := dendrite.New(nil, dendrite.DefaultConfig()); err == nil {
		t.Error("NewDendrite without a key succeeded")
	}
	for name, mutate := range map[string]func(*dendrite.Config){
		"timeout":          func(c *dendrite.Config) { c.Timeout = 0 },
		"backward timeout": func(c *dendrite.Config) { c.BackwardTimeout = -time.Second },
		"output width":     func(c *dendrite.Config) { c.OutputDim = -1 },
		"message size":     func(c *dendrite.Config) { c.MaxMessageBytes = 0 },
		"connections":      func(c *dendrite.Config) { c.MaxConns = 0 },
		"idle timeout":     func(c *dendrite.Config) { c.IdleTimeout = 0 },
	} {
		cfg := dendrite.DefaultConfig()
		mutate(&cfg)
		if _, err := dendrite.New(fixture.Key(t, 1), cfg); err == nil {
			t.Errorf("NewDendrite with a bad %s succeeded", name)
		}
	}
}

// countingPool is a BufferPool that counts the buffers it hands out and gets
// back.
type countingPool struct {
	wire.BufferPool
	gets, puts atomic.Int64
}

func (p *countingPool) Get(size int) *[]byte { p.gets.Add(1); return p.BufferPool.Get(size) }
func (p *countingPool) Put(b *[]byte)        { p.puts.Add(1); p.BufferPool.Put(b) }

// TestEncodedInputsGoBackToThePool checks that a call's encoded inputs return
// to the Dendrite's pool however its graph ends: after the Backward that
// sends them again, with the outputs freed undifferentiated, and with the
// forward made under NoGrad. A buffer that never comes back is garbage the
// next call pays for with a fresh, zeroed allocation.
func TestEncodedInputsGoBackToThePool(t *testing.T) {
	syn := fixture.NewLinearSynapse(t, 9)
	_, defs := nettest.StartAxon(t, nettest.AxonConfig(), syn)
	d := nettest.NewDendrite(t, 10*time.Second)
	x := torch.FromFloat32(fixture.PseudoRandom(4, 100*fixture.In), 100, fixture.In) // above gRPC's pooling threshold
	for name, call := range map[string]func(t *testing.T, s *torch.Scope){
		"backward": func(t *testing.T, s *torch.Scope) {
			res := forwardOK(t, d, defs, x)
			if err := s.Track(s.Track(res.Outputs[0]).Sum()).Backward(); err != nil {
				t.Fatal(err)
			}
		},
		"outputs freed": func(t *testing.T, s *torch.Scope) { s.Track(forwardOK(t, d, defs, x).Outputs[0]) },
		"no grad": func(t *testing.T, s *torch.Scope) {
			torch.NoGrad(func() { s.Track(forwardOK(t, d, defs, x).Outputs[0]) })
		},
	} {
		t.Run(name, func(t *testing.T) {
			pool := new(countingPool)
			d.SetBufferPool(pool)
			s := torch.NewScope()
			call(t, s)
			s.Close()
			// gRPC lets go of a request's buffer once its transport wrote it,
			// which may be after the answer came.
			eventually.True(t, 10*time.Second, func() bool { return pool.puts.Load() >= pool.gets.Load() },
				"every buffer taken from the pool given back")
			if gets, puts := pool.gets.Load(), pool.puts.Load(); gets == 0 || puts != gets {
				t.Errorf("%d buffers taken from the pool, %d given back; want all, and some", gets, puts)
			}
		})
	}
}

// forwardOK is d.ForwardTensor of x to the synapses defs, which must succeed.
func forwardOK(t *testing.T, d *dendrite.Dendrite, defs []*bittensorpb.Synapse, x *torch.Tensor) dendrite.Responses {
	t.Helper()
	xs := make([]*torch.Tensor, len(defs))
	for i := range xs {
		xs[i] = x
	}
	res, err := d.ForwardTensor(context.Background(), defs, xs)
	if err != nil || res.Failed() > 0 {
		t.Fatalf("forward: %v %v", err, res.Errs)
	}
	return res
}
