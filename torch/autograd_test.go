package torch_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/internal/testutil"
)

func TestBackwardGolden(t *testing.T) {
	g := testutil.LoadGolden(t, golden)
	x := p64(7, 0, 3, 4).SetRequiresGrad(true)
	w := p64(5, 1, 2, 4).SetRequiresGrad(true)
	b := p64(3, 2, 2).SetRequiresGrad(true)
	y := torch.Linear(x, w, b).Tanh()
	loss := torch.CrossEntropy(y, i64(1, 0, 1), torch.ReduceMean).Add(x.Sigmoid().Mul(x).Sum())
	if err := loss.Backward(); err != nil {
		t.Fatal(err)
	}
	g.Check(t, "net_loss", loss, 1e-12, 1e-12)
	g.Check(t, "net_grad_x", x.Grad(), 1e-12, 1e-12)
	g.Check(t, "net_grad_w", w.Grad(), 1e-12, 1e-12)
	g.Check(t, "net_grad_b", b.Grad(), 1e-12, 1e-12)
	if !x.IsLeaf() || y.IsLeaf() || !y.RequiresGrad() {
		t.Errorf("leaf flags: x leaf %v, y leaf %v, y requires grad %v", x.IsLeaf(), y.IsLeaf(), y.RequiresGrad())
	}

	// Conv2d's gradients, through ReLU.
	cx := p(5, 0, 1, 2, 4, 4).SetRequiresGrad(true)
	cw := p(3, 1, 3, 2, 3, 3).SetRequiresGrad(true)
	out := torch.Conv2d(cx, cw, nil, torch.Conv2dOptions{Padding: [2]int64{1, 1}}).Relu().Sum()
	if err := out.Backward(); err != nil {
		t.Fatal(err)
	}
	g.Check(t, "conv2d_grad_x", cx.Grad(), 1e-5, 1e-5)
	g.Check(t, "conv2d_grad_w", cw.Grad(), 1e-5, 1e-5)
}

func TestBackwardWith(t *testing.T) {
	g := testutil.LoadGolden(t, golden)
	x := p(7, 0, 2, 3).SetRequiresGrad(true)
	y := x.Square().MulScalar(3).Add(x)
	// A non-scalar output needs a gradient.
	if err := y.Backward(); err == nil || !strings.Contains(err.Error(), "scalar outputs") {
		t.Errorf("backward of a non-scalar without a gradient: %v", err)
	}
	if err := y.BackwardWith(p(5, 1, 2, 3), true); err != nil {
		t.Fatal(err)
	}
	g.Check(t, "backward_with_grad", x.Grad(), 1e-6, 1e-6)

	// The graph was retained: a second pass accumulates into Grad.
	if err := y.BackwardWith(p(5, 1, 2, 3), false); err != nil {
		t.Fatal(err)
	}
	first := g.Get(t, "backward_with_grad").Data
	twice := make([]float64, len(first))
	for i, v := range first {
		twice[i] = 2 * v
	}
	if err := testutil.Close(testutil.MustValues(t, x.Grad()), twice, 1e-6, 1e-6); err != nil {
		t.Errorf("accumulated grad: %v", err)
	}
	// Now it is freed; a third pass is libtorch's error.
	if err := y.BackwardWith(p(5, 1, 2, 3), false); err == nil || !strings.Contains(err.Error(), "second time") {
		t.Errorf("backward through a freed graph: %v", err)
	}
	// A gradient of the wrong shape is an error.
	z := x.MulScalar(2)
	if err := z.BackwardWith(torch.Ones([]int64{3}), false); err == nil {
		t.Error("backward with a gradient of the wrong shape: no error")
	}
	// ZeroGrad drops the gradient.
	if err := x.ZeroGrad(); err != nil {
		t.Fatal(err)
	}
	if x.Grad() != nil {
		t.Error("grad after ZeroGrad is not nil")
	}
	// A tensor that never took part in a backward has no gradient.
	if p(7, 0, 2).SetRequiresGrad(true).Grad() != nil {
		t.Error("fresh leaf has a gradient")
	}
	// Only floating-point tensors can require grad.
	if err := i64(1, 2).SetRequiresGrad(true).Err(); err == nil {
		t.Error("int64 tensor requiring grad: no error")
	}
}

