package torch_test

import (
	"slices"
	"testing"

	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/internal/testutil"
)

// golden is the file gen_golden.py writes for this package.
const golden = "testdata/golden.json"

// p and p64 build the deterministic inputs that gen_golden.py's pat() builds.
func p(k, off int, shape ...int64) *torch.Tensor   { return testutil.P(shape, k, off) }
func p64(k, off int, shape ...int64) *torch.Tensor { return testutil.P64(shape, k, off) }

func i64(v ...int64) *torch.Tensor { return torch.FromInt64(v) }

// goldenCase is an op whose result must equal the golden value of the same name.
type goldenCase struct {
	name string
	got  func() *torch.Tensor
}

func checkGolden(t *testing.T, cases []goldenCase) {
	t.Helper()
	g := testutil.LoadGolden(t, golden)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { g.Check(t, c.name, c.got(), 1e-5, 1e-6) })
	}
}

func TestArithmeticGolden(t *testing.T) {
	a, b, c := p(7, 0, 2, 3), p(5, 1, 3), p(3, 2, 2, 1)
	checkGolden(t, []goldenCase{
		{"add_bcast", func() *torch.Tensor { return a.Add(b) }},
		{"sub_bcast", func() *torch.Tensor { return a.Sub(c) }},
		{"mul_bcast", func() *torch.Tensor { return a.Mul(b) }},
		{"div_bcast", func() *torch.Tensor { return a.Div(b.Abs().AddScalar(0.5)) }},
		{"pow_tensor", func() *torch.Tensor { return a.Abs().AddScalar(1).Pow(b) }},
		{"maximum", func() *torch.Tensor { return a.Maximum(b) }},
		{"minimum", func() *torch.Tensor { return a.Minimum(c) }},
		{"remainder", func() *torch.Tensor { return a.MulScalar(4).Remainder(b.Abs().AddScalar(1)) }},
		{"add_scalar", func() *torch.Tensor { return a.AddScalar(1.5) }},
		{"sub_scalar", func() *torch.Tensor { return a.SubScalar(0.25) }},
		{"rsub_scalar", func() *torch.Tensor { return a.RSubScalar(3) }},
		{"mul_scalar", func() *torch.Tensor { return a.MulScalar(-2) }},
		{"div_scalar", func() *torch.Tensor { return a.DivScalar(4) }},
		{"pow_scalar", func() *torch.Tensor { return a.Abs().AddScalar(1).PowScalar(1.5) }},
		{"clamp_min", func() *torch.Tensor { return a.ClampMin(-0.25) }},
		{"clamp_max", func() *torch.Tensor { return a.ClampMax(0.25) }},
		{"leaky_relu", func() *torch.Tensor { return a.LeakyRelu(0.1) }},
		{"neg", func() *torch.Tensor { return a.Neg() }},
		{"exp", func() *torch.Tensor { return a.Exp() }},
		{"log", func() *torch.Tensor { return a.Abs().AddScalar(1).Log() }},
		{"sqrt", func() *torch.Tensor { return a.Abs().AddScalar(1).Sqrt() }},
		{"rsqrt", func() *torch.Tensor { return a.Abs().AddScalar(1).Rsqrt() }},
		{"abs", func() *torch.Tensor { return a.Abs() }},
		{"sign", func() *torch.Tensor { return a.Sign() }},
		{"floor", func() *torch.Tensor { return a.MulScalar(3).Floor() }},
		{"square", func() *torch.Tensor { return a.Square() }},
		{"sin", func() *torch.Tensor { return a.Sin() }},
		{"cos", func() *torch.Tensor { return a.Cos() }},
	})
}

