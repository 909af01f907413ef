package nn_test

import (
	"math"
	"slices"
	"testing"

	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/internal/testutil"
	"github.com/opentensor/bittensor-go/torch/nn"
)

const golden = "testdata/golden.json"

func p(k, off int, shape ...int64) *torch.Tensor { return testutil.P(shape, k, off) }

// set copies a pattern into a parameter, as gen_golden.py does with copy_.
func set(t *testing.T, param *torch.Tensor, k, off int) {
	t.Helper()
	if err := param.CopyFrom(p(k, off, param.Shape()...)); err != nil {
		t.Fatal(err)
	}
}

func names(m map[string]*torch.Tensor) []string {
	var out []string
	for n := range m {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func TestSequentialGolden(t *testing.T) {
	g := testutil.LoadGolden(t, golden)
	fc1, fc2 := nn.NewLinear(4, 3, true), nn.NewLinear(3, 2, true)
	seq := nn.NewSequential(fc1, nn.ReLU(), fc2)
	set(t, fc1.Weight, 7, 0)
	set(t, fc1.Bias, 5, 1)
	set(t, fc2.Weight, 3, 2)
	set(t, fc2.Bias, 7, 3)

	want := slices.Clone(g.Get(t, "seq_param_names").Names)
	slices.Sort(want)
	if got := names(nn.NamedParameters(seq)); !slices.Equal(got, want) {
		t.Errorf("parameter names %v, PyTorch has %v", got, want)
	}
	ps := nn.Parameters(seq)
	if len(ps) != 4 || ps[0] != fc1.Weight || ps[1] != fc1.Bias || ps[2] != fc2.Weight || ps[3] != fc2.Bias {
		t.Error("Parameters are not fc1.weight, fc1.bias, fc2.weight, fc2.bias in order")
	}
	for i, q := range ps {
		if !q.RequiresGrad() {
			t.Errorf("parameter %d does not require grad", i)
		}
	}
	x := p(5, 0, 2, 4)
	out := seq.Forward(x)
	g.Check(t, "seq_out", out, 1e-5, 1e-6)
	if err := out.Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	g.Check(t, "seq_grad_0_weight", fc1.Weight.Grad(), 1e-5, 1e-6)
	g.Check(t, "seq_grad_2_bias", fc2.Bias.Grad(), 1e-5, 1e-6)

	if err := nn.ZeroGrad(seq); err != nil {
		t.Fatal(err)
	}
	for i, q := range ps {
		if q.Grad() != nil {
			t.Errorf("parameter %d keeps a gradient after ZeroGrad", i)
		}
	}
	if err := nn.NewLinear(4, 3, false).Forward(p(5, 0, 2, 5)).Err(); err == nil {
		t.Error("linear on inputs of the wrong width: no error")
	}
	if b := nn.NewLinear(4, 3, false); b.Bias != nil || len(nn.Parameters(b)) != 1 {
		t.Error("linear without bias has a bias")
	}
}

func TestConvBatchNormGolden(t *testing.T) {
	g := testutil.LoadGolden(t, golden)
	conv := nn.NewConv2d(2, 3, 3, torch.Conv2dOptions{Padding: [2]int64{1, 1}}, true)
	bn := nn.NewBatchNorm2d(3)
	net := nn.NewSequential(conv, bn, nn.ReLU())
	set(t, conv.Weight, 5, 1)
	set(t, conv.Bias, 3, 0)
	if got := conv.Weight.Shape(); !slices.Equal(got, []int64{3, 2, 3, 3}) {
		t.Errorf("conv weight shape %v", got)
	}

	bnNames := slices.Clone(g.Get(t, "bn_param_names").Names)
	slices.Sort(bnNames)
	if got := names(nn.NamedParameters(bn)); !slices.Equal(got, bnNames) {
		t.Errorf("batch norm parameters %v, PyTorch has %v", got, bnNames)
	}
	state := names(nn.StateDict(net))
	wantState := []string{"0.bias", "0.weight", "1.bias", "1.running_mean", "1.running_var", "1.weight"}
	if !slices.Equal(state, wantState) {
		t.Errorf("state dict %v, want %v", state, wantState)
	}
	if bn.RunningMean.RequiresGrad() {
		t.Error("a buffer requires grad")
	}

	x := p(7, 2, 2, 2, 4, 4)
	if !bn.IsTraining() {
		t.Fatal("a new module is not in training mode")
	}
	g.Check(t, "cnn_train_out", net.Forward(x), 1e-5, 1e-5)
	g.Check(t, "cnn_train_running_mean", bn.RunningMean, 1e-5, 1e-6)
	g.Check(t, "cnn_train_running_var", bn.RunningVar, 1e-5, 1e-6)

	nn.Eval(net)
	if bn.IsTraining() || conv.IsTraining() || net.IsTraining() {
		t.Error("Eval left a sub-module in training mode")
	}
	g.Check(t, "cnn_eval_out", net.Forward(x), 1e-5, 1e-5)
	g.Check(t, "cnn_train_running_mean", bn.RunningMean, 1e-5, 1e-6) // unchanged by eval
	nn.Train(net)
	if !bn.IsTraining() {
		t.Error("Train left batch norm in eval mode")
	}
}

func TestLayerNormEmbeddingDropout(t *testing.T) {
	g := testutil.LoadGolden(t, golden)
	ln := nn.NewLayerNorm(4)
	g.Check(t, "layer_norm_default", ln.Forward(p(5, 2, 2, 4)), 1e-5, 1e-5)
	if got := names(nn.NamedParameters(ln)); !slices.Equal(got, []string{"bias", "weight"}) {
		t.Errorf("layer norm parameters %v", got)
	}

	torch.ManualSeed(5)
	emb := nn.NewEmbedding(10, 3)
	out := emb.Forward(torch.FromInt64([]int64{1, 9, 1, 0}, 2, 2))
	if got := out.Shape(); !slices.Equal(got, []int64{2, 2, 3}) {
		t.Fatalf("embedding output shape %v", got)
	}
	rows := testutil.MustValues(t, out)
	w := testutil.MustValues(t, emb.Weight)
	if !slices.Equal(rows[0:3], w[3:6]) || !slices.Equal(rows[6:9], w[3:6]) || !slices.Equal(rows[3:6], w[27:30]) {
		t.Error("embedding rows are not the weight's rows")
	}
	if err := out.Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	grad := testutil.MustValues(t, emb.Weight.Grad())
	if grad[3] != 2 || grad[27] != 1 || grad[6] != 0 { // id 1 used twice, 9 once, 2 never
		t.Errorf("embedding grad rows: %v", grad)
	}

	d := nn.NewDropout(0.5)
	x := torch.Ones([]int64{4000})
	torch.ManualSeed(9)
	v := testutil.MustValues(t, d.Forward(x))
	zeros := 0
	for _, e := range v {
		if e == 0 {
			zeros++
		} else if e != 2 {
			t.Fatalf("dropout survivor %v, want 2", e)
		}
	}
	if frac := float64(zeros) / 4000; math.Abs(frac-0.5) > 0.05 {
		t.Errorf("dropout zeroed %.3f, want about 0.5", frac)
	}
	nn.Eval(d)
	if v := testutil.MustValues(t, d.Forward(x)); slices.ContainsFunc(v, func(e float64) bool { return e != 1 }) {
		t.Error("dropout in eval mode is not the identity")
	}
}

func TestClipGradNormGolden(t *testing.T) {
	g := testutil.LoadGolden(t, golden)
	p1 := torch.Zeros([]int64{3}).SetRequiresGrad(true)
	p2 := torch.Zeros([]int64{2, 2}).SetRequiresGrad(true)
	// Gradients equal to the golden's: d/dp Σ p·g = g.
	loss := p1.Mul(p(7, 0, 3).MulScalar(4)).Sum().Add(p2.Mul(p(5, 1, 2, 2).MulScalar(4)).Sum())
	if err := loss.Backward(); err != nil {
		t.Fatal(err)
	}
	total, err := torch.ClipGradNorm([]*torch.Tensor{p1, p2}, 1.0)
	if err != nil {
		t.Fatal(err)
	}
	if want := g.Get(t, "clip_total").Data[0]; math.Abs(total-want) > 1e-5*want {
		t.Errorf("total norm %v, want %v", total, want)
	}
	g.Check(t, "clip_p1_grad", p1.Grad(), 1e-5, 1e-6)
	g.Check(t, "clip_p2_grad", p2.Grad(), 1e-5, 1e-6)
	// Parameters without gradients are skipped.
	if total, err := torch.ClipGradNorm([]*torch.Tensor{torch.Zeros([]int64{2}).SetRequiresGrad(true)}, 1); err != nil || total != 0 {
		t.Errorf("clip without gradients: %v, %v", total, err)
	}
}
