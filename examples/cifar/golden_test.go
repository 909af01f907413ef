package cifar

import (
	"encoding/json"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
)

// The goldens come from testdata/gen_golden.py (Debian's python3-torch):
// the same network in PyTorch, with the same parameter names, patterns for
// every parameter, buffer and input.

type goldenSummary struct {
	Sum, Sumsq float64
	At         []float64
}

type goldenCase struct {
	Config struct {
		InPlanes   []int64 `json:"in_planes"`
		OutPlanes  []int64 `json:"out_planes"`
		NumBlocks  []int64 `json:"num_blocks"`
		DenseDepth []int64 `json:"dense_depth"`
		Groups     int64
	}
	Batch            int64
	FeatureDim       int64 `json:"feature_dim"`
	Parameters       int64
	EncodeShape      []int64 `json:"encode_shape"`
	LocalLoss        float64 `json:"local_loss"`
	NetworkLoss      float64 `json:"network_loss"`
	DistillationLoss float64 `json:"distillation_loss"`
	Loss             float64
	Encode           []float64
	LocalOutput      []float64                `json:"local_output"`
	LocalTarget      []float64                `json:"local_target"`
	NetworkTarget    []float64                `json:"network_target"`
	EncodeSum        goldenSummary            `json:"encode_sum"`
	LocalOutputSum   goldenSummary            `json:"local_output_sum"`
	Running          map[string]goldenSummary `json:"running"`
	Grads            map[string]goldenSummary
}

func (g *goldenCase) config() DPNConfig {
	var c DPNConfig
	copy(c.InPlanes[:], g.Config.InPlanes)
	copy(c.OutPlanes[:], g.Config.OutPlanes)
	copy(c.NumBlocks[:], g.Config.NumBlocks)
	copy(c.DenseDepth[:], g.Config.DenseDepth)
	c.Groups = g.Config.Groups
	return c
}

func readGolden(t *testing.T, name string) *goldenCase {
	t.Helper()
	b, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var all map[string]*goldenCase
	if err := json.Unmarshal(b, &all); err != nil {
		t.Fatal(err)
	}
	g, ok := all[name]
	if !ok {
		t.Fatalf("no golden case %q", name)
	}
	return g
}

// pat mirrors gen_golden.py's pat: ((i*k + off) mod 17 - 8) / 8.
func pat(n, k, off int64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = float64((int64(i)*k+off)%17-8) / 8
	}
	return v
}

func toFloat32(v []float64, f func(float64) float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(f(x))
	}
	return out
}

// initPattern sets every parameter and buffer of m as gen_golden.py's init does.
func initPattern(t *testing.T, m nn.Module) {
	t.Helper()
	state := nn.StateDict(m)
	names := make([]string, 0, len(state))
	for n := range state {
		names = append(names, n)
	}
	sort.Strings(names)
	for i, name := range names {
		dst := state[name]
		shape := dst.Shape()
		p := pat(dst.Numel(), 7, int64(i))
		var f func(float64) float64
		switch {
		case len(shape) >= 2:
			scale := 1 / math.Sqrt(float64(dst.Numel()/shape[0]))
			f = func(x float64) float64 { return x * scale }
		case strings.HasSuffix(name, "running_var"):
			f = func(x float64) float64 { return 1 + (x+1)/4 }
		case strings.HasSuffix(name, "running_mean"):
			f = func(x float64) float64 { return x / 10 }
		case strings.HasSuffix(name, ".weight"):
			f = func(x float64) float64 { return 1 + x/4 }
		default:
			f = func(x float64) float64 { return x / 4 }
		}
		src := torch.FromFloat32(toFloat32(p, f), shape...)
		if err := dst.CopyFrom(src); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		src.Free()
	}
}

