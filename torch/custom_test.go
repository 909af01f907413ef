package torch_test

import (
	"errors"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opentensor/bittensor-go/internal/testing/eventually"
	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/internal/testutil"
)

// remoteProduct is a two-input, two-output function computed "elsewhere"
// (outside autograd) and attached with CustomFunction:
// u = a·b, v = a + sin(b); its Go backward returns the exact gradients.
func remoteProduct(a, b *torch.Tensor, calls *int) (u, v *torch.Tensor, err error) {
	var outs []*torch.Tensor
	torch.NoGrad(func() { outs = []*torch.Tensor{a.Mul(b), a.Add(b.Sin())} })
	ad, bd := a.Detach(), b.Detach()
	res, err := torch.CustomFunction([]*torch.Tensor{a, b}, outs, func(g []*torch.Tensor) ([]*torch.Tensor, error) {
		if calls != nil {
			*calls++
		}
		gu, gv := g[0], g[1]
		ga := gu.Mul(bd).Add(gv)
		gb := gu.Mul(ad).Add(gv.Mul(bd.Cos()))
		return []*torch.Tensor{ga, gb}, nil
	})
	if err != nil {
		return nil, nil, err
	}
	return res[0], res[1], nil
}

// mustRemoteProduct is remoteProduct that fails the test on error.
func mustRemoteProduct(t *testing.T, a, b *torch.Tensor, calls *int) (u, v *torch.Tensor) {
	t.Helper()
	u, v, err := remoteProduct(a, b, calls)
	if err != nil {
		t.Fatal(err)
	}
	return u, v
}

// ordinaryProduct computes remoteProduct's outputs with recorded ops.
func ordinaryProduct(a, b *torch.Tensor) (u, v *torch.Tensor) { return a.Mul(b), a.Add(b.Sin()) }

// productLoss mixes the outputs non-linearly, so both output gradients matter.
func productLoss(u, v *torch.Tensor) *torch.Tensor {
	return u.Tanh().Mul(p64(5, 1, 2, 3)).Sum().Add(v.Square().Sum())
}

func TestCustomFunctionMatchesOrdinaryOps(t *testing.T) {
	a := p64(7, 0, 2, 3).SetRequiresGrad(true)
	b := p64(3, 4, 2, 3).SetRequiresGrad(true)
	calls := 0
	u, v := mustRemoteProduct(t, a, b, &calls)
	if !u.RequiresGrad() || !v.RequiresGrad() {
		t.Fatal("custom function outputs are not in the graph")
	}
	loss := productLoss(u, v)
	if err := loss.Backward(); err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Errorf("Go backward called %d times, want 1", calls)
	}

	a2 := p64(7, 0, 2, 3).SetRequiresGrad(true)
	b2 := p64(3, 4, 2, 3).SetRequiresGrad(true)
	loss2 := productLoss(ordinaryProduct(a2, b2))
	if err := loss2.Backward(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want *torch.Tensor
	}{{"loss", loss, loss2}, {"a.grad", a.Grad(), a2.Grad()}, {"b.grad", b.Grad(), b2.Grad()}} {
		if err := testutil.Close(testutil.MustValues(t, c.got), testutil.MustValues(t, c.want), 1e-12, 1e-12); err != nil {
			t.Errorf("%s: custom function and ordinary ops differ: %v", c.name, err)
		}
	}
}