func TestMatmulGolden(t *testing.T) {
	checkGolden(t, []goldenCase{
		{"matmul_bcast", func() *torch.Tensor { return p(5, 3, 2, 3, 4).Matmul(p(3, 1, 4, 5)) }},
		{"matmul_mv", func() *torch.Tensor { return p(7, 0, 3, 4).Matmul(p(5, 2, 4)) }},
		{"matmul_2d", func() *torch.Tensor { return p(7, 0, 3, 4).Matmul(p(3, 5, 4, 2)) }},
		{"bmm", func() *torch.Tensor { return p(7, 1, 2, 3, 4).Bmm(p(5, 0, 2, 4, 2)) }},
		{"matmul_f64", func() *torch.Tensor { return p64(7, 0, 3, 4).Matmul(p64(3, 5, 4, 2)) }},
	})
}

func TestReductionsGolden(t *testing.T) {
	r, d := p(11, 4, 2, 3, 4), p(7, 2, 3, 5)
	checkGolden(t, []goldenCase{
		{"sum_all", func() *torch.Tensor { return r.Sum() }},
		{"sum_1", func() *torch.Tensor { return r.Sum(1) }},
		{"sum_0_2", func() *torch.Tensor { return r.Sum(0, 2) }},
		{"sum_keep_1", func() *torch.Tensor { return r.SumKeepDim(1) }},
		{"mean_all", func() *torch.Tensor { return r.Mean() }},
		{"mean_2", func() *torch.Tensor { return r.Mean(2) }},
		{"mean_keep_0", func() *torch.Tensor { return r.MeanKeepDim(0) }},
		{"max_all", func() *torch.Tensor { return r.Max() }},
		{"max_1", func() *torch.Tensor { return r.Max(1) }},
		{"min_0", func() *torch.Tensor { return r.Min(0) }},
		{"prod_2", func() *torch.Tensor { return r.Prod(2) }},
		{"norm_all", func() *torch.Tensor { return r.Norm() }},
		{"norm_1", func() *torch.Tensor { return r.Norm(1) }},
		{"var_2", func() *torch.Tensor { return r.Var(2) }},
		{"std_1", func() *torch.Tensor { return r.Std(1) }},
		{"cumsum_2", func() *torch.Tensor { return r.Cumsum(2) }},
		{"argmax_1", func() *torch.Tensor { return d.Argmax(1, false) }},
		{"argmax_0_keep", func() *torch.Tensor { return d.Argmax(0, true) }},
		{"argmin_1", func() *torch.Tensor { return d.Argmin(1, false) }},
		{"argmax_all", func() *torch.Tensor { return d.ArgmaxAll() }},
	})
}

func TestShapeOpsGolden(t *testing.T) {
	r, a, c := p(11, 4, 2, 3, 4), p(7, 0, 2, 3), p(3, 2, 2, 1)
	checkGolden(t, []goldenCase{
		{"permute_201", func() *torch.Tensor { return r.Permute(2, 0, 1) }},
		{"transpose_02", func() *torch.Tensor { return r.Transpose(0, 2) }},
		{"t_2d", func() *torch.Tensor { return a.T() }},
		{"flatten_1_2", func() *torch.Tensor { return r.Flatten(1, 2) }},
		{"view_m1_4", func() *torch.Tensor { return r.View(-1, 4) }},
		{"reshape_4_m1", func() *torch.Tensor { return r.Permute(1, 0, 2).Reshape(4, -1) }},
		{"narrow_2_1_2", func() *torch.Tensor { return r.Narrow(2, 1, 2) }},
		{"expand", func() *torch.Tensor { return c.Expand(2, 4) }},
		{"repeat", func() *torch.Tensor { return a.Repeat(2, 1) }},
	})
}