func goldenInputs(batch, dim int64) (images, network, labels *torch.Tensor) {
	images = torch.FromFloat32(toFloat32(pat(batch*Channels*Rows*Cols, 5, 3), func(x float64) float64 { return x/2 + 0.5 }),
		batch, Channels, Rows, Cols)
	network = torch.FromFloat32(toFloat32(pat(batch*dim, 3, 1), func(x float64) float64 { return x/2 + 0.5 }), batch, dim)
	ls := make([]int64, batch)
	for i := range ls {
		ls[i] = int64(3*i) % Classes
	}
	return images, network, torch.FromInt64(ls)
}

func values(t *testing.T, x *torch.Tensor) []float64 {
	t.Helper()
	v, err := x.ToDType(torch.Float64).Contiguous().Float64s()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func scalarValue(t *testing.T, x *torch.Tensor) float64 {
	t.Helper()
	v, err := x.Item()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// near reports whether got is within tol of want, relative to max(1, |want|).
func near(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want))
}

func checkValues(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, PyTorch has %d", what, len(got), len(want))
	}
	for i := range got {
		if !near(got[i], want[i], tol) {
			t.Fatalf("%s[%d] = %v, PyTorch %v", what, i, got[i], want[i])
		}
	}
}

func checkSummary(t *testing.T, what string, x *torch.Tensor, want goldenSummary, tol float64) {
	t.Helper()
	if x == nil {
		t.Fatalf("%s: nil (no gradient)", what)
	}
	v := values(t, x)
	var sum, sumsq float64
	for _, e := range v {
		sum += e
		sumsq += e * e
	}
	// A sum of many terms of both signs can cancel: compare it relative to
	// the sum of squares' scale too.
	scale := math.Max(1, math.Sqrt(want.Sumsq))
	if math.Abs(sum-want.Sum) > tol*math.Max(scale, math.Abs(want.Sum)) || !near(sumsq, want.Sumsq, tol) {
		t.Errorf("%s: sum %v, sum of squares %v; PyTorch %v, %v", what, sum, sumsq, want.Sum, want.Sumsq)
	}
	n := len(v)
	for j, w := range want.At {
		if got := v[j*n/6]; math.Abs(got-w) > tol*math.Max(math.Abs(w), 1e-3*scale+1e-6) {
			t.Errorf("%s[%d] = %v, PyTorch %v", what, j*n/6, got, w)
		}
	}
}

// runGolden builds the model of g with the pattern weights and returns it
// with the training forward's outputs (after backward) and Encode's.
func runGolden(t *testing.T, g *goldenCase, s *torch.Scope) (*Model, map[string]*torch.Tensor, *torch.Tensor) {
	t.Helper()
	m, err := NewModelWith(g.config())
	if err != nil {
		t.Fatal(err)
	}
	if m.ContextDim() != g.FeatureDim {
		t.Fatalf("context dim %d, PyTorch %d", m.ContextDim(), g.FeatureDim)
	}
	var params int64
	for _, p := range nn.Parameters(m) {
		params += p.Numel()
	}
	if params != g.Parameters {
		t.Fatalf("%d parameters, PyTorch's model has %d", params, g.Parameters)
	}
	initPattern(t, m)
	images, network, labels := goldenInputs(g.Batch, g.FeatureDim)
	s.Track(images)
	s.Track(network)
	s.Track(labels)
	var enc *torch.Tensor
	torch.NoGrad(func() { enc = m.Encode(images) })
	if !slices.Equal(enc.Shape(), g.EncodeShape) {
		t.Fatalf("Encode shape %v, PyTorch %v", enc.Shape(), g.EncodeShape)
	}
	out := m.Forward(images, network, labels)
	if err := out.Loss.Backward(); err != nil {
		t.Fatal(err)
	}
	if err := m.CommitState(); err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]struct{ got, want float64 }{
		"local loss":        {scalarValue(t, out.LocalTargetLoss), g.LocalLoss},
		"network loss":      {scalarValue(t, out.NetworkTargetLoss), g.NetworkLoss},
		"distillation loss": {scalarValue(t, out.DistillationLoss), g.DistillationLoss},
		"loss":              {scalarValue(t, out.Loss), g.Loss},
	} {
		if !near(got.got, got.want, 1e-4) {
			t.Errorf("%s %v, PyTorch %v", name, got.got, got.want)
		}
	}
	return m, map[string]*torch.Tensor{
		"local_output": out.LocalOutput, "local_target": out.LocalTarget, "network_target": out.NetworkTarget,
	}, enc
}