func TestCustomFunctionFiniteDifferences(t *testing.T) {
	b := p64(3, 4, 2, 3)
	// As a function of a, with b a constant input that does not require grad.
	gradCheck(t, "custom function", p64(7, 0, 2, 3), func(a *torch.Tensor) *torch.Tensor {
		if !a.RequiresGrad() { // finite-difference evaluations: the plain function
			return productLoss(ordinaryProduct(a, b))
		}
		return productLoss(mustRemoteProduct(t, a, b, nil))
	})
	// And inside a larger graph, through torch.Grad.
	a := p64(7, 0, 2, 3).SetRequiresGrad(true)
	w := p64(5, 2, 3, 2).SetRequiresGrad(true)
	u, v := mustRemoteProduct(t, a.Matmul(w).Matmul(w.T()), b, nil)
	grads, err := torch.Grad([]*torch.Tensor{productLoss(u, v)}, []*torch.Tensor{a, w}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	a2 := p64(7, 0, 2, 3).SetRequiresGrad(true)
	w2 := p64(5, 2, 3, 2).SetRequiresGrad(true)
	want, err := torch.Grad([]*torch.Tensor{productLoss(ordinaryProduct(a2.Matmul(w2).Matmul(w2.T()), b))},
		[]*torch.Tensor{a2, w2}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	for i := range grads {
		if err := testutil.Close(testutil.MustValues(t, grads[i]), testutil.MustValues(t, want[i]), 1e-12, 1e-12); err != nil {
			t.Errorf("grad %d through a custom function inside a graph: %v", i, err)
		}
	}
}

func TestCustomFunctionNilGradient(t *testing.T) {
	a := p(7, 0, 3).SetRequiresGrad(true)
	b := p(5, 1, 3).SetRequiresGrad(true)
	out, err := torch.CustomFunction([]*torch.Tensor{a, b}, []*torch.Tensor{p(3, 0, 3)},
		func(g []*torch.Tensor) ([]*torch.Tensor, error) {
			return []*torch.Tensor{g[0].MulScalar(2), nil}, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if err := out[0].Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	if v := testutil.MustValues(t, a.Grad()); v[0] != 2 || v[1] != 2 || v[2] != 2 {
		t.Errorf("a.grad = %v, want 2s", v)
	}
	if b.Grad() != nil {
		t.Errorf("b got a gradient from a nil result: %v", b.Grad())
	}
}

func TestCustomFunctionWithoutGrad(t *testing.T) {
	called := false
	out, err := torch.CustomFunction([]*torch.Tensor{p(7, 0, 3)}, []*torch.Tensor{p(3, 0, 3)},
		func(g []*torch.Tensor) ([]*torch.Tensor, error) { called = true; return g, nil })
	if err != nil {
		t.Fatal(err)
	}
	if out[0].RequiresGrad() {
		t.Error("output requires grad though no input does")
	}
	if got := testutil.MustValues(t, out[0]); testutil.Close(got, testutil.Pat64([]int64{3}, 3, 0), 0, 0) != nil {
		t.Errorf("output values %v changed", got)
	}
	if err := out[0].Sum().Backward(); err == nil {
		t.Error("backward without any input requiring grad: no error")
	}
	if called {
		t.Error("Go backward called though nothing requires grad")
	}
	if _, err := torch.CustomFunction(nil, nil, nil); err == nil {
		t.Error("custom function without outputs: no error")
	}
	if _, err := torch.CustomFunction([]*torch.Tensor{torch.Errorf("bad input")}, []*torch.Tensor{p(3, 0, 3)}, nil); err == nil {
		t.Error("custom function of a failed input: no error")
	}
}

// failingBackward attaches a custom function whose backward is bw and returns
// the error of back-propagating through it.
func failingBackward(t *testing.T, bw torch.BackwardFunc) error {
	t.Helper()
	x := p(7, 0, 3).SetRequiresGrad(true)
	out, err := torch.CustomFunction([]*torch.Tensor{x}, []*torch.Tensor{p(3, 0, 3)}, bw)
	if err != nil {
		t.Fatal(err)
	}
	err = out[0].Tanh().Sum().Backward()
	if err != nil && x.Grad() != nil {
		t.Errorf("a failed backward left a gradient: %v", x.Grad())
	}
	return err
}

func TestCustomFunctionBackwardFailures(t *testing.T) {
	cases := []struct {
		name string
		bw   torch.BackwardFunc
		want string
	}{
		{"error", func([]*torch.Tensor) ([]*torch.Tensor, error) {
			return nil, errors.New("peer unreachable")
		}, "peer unreachable"},
		{"panic", func([]*torch.Tensor) ([]*torch.Tensor, error) {
			panic("bad peer")
		}, "panicked: bad peer"},
		{"nil dereference", func(g []*torch.Tensor) ([]*torch.Tensor, error) {
			var m map[string]*torch.Tensor
			m["x"] = g[0]
			return nil, nil
		}, "panicked"},
		{"too many gradients", func(g []*torch.Tensor) ([]*torch.Tensor, error) {
			return []*torch.Tensor{g[0], g[0]}, nil
		}, "2 gradients for 1 inputs"},
		{"wrong shape", func(g []*torch.Tensor) ([]*torch.Tensor, error) {
			return []*torch.Tensor{torch.Ones([]int64{4})}, nil
		}, "invalid gradient"},
		{"failed gradient tensor", func(g []*torch.Tensor) ([]*torch.Tensor, error) {
			return []*torch.Tensor{g[0].Matmul(torch.Ones([]int64{5}))}, nil
		}, "gradient 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := failingBackward(t, c.bw)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Backward() = %v, want an error containing %q", err, c.want)
			}
		})
	}
	// After all that, autograd still works.
	x := p(7, 0, 3).SetRequiresGrad(true)
	if err := x.Square().Sum().Backward(); err != nil {
		t.Errorf("backward after failures: %v", err)
	}
}

func TestCustomFunctionConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			a := p64(7, 0, 2, 3).SetRequiresGrad(true)
			b := p64(3, 4, 2, 3).SetRequiresGrad(true)
			u, v, err := remoteProduct(a, b, nil)
			if err == nil {
				err = productLoss(u, v).Backward()
			}
			if err != nil {
				errs <- err
				return
			}
			a2 := p64(7, 0, 2, 3).SetRequiresGrad(true)
			if err := productLoss(ordinaryProduct(a2, b.Detach())).Backward(); err != nil {
				errs <- err
				return
			}
			got, err := testutil.Values(a.Grad())
			if err != nil {
				errs <- err
				return
			}
			want, err := testutil.Values(a2.Grad())
			if err != nil {
				errs <- err
				return
			}
			errs <- testutil.Close(got, want, 1e-12, 1e-12)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestCustomFunctionLeavesOutputsAlone(t *testing.T) {
	// The same output tensor attached by two custom functions (a cached reply,
	// say): each attached copy keeps its own backward.
	shared := p(3, 0, 3)
	a := p(7, 0, 3).SetRequiresGrad(true)
	b := p(7, 0, 3).SetRequiresGrad(true)
	var called []string
	attach := func(in *torch.Tensor, name string) *torch.Tensor {
		out, err := torch.CustomFunction([]*torch.Tensor{in}, []*torch.Tensor{shared},
			func(g []*torch.Tensor) ([]*torch.Tensor, error) {
				called = append(called, name)
				return g, nil
			})
		if err != nil {
			t.Fatal(err)
		}
		return out[0]
	}
	o1 := attach(a, "first")
	if shared.RequiresGrad() {
		t.Error("CustomFunction put the caller's output tensor in the graph")
	}
	_ = attach(b, "second")
	if err := o1.Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	if len(called) != 1 || called[0] != "first" {
		t.Errorf("backward of the first output called %v, want [first]", called)
	}
	if a.Grad() == nil || b.Grad() != nil {
		t.Errorf("gradient went to a: %v, b: %v; want a only", a.Grad() != nil, b.Grad() != nil)
	}
}

func TestCustomFunctionReleasesBackward(t *testing.T) {
	// When the graph goes (its scope closes), the shim releases the Go
	// backward: the closure becomes unreachable and is collected.
	collected := make(chan struct{})
	func() {
		s := torch.NewScope()
		defer s.Close()
		x := s.Track(p(7, 0, 3)).SetRequiresGrad(true)
		state := new([64]byte)
		runtime.AddCleanup(state, func(c chan struct{}) { close(c) }, collected)
		out, err := torch.CustomFunction([]*torch.Tensor{x}, []*torch.Tensor{s.Track(p(3, 0, 3))},
			func(g []*torch.Tensor) ([]*torch.Tensor, error) {
				_ = state[0]
				return g, nil
			})
		if err != nil {
			t.Fatal(err)
		}
		if err := out[0].Sum().Backward(); err != nil {
			t.Fatal(err)
		}
	}()
	eventually.True(t, 5*time.Second, func() bool {
		runtime.GC()
		select {
		case <-collected:
			return true
		default:
			return false
		}
	}, "the custom function's backward released")
}

func TestCustomFunctionUnusedOutputGetsNil(t *testing.T) {
	a := p(7, 0, 3).SetRequiresGrad(true)
	var got []*torch.Tensor
	out, err := torch.CustomFunction([]*torch.Tensor{a}, []*torch.Tensor{p(3, 0, 3), p(5, 0, 3)},
		func(g []*torch.Tensor) ([]*torch.Tensor, error) {
			got = g
			return []*torch.Tensor{g[0].MulScalar(2)}, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if err := out[0].Sum().Backward(); err != nil { // out[1] takes no part in the loss
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] == nil || got[1] != nil {
		t.Fatalf("gradOutputs = %v, want [grad, nil]", got)
	}
	if v := testutil.MustValues(t, a.Grad()); !slices.Equal(v, []float64{2, 2, 2}) {
		t.Errorf("a.grad = %v", v)
	}
}

// TestCustomFunctionOnRelease checks that the OnRelease function runs exactly
// once, when the node goes, on every path: after a backward, with the graph
// freed unused, with autograd off, and when CustomFunction fails.
func TestCustomFunctionOnRelease(t *testing.T) {
	identity := func(g []*torch.Tensor) ([]*torch.Tensor, error) { return g, nil }
	cases := map[string]struct {
		run         func(s *torch.Scope, release torch.CustomOption)
		beforeClose int // releases seen before the scope closes
	}{
		"after backward": {run: func(s *torch.Scope, release torch.CustomOption) {
			x := s.Track(p(7, 0, 3)).SetRequiresGrad(true)
			out, err := torch.CustomFunction([]*torch.Tensor{x}, []*torch.Tensor{s.Track(p(3, 0, 3))}, identity, release)
			if err != nil {
				t.Fatal(err)
			}
			if err := out[0].Sum().Backward(); err != nil {
				t.Fatal(err)
			}
		}},
		"no backward": {run: func(s *torch.Scope, release torch.CustomOption) {
			x := s.Track(p(7, 0, 3)).SetRequiresGrad(true)
			if _, err := torch.CustomFunction([]*torch.Tensor{x}, []*torch.Tensor{s.Track(p(3, 0, 3))}, identity, release); err != nil {
				t.Fatal(err)
			}
		}},
		"autograd off": {beforeClose: 1, run: func(s *torch.Scope, release torch.CustomOption) {
			x := s.Track(p(7, 0, 3)).SetRequiresGrad(true)
			torch.NoGrad(func() {
				if _, err := torch.CustomFunction([]*torch.Tensor{x}, []*torch.Tensor{s.Track(p(3, 0, 3))}, identity, release); err != nil {
					t.Fatal(err)
				}
			})
		}},
		"no outputs": {beforeClose: 1, run: func(s *torch.Scope, release torch.CustomOption) {
			if _, err := torch.CustomFunction(nil, nil, identity, release); err == nil {
				t.Fatal("no error for a custom function without outputs")
			}
		}},
		"freed input": {beforeClose: 1, run: func(s *torch.Scope, release torch.CustomOption) {
			x := p(7, 0, 3)
			x.Free()
			if _, err := torch.CustomFunction([]*torch.Tensor{x}, []*torch.Tensor{s.Track(p(3, 0, 3))}, identity, release); err == nil {
				t.Fatal("no error for a freed input")
			}
		}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			var released atomic.Int32
			s := torch.NewScope()
			c.run(s, torch.OnRelease(func() { released.Add(1) }))
			if n := int(released.Load()); n != c.beforeClose {
				t.Errorf("released %d times before the graph went, want %d", n, c.beforeClose)
			}
			s.Close()
			if n := released.Load(); n != 1 {
				t.Errorf("released %d times in all, want 1", n)
			}
		})
	}
}
