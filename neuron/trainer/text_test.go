package trainer

import (
	"fmt"
	"testing"

	"github.com/opentensor/bittensor-go/neuron/internal/fixture"
	"github.com/opentensor/bittensor-go/neuron/router"

	"github.com/opentensor/bittensor-go/torch"
)

// A TEXT step sends each routed synapse the strings of exactly the rows
// its tensor request holds, in the same order.
func TestTextRequestsFollowTheRouting(t *testing.T) {
	torch.ManualSeed(3)
	r, err := router.New(4, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	const batch = 6
	rows := make([]float32, batch)
	text := make([]string, batch)
	for i := range rows {
		rows[i], text[i] = float32(i), fmt.Sprintf("example %d", i)
	}
	d, err := r.Route(fixture.Synapses(3), torch.Randn([]int64{batch, 4}), torch.FromFloat32(rows, batch, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	got, err := textRequests(d, text)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for i, req := range d.Requests {
		idx, err := req.Float32s()
		if err != nil {
			t.Fatal(err)
		}
		if len(got[i]) != len(idx) {
			t.Fatalf("synapse %d gets %d strings for %d rows", i, len(got[i]), len(idx))
		}
		for j, v := range idx {
			if want := text[int(v)]; got[i][j] != want {
				t.Errorf("synapse %d string %d is %q, want %q", i, j, got[i][j], want)
			}
		}
		total += len(idx)
	}
	if total != batch*2 {
		t.Errorf("%d strings sent, want %d (each example to its top 2)", total, batch*2)
	}
	if _, err := textRequests(d, text[:5]); err == nil {
		t.Error("5 strings for a batch of 6 accepted")
	}
}
