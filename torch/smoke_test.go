package torch

import "testing"

func TestSmoke(t *testing.T) {
	s := NewScope()
	defer s.Close()
	x := s.Track(FromFloat32([]float32{1, 2, 3, 4, 5, 6}, 2, 3))
	w := FromFloat32([]float32{1, 0, 0, 1, 1, 1}, 3, 2).SetRequiresGrad(true)
	y := x.Matmul(w).Relu().Sum()
	if err := y.Backward(); err != nil {
		t.Fatal(err)
	}
	v, _ := y.Item()
	g, _ := w.Grad().Float32s()
	t.Log(v, g, s.Len())
	bad := x.Matmul(x)
	t.Log(bad.Err())
	outs, err := CustomFunction([]*Tensor{w}, []*Tensor{Ones([]int64{2})}, func(gs []*Tensor) ([]*Tensor, error) {
		return []*Tensor{gs[0].Sum().Mul(Ones([]int64{3, 2}))}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	w.ZeroGrad()
	if err := outs[0].MulScalar(3).Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	g, _ = w.Grad().Float32s()
	t.Log(g)
}
