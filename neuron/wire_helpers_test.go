package neuron

import (
	"bytes"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
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

func testKey(t testing.TB, b byte) *Key {
	t.Helper()
	k, err := KeyFromSeed(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testSynapses returns n synapse definitions with distinct keys.
func testSynapses(n int) []*bittensorpb.Synapse {
	s := make([]*bittensorpb.Synapse, n)
	for i := range s {
		s[i] = &bittensorpb.Synapse{NeuronKey: fmt.Sprintf("neuron%d", i%2), SynapseKey: fmt.Sprintf("synapse%d", i)}
	}
	return s
}

func floats(t *testing.T, x *torch.Tensor) []float32 {
	t.Helper()
	v, err := x.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func near(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-5 {
			return false
		}
	}
	return true
}

// twoLayer is the caller's side of the gradient tests: a local linear layer
// whose output goes to the synapse, locally or over the wire.
func twoLayer(t *testing.T, seed uint64) (x, w *torch.Tensor) {
	x = torch.FromFloat32(pseudoRandom(seed, 4*testIn), 4, testIn).SetRequiresGrad(true)
	w = torch.FromFloat32(pseudoRandom(seed+1, testIn*testIn), testIn, testIn).SetRequiresGrad(true)
	if x.Err() != nil || w.Err() != nil {
		t.Fatal(x.Err(), w.Err())
	}
	return x, w
}

// weightedSum is a loss with a gradient that differs per output element.
func weightedSum(t *testing.T, y *torch.Tensor) *torch.Tensor {
	c := torch.FromFloat32(pseudoRandom(99, 4*testOut), 4, testOut)
	return y.Mul(c).Sum()
}

// tinyModel is a small Model: the context is a linear encoding of the
// inputs, the targets a linear classifier over [inputs, context].
type tinyModel struct {
	nn.Base
	student, encoder, classifier *nn.Linear
}

func newTinyModel() *tinyModel {
	m := &tinyModel{}
	m.student = nn.Register(m, "student", nn.NewLinear(tinyIn, tinyContext, true))
	m.encoder = nn.Register(m, "encoder", nn.NewLinear(tinyIn+tinyContext, tinyContext, true))
	m.classifier = nn.Register(m, "classifier", nn.NewLinear(tinyContext, tinyClasses, true))
	return m
}

func (m *tinyModel) encode(x, context *torch.Tensor) *torch.Tensor {
	return m.encoder.Forward(torch.Cat([]*torch.Tensor{x, context}, 1)).Tanh()
}

func (m *tinyModel) Encode(x *torch.Tensor) *torch.Tensor {
	return m.encode(x, m.student.Forward(x).Tanh())
}

func (m *tinyModel) Forward(x, network, targets *torch.Tensor) *Output {
	return m.forwardNetwork(m.forwardLocal(x), x, network, targets)
}

// forwardLocal is the local path of Forward.
func (m *tinyModel) forwardLocal(x *torch.Tensor) *Output {
	out := &Output{LocalContext: m.student.Forward(x).Tanh()}
	out.LocalOutput = m.encode(x, out.LocalContext)
	out.LocalTarget = m.classifier.Forward(out.LocalOutput).LogSoftmax(1)
	return out
}

// forwardNetwork completes the local path out with the network path and
// the losses.
func (m *tinyModel) forwardNetwork(out *Output, x, network, targets *torch.Tensor) *Output {
	out.NetworkOutput = m.encode(x, network)
	out.NetworkTarget = m.classifier.Forward(out.NetworkOutput).LogSoftmax(1)
	out.DistillationLoss = torch.MSELoss(out.LocalContext, network.Detach(), torch.ReduceMean)
	return out.WithLosses(targets)
}

// The tiny model's sizes: input features, context width, classes.
const tinyIn, tinyContext, tinyClasses = 4, 3, 2

// declaringModel is tinyModel declaring float32 inputs of tinyIn features.
type declaringModel struct{ *tinyModel }

func (declaringModel) Inputs() InputSpec {
	return InputSpec{DType: bittensorpb.DataType_FLOAT32, Shape: []int64{-1, tinyIn}}
}
