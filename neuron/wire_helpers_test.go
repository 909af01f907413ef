package neuron

import (
	"context"
	"math"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/optim"
)

// Test models and a local Axon fixture shared by the Axon and Dendrite tests.

const (
	testIn  = 6 // input features of linearSynapse
	testOut = 5 // its output width (the Dendrite's OutputDim)
)

// pseudoRandom returns n deterministic values in [-1, 1) drawn from seed.
func pseudoRandom(seed uint64, n int) []float32 {
	out := make([]float32, n)
	x := seed*0x9E3779B97F4A7C15 + 1
	for i := range out {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		out[i] = float32(x%20000)/10000 - 1
	}
	return out
}

// linearSynapse is tanh(x·W + b) for every modality: images are flattened,
// text is turned into byte-count features first.
type linearSynapse struct {
	SynapseBase
	w, b *torch.Tensor
}

func newLinearSynapse(t testing.TB, seed byte) *linearSynapse {
	t.Helper()
	w := torch.FromFloat32(pseudoRandom(uint64(seed), testIn*testOut), testIn, testOut).SetRequiresGrad(true)
	b := torch.FromFloat32(pseudoRandom(uint64(seed)+100, testOut), testOut).SetRequiresGrad(true)
	if w.Err() != nil || b.Err() != nil {
		t.Fatalf("parameters: %v %v", w.Err(), b.Err())
	}
	return &linearSynapse{SynapseBase: NewSynapseBase(testKey(t, seed)), w: w, b: b}
}

func (s *linearSynapse) ForwardTensor(x *torch.Tensor) (*torch.Tensor, error) {
	y := x.Matmul(s.w).Add(s.b).Tanh()
	return y, y.Err()
}

func (s *linearSynapse) ForwardImage(x *torch.Tensor) (*torch.Tensor, error) {
	return s.ForwardTensor(x.Flatten(1, -1))
}

func (s *linearSynapse) ForwardText(batch []string) (*torch.Tensor, error) {
	return s.ForwardTensor(textFeatures(batch))
}

// textFeatures counts, per string, its bytes by value modulo testIn.
func textFeatures(batch []string) *torch.Tensor {
	f := make([]float32, len(batch)*testIn)
	for i, s := range batch {
		for j := 0; j < len(s); j++ {
			f[i*testIn+int(s[j])%testIn]++
		}
	}
	return torch.FromFloat32(f, int64(len(batch)), testIn)
}

// trainableSynapse is a linearSynapse that learns from remote gradients with
// plain SGD (torch/optim) through StepWith.
type trainableSynapse struct {
	*linearSynapse
	opt   *optim.Optimizer
	mu    sync.Mutex
	steps int
}

func newTrainableSynapse(t testing.TB, seed byte, lr float64) *trainableSynapse {
	t.Helper()
	s := newLinearSynapse(t, seed)
	opt, err := optim.NewSGD([]*torch.Tensor{s.w, s.b}, optim.SGDOptions{LR: lr})
	if err != nil {
		t.Fatal(err)
	}
	return &trainableSynapse{linearSynapse: s, opt: opt}
}

func (s *trainableSynapse) TrainStep(pass func() error) error {
	return StepWith(&s.mu, s.opt, func() error {
		s.steps++ // under s.mu
		return pass()
	})
}

// gatedSynapse blocks every forward until release is closed, after reporting
// on entered (when set).
type gatedSynapse struct {
	*linearSynapse
	entered chan struct{}
	release chan struct{}
}

func (s *gatedSynapse) ForwardTensor(x *torch.Tensor) (*torch.Tensor, error) {
	if s.entered != nil {
		s.entered <- struct{}{}
	}
	<-s.release
	return s.linearSynapse.ForwardTensor(x)
}

// textOnlySynapse implements only ForwardText.
type textOnlySynapse struct{ SynapseBase }

func (textOnlySynapse) ForwardText(batch []string) (*torch.Tensor, error) {
	return torch.Zeros([]int64{int64(len(batch)), testOut}), nil
}

// startAxon serves syns on a free local port and returns the Axon and the
// synapses' definitions; the Axon is stopped when the test ends.
func startAxon(t *testing.T, cfg AxonConfig, syns ...Synapse) (*Axon, []*bittensorpb.Synapse) {
	t.Helper()
	cfg.Address = "127.0.0.1:0"
	a, err := NewAxon(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range syns {
		if err := a.Serve(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.Stop(ctx); err != nil {
			t.Errorf("axon stop: %v", err)
		}
	})
	return a, definitions(t, a.Addr(), syns...)
}

// definitions returns the Synapse definitions of syns served at addr.
func definitions(t *testing.T, addr net.Addr, syns ...Synapse) []*bittensorpb.Synapse {
	t.Helper()
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defs := make([]*bittensorpb.Synapse, len(syns))
	for i, s := range syns {
		defs[i] = &bittensorpb.Synapse{SynapseKey: s.Key(), Address: host, Port: port}
	}
	return defs
}

// newTestDendrite returns a Dendrite for testOut-wide outputs, closed when the test ends.
func newTestDendrite(t *testing.T, timeout time.Duration) *Dendrite {
	t.Helper()
	cfg := DefaultDendriteConfig()
	cfg.OutputDim = testOut
	cfg.Timeout, cfg.BackwardTimeout = timeout, timeout
	d, err := NewDendrite(testKey(t, 200), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("dendrite close: %v", err)
		}
	})
	return d
}

// values returns a float32 tensor's values or fails the test.
func values(t *testing.T, x *torch.Tensor) []float32 {
	t.Helper()
	v, err := x.ToDType(torch.Float32).Float32s()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// assertClose fails unless got and want have the same shape and values within tol.
func assertClose(t *testing.T, what string, got, want *torch.Tensor, tol float64) {
	t.Helper()
	if gs, ws := got.Shape(), want.Shape(); !slices.Equal(gs, ws) {
		t.Fatalf("%s: shape %v, want %v", what, gs, ws)
	}
	g, w := values(t, got), values(t, want)
	for i := range g {
		if d := math.Abs(float64(g[i] - w[i])); d > tol || math.IsNaN(d) {
			t.Fatalf("%s: element %d is %v, want %v (tolerance %g)", what, i, g[i], w[i], tol)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// fuzzLimits are small so the fuzzer reaches the limit checks quickly.
func fuzzLimits() Limits {
	return Limits{MaxTensors: 4, MaxRank: 4, MaxElements: 1 << 12, MaxStrings: 64, MaxStringBytes: 256}
}
