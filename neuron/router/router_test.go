package router

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/opentensor/bittensor-go/neuron/internal/fixture"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
)

func newTestRouter(t *testing.T, xDim, keyDim, topK int, opts ...Option) *Router {
	t.Helper()
	torch.ManualSeed(7)
	r, err := New(xDim, keyDim, topK, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The gates of each example sum to 1 over exactly min(k, n) synapses, are 0
// elsewhere, and equal the softmax of the top-k scores computed by hand.
func TestRouterGates(t *testing.T) {
	const batch, xDim, keyDim, topK = 5, 6, 4, 3
	for _, n := range []int{1, 2, 3, 7} {
		t.Run(fmt.Sprint("n=", n), func(t *testing.T) {
			r := newTestRouter(t, xDim, keyDim, topK)
			s := torch.NewScope()
			defer s.Close()
			context := s.Track(torch.Randn([]int64{batch, xDim}))
			inputs := s.Track(torch.Randn([]int64{batch, 2}))
			d, err := r.Route(fixture.Synapses(n), context, inputs)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if got := d.Scores.Shape(); !slices.Equal(got, []int64{batch, int64(n)}) {
				t.Fatalf("scores shape %v, want [%d %d]", got, batch, n)
			}
			gates := fixture.Floats(t, d.Scores)
			want := handGates(t, r, context, n, topK)
			k := min(topK, n)
			for b := range batch {
				row := gates[b*n : (b+1)*n]
				nonzero, sum := 0, 0.0
				for j, g := range row {
					if g != 0 {
						nonzero++
					}
					sum += float64(g)
					if math.Abs(float64(g)-want[b*n+j]) > 1e-5 {
						t.Errorf("example %d synapse %d: gate %v, by hand %v", b, j, g, want[b*n+j])
					}
				}
				if nonzero != k || math.Abs(sum-1) > 1e-5 {
					t.Errorf("example %d: %d non-zero gates summing to %v, want %d summing to 1", b, nonzero, sum, k)
				}
			}
		})
	}
}

// handGates computes the gates in Go from the router's parameters: the
// softmax over each example's top k scores, 0 for the rest.
func handGates(t *testing.T, r *Router, context *torch.Tensor, n, k int) []float64 {
	t.Helper()
	x, w, bias, keys := fixture.Floats(t, context), fixture.Floats(t, r.query.Weight), fixture.Floats(t, r.query.Bias), fixture.Floats(t, r.keys)
	batch := len(x) / r.xDim
	out := make([]float64, batch*n)
	for b := range batch {
		scores := make([]float64, n)
		for j := range n {
			row := r.slots[RouteKey(fixture.Synapses(n)[j])]
			for q := range r.keyDim {
				v := float64(bias[q])
				for i := range r.xDim {
					v += float64(w[q*r.xDim+i]) * float64(x[b*r.xDim+i])
				}
				scores[j] += v * float64(keys[row*r.keyDim+q])
			}
		}
		order := make([]int, n)
		for j := range order {
			order[j] = j
		}
		slices.SortFunc(order, func(a, c int) int { return -cmpFloat(scores[a], scores[c]) })
		kk := min(k, n)
		maxScore, total := scores[order[0]], 0.0
		for _, j := range order[:kk] {
			total += math.Exp(scores[j] - maxScore)
		}
		for _, j := range order[:kk] {
			out[b*n+j] = math.Exp(scores[j]-maxScore) / total
		}
	}
	return out
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Each request holds exactly the examples whose gate for that synapse is
// non-zero, and joining identity responses gives the inputs back (the
// gates of an example sum to 1).
func TestRouterDispatchJoinRoundTrip(t *testing.T) {
	const batch, xDim, n, topK = 8, 5, 4, 2
	r := newTestRouter(t, xDim, 3, topK)
	s := torch.NewScope()
	defer s.Close()
	context := s.Track(torch.Randn([]int64{batch, xDim}))
	inputs := s.Track(torch.Arange(0, batch*3, 1, torch.WithDType(torch.Float32)).Reshape(batch, 3))
	synapses := fixture.Synapses(n)
	d, err := r.Route(synapses, context, inputs)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	gates := fixture.Floats(t, d.Scores)
	if len(d.Synapses) != len(d.Requests) || len(d.Synapses) == 0 {
		t.Fatalf("%d synapses and %d requests", len(d.Synapses), len(d.Requests))
	}
	total := 0
	for i, syn := range d.Synapses {
		j := slices.Index(synapses, syn)
		var want []float32
		for b := range batch {
			if gates[b*n+j] != 0 {
				want = append(want, float32(3*b), float32(3*b+1), float32(3*b+2))
			}
		}
		if got := fixture.Floats(t, d.Requests[i]); !slices.Equal(got, want) {
			t.Errorf("request to synapse %d holds %v, want the rows %v", j, got, want)
		}
		total += int(d.Requests[i].Size(0))
	}
	if total != batch*topK {
		t.Errorf("%d rows sent in all, want batch×k = %d", total, batch*topK)
	}
	joined, err := d.Join(d.Requests)
	if err != nil {
		t.Fatal(err)
	}
	got, want := fixture.Floats(t, joined), fixture.Floats(t, inputs)
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-4 {
			t.Fatalf("join(route(x)) = %v, want x = %v", got, want)
		}
	}
}

// Gradients of a joined answer reach the query projection, the keys of the
// synapses in use (and no other), and the responses, weighted by the gates.
func TestRouterGradients(t *testing.T) {
	const batch, xDim, n, topK = 6, 4, 3, 2
	r := newTestRouter(t, xDim, 3, topK, WithCapacity(5))
	s := torch.NewScope()
	defer s.Close()
	context := s.Track(torch.Randn([]int64{batch, xDim}))
	inputs := s.Track(torch.Randn([]int64{batch, 2}))
	synapses := fixture.Synapses(n)
	d, err := r.Route(synapses, context, inputs)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	responses := make([]*torch.Tensor, len(d.Requests))
	for i, req := range d.Requests {
		// A different constant answer per synapse, so the mix depends on the gates.
		responses[i] = s.Track(torch.Full([]int64{req.Size(0), 2}, float64(i+1))).SetRequiresGrad(true)
	}
	joined, err := d.Join(responses)
	if err != nil {
		t.Fatal(err)
	}
	if err := joined.Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]*torch.Tensor{"weight": r.query.Weight, "bias": r.query.Bias} {
		if g := p.Grad(); g == nil || maxAbs(fixture.Floats(t, g)) == 0 {
			t.Errorf("%s got no gradient", name)
		}
	}
	keyGrad := fixture.Floats(t, r.keys.Grad())
	for row := range 5 {
		used := slices.ContainsFunc(d.Synapses, func(s *bittensorpb.Synapse) bool {
			slot, ok := r.slots[RouteKey(s)]
			return ok && slot == row
		})
		if got := maxAbs(keyGrad[row*3 : row*3+3]); (got != 0) != used {
			t.Errorf("key row %d: gradient magnitude %v, synapse in use: %v", row, got, used)
		}
	}
	gates := fixture.Floats(t, d.Scores)
	for i, resp := range responses {
		j := slices.Index(synapses, d.Synapses[i])
		var want []float32
		for b := range batch {
			if g := gates[b*n+j]; g != 0 {
				want = append(want, g, g)
			}
		}
		got := fixture.Floats(t, resp.Grad())
		for k := range want {
			if math.Abs(float64(got[k]-want[k])) > 1e-5 {
				t.Fatalf("response %d gradient %v, want its gates %v", i, got, want)
			}
		}
	}
}

func maxAbs(v []float32) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, math.Abs(float64(x)))
	}
	return m
}