func TestGradFunction(t *testing.T) {
	a := p64(7, 0, 3).SetRequiresGrad(true)
	b := p64(5, 1, 3).SetRequiresGrad(true)
	unused := p64(3, 0, 3).SetRequiresGrad(true)
	y := a.Mul(b).Sum().Add(a.Square().Sum()) // dy/da = b + 2a, dy/db = a
	grads, err := torch.Grad([]*torch.Tensor{y}, []*torch.Tensor{a, b, unused}, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	av, bv := testutil.MustValues(t, a), testutil.MustValues(t, b)
	wantA := make([]float64, 3)
	for i := range wantA {
		wantA[i] = bv[i] + 2*av[i]
	}
	if err := testutil.Close(testutil.MustValues(t, grads[0]), wantA, 1e-12, 0); err != nil {
		t.Errorf("dy/da: %v", err)
	}
	if err := testutil.Close(testutil.MustValues(t, grads[1]), av, 1e-12, 0); err != nil {
		t.Errorf("dy/db: %v", err)
	}
	if grads[2] != nil {
		t.Errorf("unused input got gradient %v", grads[2])
	}
	// Grad leaves the inputs' accumulated gradients alone.
	if a.Grad() != nil || b.Grad() != nil {
		t.Error("torch.Grad accumulated into .Grad")
	}

	// With gradOutputs for a vector output: vector-Jacobian product.
	v := a.Square() // dv/da = 2a (diagonal)
	gv, err := torch.Grad([]*torch.Tensor{v}, []*torch.Tensor{a}, []*torch.Tensor{p64(3, 1, 3)}, false)
	if err != nil {
		t.Fatal(err)
	}
	w := testutil.MustValues(t, p64(3, 1, 3))
	for i := range w {
		w[i] *= 2 * av[i]
	}
	if err := testutil.Close(testutil.MustValues(t, gv[0]), w, 1e-12, 0); err != nil {
		t.Errorf("vjp: %v", err)
	}
	if _, err := torch.Grad([]*torch.Tensor{v}, []*torch.Tensor{a}, []*torch.Tensor{p64(3, 1, 3)}, false); err == nil {
		t.Error("second Grad through a freed graph: no error")
	}
	if _, err := torch.Grad([]*torch.Tensor{y}, []*torch.Tensor{a}, []*torch.Tensor{nil, nil}, false); err == nil {
		t.Error("two grad outputs for one output: no error")
	}
	if _, err := torch.Grad([]*torch.Tensor{p64(7, 0, 3)}, []*torch.Tensor{a}, nil, false); err == nil {
		t.Error("grad of an output outside any graph: no error")
	}
}

func TestNoGrad(t *testing.T) {
	x := p(7, 0, 3).SetRequiresGrad(true)
	if !torch.GradEnabled() {
		t.Fatal("grad mode off outside NoGrad")
	}
	var inside, nested *torch.Tensor
	var enabledInside bool
	torch.NoGrad(func() {
		enabledInside = torch.GradEnabled()
		inside = x.MulScalar(2)
		torch.EnableGrad(func() { nested = x.MulScalar(2) })
	})
	if enabledInside {
		t.Error("grad mode on inside NoGrad")
	}
	if inside.RequiresGrad() {
		t.Error("op inside NoGrad records a graph")
	}
	if !nested.RequiresGrad() {
		t.Error("op inside EnableGrad inside NoGrad records no graph")
	}
	if !torch.GradEnabled() {
		t.Error("grad mode still off after NoGrad")
	}
	if !x.MulScalar(2).RequiresGrad() {
		t.Error("op after NoGrad records no graph")
	}
	if err := inside.Sum().Backward(); err == nil {
		t.Error("backward of a no-grad result: no error")
	}
	// Detach cuts the graph too.
	if x.MulScalar(2).Detach().RequiresGrad() {
		t.Error("detached tensor requires grad")
	}
}

// gradCheck compares the autograd gradient of the scalar f at x0 (float64)
// with central finite differences.
func gradCheck(t *testing.T, name string, x0 *torch.Tensor, f func(x *torch.Tensor) *torch.Tensor) {
	t.Helper()
	vals := testutil.MustValues(t, x0)
	shape := x0.Shape()
	x := torch.FromFloat64(vals, shape...).SetRequiresGrad(true)
	if err := f(x).Backward(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	got := testutil.MustValues(t, x.Grad())
	const eps = 1e-6
	want := make([]float64, len(vals))
	at := func(v []float64) float64 {
		y, err := f(torch.FromFloat64(v, shape...)).Item()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return y
	}
	for i := range vals {
		v := append([]float64(nil), vals...)
		v[i] += eps
		up := at(v)
		v[i] -= 2 * eps
		want[i] = (up - at(v)) / (2 * eps)
	}
	if err := testutil.Close(got, want, 1e-5, 1e-6); err != nil {
		t.Errorf("%s: autograd and finite differences differ: %v", name, err)
	}
}

func TestGradientsFiniteDifferences(t *testing.T) {
	torch.ManualSeed(11)
	f64 := torch.WithDType(torch.Float64)
	x := torch.Randn([]int64{3, 4}, f64)
	img := torch.Randn([]int64{2, 2, 5, 5}, f64)
	w := torch.Randn([]int64{4, 5}, f64)
	cw := torch.Randn([]int64{3, 2, 3, 3}, f64)
	tgt := i64(0, 3, 1)
	wsum := func(y *torch.Tensor) *torch.Tensor { // a weighted sum, so every output matters differently
		return y.Mul(torch.Arange(1, float64(y.Numel())+1, 1, f64).Reshape(y.Shape()...).Sin()).Sum()
	}
	cases := []struct {
		name string
		x    *torch.Tensor
		f    func(x *torch.Tensor) *torch.Tensor
	}{
		{"matmul tanh", x, func(x *torch.Tensor) *torch.Tensor { return wsum(x.Matmul(w).Tanh()) }},
		{"linear gelu", x, func(x *torch.Tensor) *torch.Tensor { return wsum(torch.Linear(x, w.T(), nil).Gelu()) }},
		{"sigmoid div sqrt", x, func(x *torch.Tensor) *torch.Tensor {
			return wsum(x.Sigmoid().Div(x.Square().AddScalar(1).Sqrt()))
		}},
		{"log softmax nll", x, func(x *torch.Tensor) *torch.Tensor {
			return torch.NLLLoss(x.LogSoftmax(1), tgt, torch.ReduceMean)
		}},
		{"softmax", x, func(x *torch.Tensor) *torch.Tensor { return wsum(x.Softmax(0)) }},
		{"cross entropy", x, func(x *torch.Tensor) *torch.Tensor { return torch.CrossEntropy(x, tgt, torch.ReduceSum) }},
		{"mse", x, func(x *torch.Tensor) *torch.Tensor { return torch.MSELoss(x.Exp(), x.Tanh(), torch.ReduceMean) }},
		{"reductions", x, func(x *torch.Tensor) *torch.Tensor {
			return x.Std(1).Sum().Add(x.Norm()).Add(x.Prod(0).Sum()).Add(x.Max(1).Sum()).Add(wsum(x.Cumsum(1)))
		}},
		{"shapes", x, func(x *torch.Tensor) *torch.Tensor {
			y := torch.Cat([]*torch.Tensor{x.T(), x.Reshape(4, 3)}, 1)
			return wsum(torch.Stack([]*torch.Tensor{y, y.Square()}, 0).Permute(2, 0, 1).Flatten(0, 1))
		}},
		{"indexing", x, func(x *torch.Tensor) *torch.Tensor {
			y := x.IndexSelect(1, i64(3, 0, 3)).Gather(0, torch.FromInt64([]int64{2, 0, 1, 1, 1, 2}, 2, 3))
			z := torch.Where(x.GtScalar(0), x.Square(), x.MulScalar(-3)).MaskedFill(x.LtScalar(-1), 0)
			return wsum(y).Add(wsum(z))
		}},
		{"conv2d", img, func(x *torch.Tensor) *torch.Tensor {
			return wsum(torch.Conv2d(x, cw, nil, torch.Conv2dOptions{Stride: [2]int64{2, 1}, Padding: [2]int64{1, 1}}))
		}},
		{"pools", img, func(x *torch.Tensor) *torch.Tensor {
			m := torch.MaxPool2d(x, [2]int64{2, 2}, [2]int64{1, 1}, [2]int64{})
			a := torch.AvgPool2d(x, [2]int64{3, 3}, [2]int64{2, 2}, [2]int64{1, 1})
			return wsum(m).Add(wsum(a)).Add(wsum(torch.AdaptiveAvgPool2d(x, [2]int64{2, 3})))
		}},
		{"batch norm train", img, func(x *torch.Tensor) *torch.Tensor {
			return wsum(torch.BatchNorm(x, nil, nil, nil, nil, true, 0.1, 1e-5))
		}},
		{"layer norm", x, func(x *torch.Tensor) *torch.Tensor {
			return wsum(torch.LayerNorm(x, []int64{4}, nil, nil, 1e-5))
		}},
		{"embedding weight", x, func(x *torch.Tensor) *torch.Tensor {
			return wsum(torch.Embedding(x, torch.FromInt64([]int64{2, 0, 2, 1}, 2, 2), -1))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { gradCheck(t, c.name, c.x, c.f) })
	}
}

// AccumulateGrad creates a missing gradient as alpha·g and adds alpha·g into
// an existing one, exactly as a second Backward would; a gradient of another
// shape is an error that leaves the gradient alone.
func TestAccumulateGrad(t *testing.T) {
	w := torch.FromFloat32([]float32{1, 2, 3}, 3).SetRequiresGrad(true)
	g := torch.FromFloat32([]float32{1, -1, 2}, 3)
	if err := w.AccumulateGrad(g, 0.5); err != nil {
		t.Fatal(err)
	}
	if got, _ := w.Grad().Float32s(); !slices.Equal(got, []float32{0.5, -0.5, 1}) {
		t.Fatalf("created gradient %v, want [0.5 -0.5 1]", got)
	}
	if err := w.MulScalar(2).Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	if err := w.AccumulateGrad(g, 1); err != nil {
		t.Fatal(err)
	}
	want := []float32{3.5, 0.5, 5}
	if got, _ := w.Grad().Float32s(); !slices.Equal(got, want) {
		t.Fatalf("accumulated gradient %v, want %v", got, want)
	}
	if err := w.AccumulateGrad(torch.Zeros([]int64{2}), 1); err == nil || !strings.Contains(err.Error(), "shape") {
		t.Fatalf("AccumulateGrad of a [2] gradient into a [3] tensor: %v, want a shape error", err)
	}
	if got, _ := w.Grad().Float32s(); !slices.Equal(got, want) {
		t.Fatalf("a refused gradient changed the gradient to %v", got)
	}
}

// AddInPlace adds into the tensor's own storage, so every handle to it sees
// the sum, and refuses to add a tensor into itself.
func TestAddInPlace(t *testing.T) {
	buf := torch.Zeros([]int64{2, 2})
	alias := buf.Alias()
	if err := buf.AddInPlace(torch.FromFloat32([]float32{1, 2, 3, 4}, 2, 2), 2); err != nil {
		t.Fatal(err)
	}
	if err := buf.AddInPlace(torch.FromFloat32([]float32{1, 1}, 2), -1); err != nil { // broadcast
		t.Fatal(err)
	}
	if got, _ := alias.Float32s(); !slices.Equal(got, []float32{1, 3, 5, 7}) {
		t.Fatalf("after two adds the buffer holds %v, want [1 3 5 7]", got)
	}
	if err := buf.AddInPlace(buf, 1); err == nil {
		t.Fatal("adding a tensor into itself succeeded")
	}
	if err := torch.Zeros([]int64{2}).AddInPlace(buf, 1); err == nil {
		t.Fatal("adding a [2 2] tensor into a [2] one succeeded")
	}
}

// SetMallocThresholds accepts the thresholds the neuron sets and refuses
// values glibc cannot take.
func TestSetMallocThresholds(t *testing.T) {
	if err := torch.SetMallocThresholds(torch.MallocMmapThreshold, torch.MallocTrimThreshold); err != nil {
		t.Fatal(err)
	}
	if err := torch.SetMallocArenaMax(torch.MallocArenaMax); err != nil {
		t.Fatal(err)
	}
	if err := torch.SetMallocArenaMax(0); err == nil {
		t.Error("SetMallocArenaMax(0) succeeded")
	}
	for _, bad := range [][2]int64{{0, 1 << 20}, {1 << 20, -1}, {1 << 40, 1 << 20}} {
		if err := torch.SetMallocThresholds(bad[0], bad[1]); err == nil {
			t.Errorf("SetMallocThresholds(%d, %d) succeeded", bad[0], bad[1])
		}
	}
}
