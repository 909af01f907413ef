package torch_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/opentensor/bittensor-go/torch"
)

func TestErrorsCarryLibtorchMessage(t *testing.T) {
	a := p(7, 0, 2, 3)
	cases := []struct {
		name string
		got  *torch.Tensor
		want string // libtorch's message, as PyTorch prints it; " || " between versions' wordings
	}{
		{"broadcast", a.Add(p(7, 0, 4)), "The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 1"},
		{"matmul shapes", a.Matmul(p(7, 0, 4, 5)), "mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"},
		{"matmul dtypes", a.Matmul(p64(7, 0, 3, 2)), "expected scalar type Float but found Double" + // 1.13
			" || expected m1 and m2 to have the same dtype, but got: float != double"}, // 2.x
		{"view", a.View(7), "shape '[7]' is invalid for input of size 6"},
		{"conv channels", torch.Conv2d(p(7, 0, 1, 2, 5, 5), p(7, 0, 3, 3, 3, 3), nil, torch.Conv2dOptions{}),
			"expected input[1, 2, 5, 5] to have 3 channels, but got 2 channels instead"},
		{"index dtype", a.IndexSelect(0, p(7, 0, 2)), "Expected dtype int32 or int64 for index"},
		{"dim range", a.Sum(5), "Dimension out of range (expected to be in range of [-2, 1], but got 5)"},
		{"linear", torch.Linear(a, p(7, 0, 4, 4), nil), "cannot be multiplied"},
		{"softmax dim", a.Softmax(2), "Dimension out of range"},
		{"permute", a.Permute(0, 0), "duplicate dims are not allowed"},
		{"gather", a.Gather(1, torch.FromInt64([]int64{0, 5}, 2, 1)), "out of bounds"},
	}
	for _, c := range cases {
		err := c.got.Err()
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if !containsAny(err.Error(), strings.Split(c.want, " || ")) {
			t.Errorf("%s: error %q does not carry libtorch's %q", c.name, err, c.want)
		}
		if !strings.HasPrefix(err.Error(), "torch: ") {
			t.Errorf("%s: error %q lacks the package prefix", c.name, err)
		}
		// The failed result is inert: metadata is empty and values are errors.
		if c.got.Dim() != 0 || c.got.Shape() != nil || c.got.Numel() != 0 || c.got.DType() != -1 {
			t.Errorf("%s: failed tensor reports dim %d shape %v numel %d dtype %v",
				c.name, c.got.Dim(), c.got.Shape(), c.got.Numel(), c.got.DType())
		}
		if _, err := c.got.Float32s(); err == nil {
			t.Errorf("%s: values of a failed tensor: no error", c.name)
		}
	}
}