// Keys are kept per synapse across calls; when all rows are taken the row
// seen longest ago is recycled with fresh values.
func TestRouterKeySlots(t *testing.T) {
	r := newTestRouter(t, 2, 2, 1, WithCapacity(2))
	s := torch.NewScope()
	defer s.Close()
	context := s.Track(torch.Randn([]int64{1, 2}))
	route := func(syns ...*bittensorpb.Synapse) error {
		d, err := r.Route(syns, context, context)
		if err == nil {
			d.Close()
		}
		return err
	}
	all := fixture.Synapses(4)
	if err := route(all[0], all[1]); err != nil {
		t.Fatal(err)
	}
	row0, row1 := r.slots[RouteKey(all[0])], r.slots[RouteKey(all[1])]
	key1 := slices.Clone(fixture.Floats(t, r.keys)[row1*2 : row1*2+2])
	if err := route(all[1]); err != nil {
		t.Fatal(err)
	}
	if err := route(all[2]); err != nil { // recycles all[0]'s row, seen longest ago
		t.Fatal(err)
	}
	if _, ok := r.slots[RouteKey(all[0])]; ok || r.slots[RouteKey(all[2])] != row0 {
		t.Fatalf("slots %v: want synapse 2 in synapse 0's row %d", r.slots, row0)
	}
	if got := fixture.Floats(t, r.keys)[row1*2 : row1*2+2]; !slices.Equal(got, key1) {
		t.Fatalf("synapse 1's key changed from %v to %v", key1, got)
	}
	if err := route(all[0], all[1], all[2]); err == nil {
		t.Fatal("3 synapses routed with capacity 2")
	}
	if err := route(all[3], all[3]); err == nil {
		t.Fatal("a synapse listed twice was routed")
	}
}

func TestRouterRejectsBadInput(t *testing.T) {
	r := newTestRouter(t, 3, 2, 2)
	s := torch.NewScope()
	defer s.Close()
	good := s.Track(torch.Randn([]int64{4, 3}))
	cases := map[string]func() error{
		"no synapses": func() error { _, err := r.Route(nil, good, good); return err },
		"context width": func() error {
			_, err := r.Route(fixture.Synapses(2), s.Track(torch.Randn([]int64{4, 5})), good)
			return err
		},
		"inputs batch": func() error {
			_, err := r.Route(fixture.Synapses(2), good, s.Track(torch.Randn([]int64{3, 3})))
			return err
		},
		"context error":  func() error { _, err := r.Route(fixture.Synapses(2), good.Matmul(good), good); return err },
		"bad dimensions": func() error { _, err := New(0, 2, 1); return err },
	}
	for name, f := range cases {
		if err := f(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	d, err := r.Route(fixture.Synapses(2), good, good)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Join(nil); err == nil {
		t.Error("join of no responses accepted")
	}
	wrong := make([]*torch.Tensor, len(d.Requests))
	for i := range wrong {
		wrong[i] = s.Track(torch.Zeros([]int64{99, 3}))
	}
	if _, err := d.Join(wrong); err == nil {
		t.Error("join of responses with the wrong number of rows accepted")
	}
}