func TestShapeOpsMetadata(t *testing.T) {
	r := p(11, 4, 2, 3, 4)
	for _, c := range []struct {
		name string
		got  *torch.Tensor
		want []int64
	}{
		{"unsqueeze", r.Unsqueeze(1), []int64{2, 1, 3, 4}},
		{"squeeze", r.Unsqueeze(1).Squeeze(1), []int64{2, 3, 4}},
		{"squeeze keeps non-1", r.Squeeze(0), []int64{2, 3, 4}},
		{"flatten all", r.Flatten(0, -1), []int64{24}},
		{"reshape", r.Reshape(6, -1), []int64{6, 4}},
		{"contiguous", r.Transpose(0, 1).Contiguous(), []int64{3, 2, 4}},
	} {
		if err := c.got.Err(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := c.got.Shape(); !slices.Equal(got, c.want) {
			t.Errorf("%s: shape %v, want %v", c.name, got, c.want)
		}
	}
	// A view of a transposed tensor is refused with libtorch's advice; reshape copies.
	if err := r.Transpose(0, 2).View(-1).Err(); err == nil {
		t.Error("view of a non-contiguous tensor: no error")
	}
	if err := r.Transpose(0, 2).Reshape(-1).Err(); err != nil {
		t.Errorf("reshape of a non-contiguous tensor: %v", err)
	}
}

func TestActivationsGolden(t *testing.T) {
	s := p(7, 1, 3, 5)
	checkGolden(t, []goldenCase{
		{"relu", func() *torch.Tensor { return s.Relu() }},
		{"gelu", func() *torch.Tensor { return s.Gelu() }},
		{"tanh", func() *torch.Tensor { return s.Tanh() }},
		{"sigmoid", func() *torch.Tensor { return s.Sigmoid() }},
		{"softmax_1", func() *torch.Tensor { return s.Softmax(1) }},
		{"softmax_0", func() *torch.Tensor { return s.Softmax(0) }},
		{"log_softmax_1", func() *torch.Tensor { return s.LogSoftmax(1) }},
	})
}

func TestComparisonsGolden(t *testing.T) {
	a, b := p(7, 0, 2, 3), p(5, 1, 3)
	checkGolden(t, []goldenCase{
		{"eq", func() *torch.Tensor { return a.Eq(p(5, 3, 2, 3)) }},
		{"ne", func() *torch.Tensor { return a.Ne(p(5, 3, 2, 3)) }},
		{"lt", func() *torch.Tensor { return a.Lt(b) }},
		{"le", func() *torch.Tensor { return a.Le(b) }},
		{"gt", func() *torch.Tensor { return a.Gt(b) }},
		{"ge", func() *torch.Tensor { return a.Ge(b) }},
		{"gt_scalar", func() *torch.Tensor { return a.GtScalar(0) }},
		{"le_scalar", func() *torch.Tensor { return a.LeScalar(-0.5) }},
		{"logical_and", func() *torch.Tensor { return a.GtScalar(0).LogicalAnd(b.GtScalar(0)) }},
		{"logical_or", func() *torch.Tensor { return a.GtScalar(0).LogicalOr(b.GtScalar(0)) }},
		{"logical_not", func() *torch.Tensor { return a.GtScalar(0).LogicalNot() }},
	})
	// Comparisons yield bool tensors.
	if d := a.Gt(b).DType(); d != torch.Bool {
		t.Errorf("gt dtype %v, want bool", d)
	}
	got, err := a.EqScalar(-1).Bools()
	if err != nil {
		t.Fatal(err)
	}
	want := []bool{true, false, false, false, false, false} // a = [-1, -1/8, 3/4, -1/2, 3/8, -7/8]
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("eq scalar: %v, want %v", got, want)
		}
	}
	if n, err := a.NeScalar(-1).ToDType(torch.Int64).Sum().Item(); err != nil || n != 5 {
		t.Errorf("ne scalar count = %v, %v; want 5", n, err)
	}
	if n, err := a.LtScalar(0).ToDType(torch.Int64).Sum().Item(); err != nil || n != 4 {
		t.Errorf("lt scalar count = %v, %v; want 4", n, err)
	}
	if n, err := a.GeScalar(0.375).ToDType(torch.Int64).Sum().Item(); err != nil || n != 2 {
		t.Errorf("ge scalar count = %v, %v; want 2", n, err)
	}
}