// A small DPN's outputs, losses, running statistics and every parameter's
// gradient equal PyTorch's for the same weights and inputs.
func TestDPNMatchesPyTorch(t *testing.T) {
	g := readGolden(t, "small")
	s := torch.NewScope()
	defer s.Close()
	m, out, enc := runGolden(t, g, s)
	checkValues(t, "Encode", values(t, enc), g.Encode, 1e-4)
	checkValues(t, "local output", values(t, out["local_output"]), g.LocalOutput, 1e-4)
	checkValues(t, "local target", values(t, out["local_target"]), g.LocalTarget, 1e-4)
	checkValues(t, "network target", values(t, out["network_target"]), g.NetworkTarget, 1e-4)
	state := nn.StateDict(m)
	if len(g.Running) == 0 {
		t.Fatal("no running statistics in the golden file")
	}
	for name, want := range g.Running {
		checkSummary(t, "running statistics "+name, state[name], want, 1e-4)
	}
	params := nn.NamedParameters(m)
	if len(params) != len(g.Grads) {
		t.Fatalf("%d parameters, PyTorch %d", len(params), len(g.Grads))
	}
	for name, want := range g.Grads {
		p, ok := params[name]
		if !ok {
			t.Fatalf("no parameter %s", name)
		}
		checkSummary(t, "grad "+name, p.Grad(), want, 1e-3)
	}
}

// DPN26 itself: its shapes, parameter count, losses and summaries of its
// outputs and of some gradients equal PyTorch's.
func TestDPN26MatchesPyTorch(t *testing.T) {
	if testing.Short() {
		t.Skip("DPN26 forward and backward: seconds on a CPU")
	}
	g := readGolden(t, "dpn26")
	// One intra-op thread, as gen_golden.py: the early layers' gradients on
	// these patterns depend on the summation order by a few per cent.
	threads, err := torch.NumThreads()
	if err != nil {
		t.Fatal(err)
	}
	if err := torch.SetNumThreads(1); err != nil {
		t.Fatal(err)
	}
	defer torch.SetNumThreads(threads)
	if g.config() != DPN26() {
		t.Fatalf("golden config %+v is not DPN26 %+v", g.config(), DPN26())
	}
	s := torch.NewScope()
	defer s.Close()
	m, out, enc := runGolden(t, g, s)
	if want := []int64{g.Batch, 9728}; !slices.Equal(enc.Shape(), want) {
		t.Fatalf("Encode shape %v, want %v", enc.Shape(), want)
	}
	checkSummary(t, "Encode", enc, g.EncodeSum, 1e-3)
	checkSummary(t, "local output", out["local_output"], g.LocalOutputSum, 1e-3)
	checkValues(t, "local target", values(t, out["local_target"]), g.LocalTarget, 1e-3)
	// The gradients within 10 %: libtorch picks its convolution kernels by
	// CPU, and on an AMD EPYC with AVX-512 PyTorch itself gives
	// trunk.conv1's and trunk.layer3.0.conv2's weight gradients 1.5–2.6 %
	// off these goldens in their sums and up to 7.5 % in single values (Go
	// and PyTorch on that machine agree to 1e-5). TestDPNMatchesPyTorch
	// checks every gradient of a small DPN at 1e-3; this checks that DPN26's
	// backward reaches these layers with the right values, not its rounding.
	params := nn.NamedParameters(m)
	for name, want := range g.Grads {
		checkSummary(t, "grad "+name, params[name].Grad(), want, 0.1)
	}
}
