package torch_test

import (
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/internal/testutil"
)

func TestScopeTrackAndResults(t *testing.T) {
	s := torch.NewScope()
	free := p(5, 1, 3) // unscoped
	x := s.Track(p(7, 0, 3))
	if s.Len() != 1 {
		t.Fatalf("Len after Track = %d, want 1", s.Len())
	}
	if s.Track(x) != x || s.Len() != 1 {
		t.Errorf("tracking twice: Len %d, want 1", s.Len())
	}
	y := x.Add(free) // scoped first operand
	z := free.Mul(y) // scoped second operand
	w := torch.Where(free.GtScalar(0), free, z)
	parts, err := y.Chunk(3, 0) // multi-result ops join too
	if err != nil {
		t.Fatal(err)
	}
	vals, idx := y.Sort(0, false)
	c := torch.Zeros([]int64{2}, torch.InScope(s))
	// x, y, z, w, three chunks, sort's two results, zeros; free.GtScalar(0) is unscoped.
	if s.Len() != 10 {
		t.Errorf("scope holds %d tensors, want 10", s.Len())
	}
	s.Close()
	for name, tt := range map[string]*torch.Tensor{
		"tracked": x, "first operand": y, "second operand": z, "where": w, "chunk": parts[2],
		"sort values": vals, "sort indices": idx, "InScope": c,
	} {
		if !errors.Is(tt.Err(), torch.ErrFreed) {
			t.Errorf("%s: %v after Close, want ErrFreed", name, tt.Err())
		}
	}
	if err := free.Err(); err != nil {
		t.Errorf("unscoped operand freed by Close: %v", err)
	}
	if s.Len() != 0 {
		t.Errorf("Len after Close = %d", s.Len())
	}
	s.Close() // idempotent
}

func TestScopeLen(t *testing.T) {
	s := torch.NewScope()
	defer s.Close()
	x := s.Track(p(7, 0, 3))
	y := x.Neg()
	_ = y.Exp()
	if s.Len() != 3 {
		t.Errorf("Len = %d, want 3", s.Len())
	}
	y.Free()
	if s.Len() != 2 {
		t.Errorf("Len after Free = %d, want 2", s.Len())
	}
	k := s.Keep(x.AddScalar(1))
	if s.Len() != 2 {
		t.Errorf("Len after Keep = %d, want 2", s.Len())
	}
	s.Close()
	if v, err := k.Float32s(); err != nil || len(v) != 3 {
		t.Errorf("kept tensor after Close: %v, %v", v, err)
	}
	// Keep of a tensor from elsewhere does nothing.
	other := p(3, 0, 2)
	if s.Keep(other) != other || other.Err() != nil {
		t.Error("Keep of an unscoped tensor changed it")
	}
}

func TestScopeMoveAndClosed(t *testing.T) {
	s1, s2 := torch.NewScope(), torch.NewScope()
	x := s1.Track(p(7, 0, 3))
	s2.Track(x)
	if s1.Len() != 0 || s2.Len() != 1 {
		t.Errorf("after moving: s1 %d, s2 %d tensors; want 0, 1", s1.Len(), s2.Len())
	}
	s1.Close()
	if err := x.Err(); err != nil {
		t.Errorf("moved tensor freed by its old scope: %v", err)
	}
	s2.Close()
	if !errors.Is(x.Err(), torch.ErrFreed) {
		t.Errorf("moved tensor survives its new scope: %v", x.Err())
	}

	// A closed scope takes nothing: tensors stay usable (the GC frees them).
	y := s1.Track(p(7, 0, 3))
	z := torch.Ones([]int64{2}, torch.InScope(s1))
	if y.Err() != nil || z.Err() != nil || s1.Len() != 0 {
		t.Errorf("closed scope: tracked %v, created %v, Len %d", y.Err(), z.Err(), s1.Len())
	}
	if err := y.MulScalar(2).Err(); err != nil {
		t.Errorf("op on a tensor tracked by a closed scope: %v", err)
	}
	s1.Track(nil)
	s1.Track(torch.Errorf("x"))

	var inner *torch.Tensor
	torch.WithScope(func(s *torch.Scope) { inner = s.Track(p(7, 0, 3)).Relu() })
	if !errors.Is(inner.Err(), torch.ErrFreed) {
		t.Errorf("WithScope left %v", inner.Err())
	}
}

func TestScopedTrainingStep(t *testing.T) {
	// The pattern of torch/doc.go: parameters unscoped, the step scoped.
	w := p(5, 1, 4, 3).SetRequiresGrad(true)
	b := p(3, 2, 3).SetRequiresGrad(true)
	for step := range 3 {
		s := torch.NewScope()
		x := s.Track(p(7, step, 2, 4))
		loss := torch.CrossEntropy(x.Matmul(w).Add(b), s.Track(i64(0, 2)), torch.ReduceMean)
		// Freeing handles of intermediates never breaks the graph.
		h := x.Matmul(w)
		h.Free()
		if err := loss.Backward(); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		kept := s.Keep(loss.Detach())
		gs, err := torch.Grad([]*torch.Tensor{x.Matmul(w).Sum()}, []*torch.Tensor{w}, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if !errors.Is(gs[0].Err(), torch.ErrFreed) {
			t.Errorf("torch.Grad result outlived the step scope: %v", gs[0].Err())
		}
		if _, err := kept.Item(); err != nil {
			t.Errorf("kept loss: %v", err)
		}
	}
	// Parameters and their accumulated gradients outlive every step.
	for name, tt := range map[string]*torch.Tensor{"w": w, "b": b, "w.grad": w.Grad(), "b.grad": b.Grad()} {
		if err := tt.Err(); err != nil {
			t.Errorf("%s after the steps: %v", name, err)
		}
	}
	if v := testutil.MustValues(t, b.Grad()); len(v) != 3 {
		t.Errorf("b.grad %v", v)
	}
}

func TestScopeConcurrent(t *testing.T) {
	s := torch.NewScope()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				x := s.Track(p(7, 0, 3))
				_ = x.Relu()
				x.Free()
			}
		})
	}
	wg.Wait()
	if s.Len() != 8*20 {
		t.Errorf("Len = %d, want %d (one relu result per iteration)", s.Len(), 8*20)
	}
	s.Close()
}

// Freeing intermediates before backward releases only the Go handles:
// autograd keeps what it saved, so the gradients are those of a step that
// freed nothing, and the intermediates leave their scope.
func TestFreeIntermediatesBeforeBackward(t *testing.T) {
	grad := func(freeEarly bool) ([]float64, int) {
		s := torch.NewScope()
		defer s.Close()
		x := s.Track(p64(7, 0, 2, 3)).SetRequiresGrad(true)
		a := x.Tanh()
		b := a.Mul(x)
		c := b.Sigmoid()
		loss := c.Sum()
		if freeEarly {
			torch.Free(a, nil, b, c)
			if err := a.Err(); !errors.Is(err, torch.ErrFreed) {
				t.Errorf("a after Free: %v, want ErrFreed", err)
			}
		}
		if err := loss.Backward(); err != nil {
			t.Fatal(err)
		}
		v, err := x.Grad().Float64s()
		if err != nil {
			t.Fatal(err)
		}
		return v, s.Len()
	}
	want, kept := grad(false)
	got, left := grad(true)
	if !slices.Equal(got, want) {
		t.Errorf("gradient with intermediates freed = %v, want %v", got, want)
	}
	if left != kept-3 {
		t.Errorf("scope holds %d tensors after freeing 3 of %d", left, kept)
	}
}
