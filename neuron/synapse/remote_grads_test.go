package synapse_test

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/opentensor/bittensor-go/neuron/synapse"

	"github.com/opentensor/bittensor-go/neuron/internal/fixture"

	"github.com/opentensor/bittensor-go/torch"
)

// newTestRemoteGrads returns a collector for two parameters, [2] and [1],
// on a clock the test moves.
func newTestRemoteGrads(t *testing.T, cfg synapse.RemoteGradConfig) (*synapse.RemoteGrads, []*torch.Tensor, *time.Time) {
	t.Helper()
	params := []*torch.Tensor{
		torch.FromFloat32([]float32{1, 1}, 2).SetRequiresGrad(true),
		torch.FromFloat32([]float32{1}, 1).SetRequiresGrad(true),
	}
	now := time.Unix(1000, 0)
	cfg.Now = func() time.Time { return now }
	r, err := synapse.NewRemoteGrads(params, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r, params, &now
}

func grads(a, b float32) []*torch.Tensor {
	return []*torch.Tensor{torch.FromFloat32([]float32{a, b}, 2), torch.FromFloat32([]float32{0}, 1)}
}

func gradOf(t *testing.T, p *torch.Tensor) []float32 {
	t.Helper()
	g := p.Grad()
	if g == nil {
		return nil
	}
	v, err := g.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Each caller's gradients between two steps are clipped together to
// MaxNorm, and a step applies Weight times the mean over callers.
func TestRemoteGradsClipPerCallerAndAverage(t *testing.T) {
	cfg := synapse.DefaultRemoteGradConfig()
	cfg.Weight, cfg.MaxNorm = 2, 1
	r, params, _ := newTestRemoteGrads(t, cfg)
	// Caller a sends (0.3, 0.4) (norm 0.5) and then (3, 4) (norm 5): the
	// second is clipped to what is left of a's budget, norm 0.5.
	for _, g := range [][]*torch.Tensor{grads(0.3, 0.4), grads(3, 4)} {
		if err := r.Add("a", g); err != nil {
			t.Fatal(err)
		}
	}
	// Caller a's budget is spent: this adds nothing.
	if err := r.Add("a", grads(100, 0)); err != nil {
		t.Fatal(err)
	}
	// Caller b sends (0, 0.5), within its own budget.
	if err := r.Add("b", grads(0, 0.5)); err != nil {
		t.Fatal(err)
	}
	if params[0].Grad() != nil {
		t.Fatal("Add changed a parameter's gradient before the step")
	}
	n, err := r.Apply()
	if err != nil || n != 2 {
		t.Fatalf("Apply = %d, %v; want 2 callers", n, err)
	}
	// a: (0.6, 0.8); b: (0, 0.5); mean (0.3, 0.65); times 2.
	if got := gradOf(t, params[0]); !fixture.Near(got, []float32{0.6, 1.3}) {
		t.Fatalf("applied gradient %v, want [0.6 1.3]", got)
	}
	st := r.Stats()
	if st.Accepted != 3 || st.Clipped != 1 || st.Dropped != 1 || st.Steps != 1 || st.Callers != 2 {
		t.Fatalf("stats %+v", st)
	}
	// The budgets start afresh after a step, and the sums are empty.
	if err := r.Add("a", grads(0.3, 0.4)); err != nil {
		t.Fatal(err)
	}
	if n, err := r.Apply(); err != nil || n != 1 {
		t.Fatalf("second Apply = %d, %v; want 1 caller", n, err)
	}
	if got := gradOf(t, params[0]); !fixture.Near(got, []float32{1.2, 2.1}) {
		t.Fatalf("after the second step the gradient is %v, want [1.2 2.1]", got)
	}
}

// A clipped first gradient is scaled when it is applied alone, and before
// another caller's is added to it; the gradient the caller gave is not
// changed by the clipping.
func TestRemoteGradsScaleAClippedFirstGradient(t *testing.T) {
	cfg := synapse.DefaultRemoteGradConfig()
	cfg.MaxNorm = 1
	r, params, _ := newTestRemoteGrads(t, cfg)
	first := grads(3, 4) // norm 5, clipped to 1: (0.6, 0.8)
	if err := r.Add("a", first); err != nil {
		t.Fatal(err)
	}
	if n, err := r.Apply(); err != nil || n != 1 {
		t.Fatalf("Apply = %d, %v; want 1 caller", n, err)
	}
	if got := gradOf(t, params[0]); !fixture.Near(got, []float32{0.6, 0.8}) {
		t.Fatalf("applied gradient %v, want [0.6 0.8]", got)
	}
	if v, err := first[0].Float32s(); err != nil || !fixture.Near(v, []float32{3, 4}) {
		t.Fatalf("the caller's gradient became %v (%v), want it unchanged", v, err)
	}
	// Now a clipped first caller, then an unclipped second one.
	if err := r.Add("a", grads(0, 10)); err != nil { // clipped to (0, 1)
		t.Fatal(err)
	}
	if err := r.Add("b", grads(0.5, 0)); err != nil {
		t.Fatal(err)
	}
	if n, err := r.Apply(); err != nil || n != 2 {
		t.Fatalf("second Apply = %d, %v; want 2 callers", n, err)
	}
	// (0.6, 0.8) from the first step plus the mean of (0, 1) and (0.5, 0).
	if got := gradOf(t, params[0]); !fixture.Near(got, []float32{0.85, 1.3}) {
		t.Fatalf("after the second step the gradient is %v, want [0.85 1.3]", got)
	}
}

// A gradient holding NaN or an infinity is refused and trains nothing.
func TestRemoteGradsRefuseNonFinite(t *testing.T) {
	r, params, _ := newTestRemoteGrads(t, synapse.DefaultRemoteGradConfig())
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(-1))} {
		if err := r.Add("a", grads(bad, 0)); !errors.Is(err, synapse.ErrGradientNotFinite) {
			t.Fatalf("Add of %v: %v, want ErrGradientNotFinite", bad, err)
		}
	}
	if n, err := r.Apply(); n != 0 || err != nil || params[0].Grad() != nil {
		t.Fatalf("Apply after refused gradients = %d, %v, gradient %v", n, err, gradOf(t, params[0]))
	}
	if st := r.Stats(); st.Refused != 2 || st.Accepted != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// Gradients that waited longer than MaxAge are dropped at the step.
func TestRemoteGradsDropStale(t *testing.T) {
	cfg := synapse.DefaultRemoteGradConfig()
	cfg.MaxAge = time.Second
	r, params, now := newTestRemoteGrads(t, cfg)
	if err := r.Add("a", grads(0.1, 0)); err != nil {
		t.Fatal(err)
	}
	*now = now.Add(2 * time.Second)
	if n, err := r.Apply(); n != 0 || err != nil || params[0].Grad() != nil {
		t.Fatalf("Apply of stale gradients = %d, %v, gradient %v", n, err, gradOf(t, params[0]))
	}
	if err := r.Add("a", grads(0.1, 0)); err != nil {
		t.Fatal(err)
	}
	if n, err := r.Apply(); n != 1 || err != nil || !fixture.Near(gradOf(t, params[0]), []float32{0.1, 0}) {
		t.Fatalf("Apply of fresh gradients = %d, %v, gradient %v", n, err, gradOf(t, params[0]))
	}
}

// Callers past MaxCallers, and every caller while learning is switched off,
// are dropped; switched off, Parameters is nil so the Axon computes nothing.
func TestRemoteGradsBounds(t *testing.T) {
	cfg := synapse.DefaultRemoteGradConfig()
	cfg.MaxCallers = 2
	r, params, _ := newTestRemoteGrads(t, cfg)
	for _, c := range []string{"a", "b", "c"} {
		if err := r.Add(c, grads(0.3, 0)); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := r.Apply(); n != 2 {
		t.Fatalf("applied %d callers, want MaxCallers = 2", n)
	}
	if !slices.Equal(r.Parameters(), params) {
		t.Fatal("Parameters while enabled are not the parameters")
	}
	cfg.Enabled = false
	if err := r.Configure(cfg); err != nil {
		t.Fatal(err)
	}
	if r.Parameters() != nil {
		t.Fatal("Parameters while switched off are not nil")
	}
	if err := r.Add("a", grads(0.3, 0)); err != nil {
		t.Fatal(err)
	}
	if n, _ := r.Apply(); n != 0 {
		t.Fatalf("switched off, a step applied %d callers", n)
	}
	for _, bad := range []synapse.RemoteGradConfig{
		{Weight: -1, MaxNorm: 1, MaxAge: time.Second, MaxCallers: 1},
		{Weight: 1, MaxNorm: 0, MaxAge: time.Second, MaxCallers: 1},
		{Weight: 1, MaxNorm: math.Inf(1), MaxAge: time.Second, MaxCallers: 1},
		{Weight: 1, MaxNorm: 1, MaxAge: 0, MaxCallers: 1},
		{Weight: 1, MaxNorm: 1, MaxAge: time.Second, MaxCallers: 0},
	} {
		if err := r.Configure(bad); err == nil {
			t.Errorf("Configure(%+v) succeeded", bad)
		}
	}
}