func TestStickyErrors(t *testing.T) {
	x := p(7, 0, 2, 3).SetRequiresGrad(true)
	bad := x.Matmul(p(7, 0, 4, 5))
	first := bad.Err()
	if first == nil {
		t.Fatal("no error from a bad matmul")
	}
	// Every op downstream, method or function, carries the first error.
	chain := []*torch.Tensor{
		bad.Relu().Sum(1).Reshape(-1).Softmax(0),
		x.Add(bad), bad.Add(x), x.MulScalar(2).Mul(bad.Tanh()),
		torch.Cat([]*torch.Tensor{x, bad}, 0), torch.Stack([]*torch.Tensor{bad}, 0),
		torch.Where(x.GtScalar(0), x, bad), x.IndexSelect(0, bad), x.Gather(0, bad),
		torch.Linear(bad, x, nil), torch.Linear(x, x, bad), torch.Conv2d(bad, x, nil, torch.Conv2dOptions{}),
		torch.BatchNorm(x, nil, nil, bad, nil, true, 0.1, 1e-5), torch.LayerNorm(bad, []int64{3}, nil, nil, 1e-5),
		torch.Dropout(bad, 0.5, true), torch.Embedding(bad, i64(0), -1), torch.MaxPool2d(bad, [2]int64{2, 2}, [2]int64{}, [2]int64{}),
		torch.CrossEntropy(bad, i64(0), torch.ReduceMean), torch.MSELoss(x, bad, torch.ReduceMean),
		bad.To(torch.CPU), bad.ToDType(torch.Float64), bad.SetRequiresGrad(true), bad.Grad(), bad.Detach(),
	}
	for i, c := range chain {
		if err := c.Err(); !errors.Is(err, first) && (err == nil || err.Error() != first.Error()) {
			t.Errorf("chain %d: error %v, want the first error %v", i, err, first)
		}
	}
	v, i := bad.TopK(1, 0, true)
	if v.Err() == nil || i.Err() == nil {
		t.Error("topk of a failed tensor: no error")
	}
	if _, err := bad.Split(1, 0); err == nil {
		t.Error("split of a failed tensor: no error")
	}
	if _, err := bad.Item(); err == nil {
		t.Error("item of a failed tensor: no error")
	}
	if _, err := bad.Bytes(); err == nil {
		t.Error("bytes of a failed tensor: no error")
	}
	if err := bad.Backward(); err == nil {
		t.Error("backward of a failed tensor: no error")
	}
	if err := x.MulScalar(2).BackwardWith(bad, false); err == nil {
		t.Error("backward with a failed gradient: no error")
	}
	if _, err := torch.Grad([]*torch.Tensor{bad}, []*torch.Tensor{x}, nil, false); err == nil {
		t.Error("grad of a failed output: no error")
	}
	if _, err := torch.ClipGradNorm([]*torch.Tensor{x, bad}, 1); err == nil {
		t.Error("clip grad norm with a failed parameter: no error")
	}
	if err := x.CopyFrom(bad); err == nil {
		t.Error("copy from a failed tensor: no error")
	}
	if s := bad.String(); !strings.Contains(s, "error") {
		t.Errorf("String() of a failed tensor: %q", s)
	}
	// Errorf makes a failed tensor; freeing it is harmless.
	e := torch.Errorf("peer %d failed", 3)
	if e.Err() == nil || e.Err().Error() != "peer 3 failed" {
		t.Errorf("Errorf: %v", e.Err())
	}
	e.Free()
	var nilT *torch.Tensor
	if nilT.Err() == nil {
		t.Error("nil tensor reports no error")
	}
	if err := x.Add(nil).Err(); err == nil {
		t.Error("op with a nil operand: no error")
	}
}

func TestUseAfterFree(t *testing.T) {
	x := p(7, 0, 2, 3)
	y := x.MulScalar(2)
	x.Free()
	x.Free() // twice is harmless
	if !errors.Is(x.Err(), torch.ErrFreed) {
		t.Errorf("freed tensor: %v, want ErrFreed", x.Err())
	}
	if err := x.Add(y).Err(); !errors.Is(err, torch.ErrFreed) {
		t.Errorf("op on a freed tensor: %v, want ErrFreed", err)
	}
	if _, err := x.Float32s(); !errors.Is(err, torch.ErrFreed) {
		t.Errorf("values of a freed tensor: %v, want ErrFreed", err)
	}
	if x.Shape() != nil || x.Numel() != 0 {
		t.Errorf("freed tensor reports shape %v numel %d", x.Shape(), x.Numel())
	}
	// Freeing an operand leaves results computed from it intact.
	if v, err := y.Float32s(); err != nil || len(v) != 6 {
		t.Errorf("result of a freed operand: %v, %v", v, err)
	}

	s := torch.NewScope()
	z := s.Track(p(7, 0, 3))
	w := z.AddScalar(1)
	s.Close()
	for name, tt := range map[string]*torch.Tensor{"tracked": z, "derived": w} {
		if !errors.Is(tt.Err(), torch.ErrFreed) {
			t.Errorf("%s tensor after Close: %v, want ErrFreed", name, tt.Err())
		}
		if _, err := tt.Item(); !errors.Is(err, torch.ErrFreed) {
			t.Errorf("%s tensor item after Close: %v, want ErrFreed", name, err)
		}
		tt.Free() // harmless
	}
}

// containsAny reports whether s contains one of subs.
func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
