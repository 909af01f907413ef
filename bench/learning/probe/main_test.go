package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/opentensor/bittensor-go/examples/mnist"
	"github.com/opentensor/bittensor-go/neuron/router"
	"github.com/opentensor/bittensor-go/neuron/trainer"
	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
	"github.com/opentensor/bittensor-go/torch/optim"
)

// writeCheckpoint saves a fresh model and router under the names a
// Trainer's checkpoint uses, with the router rows owned as owners lists.
func writeCheckpoint(t *testing.T, path string, o mnist.ModelOptions, owners []string) {
	t.Helper()
	m := mnist.NewModelWith(o)
	r, err := router.New(mnist.ContextDim, 100, 10)
	if err != nil {
		t.Fatal(err)
	}
	rows := make([]string, router.DefaultCapacity)
	copy(rows, owners)
	ts := map[string]*torch.Tensor{"meta.router_slots": torch.FromUint8([]byte(strings.Join(rows, "\n")))}
	for name, v := range nn.StateDict(m) {
		ts["model."+name] = v
	}
	for name, v := range nn.StateDict(r) {
		ts["router."+name] = v
	}
	opt, err := optim.NewSGD(append(nn.Parameters(m), nn.Parameters(r)...), optim.SGDOptions{LR: 0.01, Momentum: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	defer opt.Close()
	if err := optim.SaveCheckpoint(path, ts, opt); err != nil {
		t.Fatal(err)
	}
}

func TestProbeBatchCountsEveryContext(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.ckpt"), filepath.Join(dir, "b.ckpt")
	// A neuron of the seed's model and one with the context read-out.
	writeCheckpoint(t, a, mnist.ModelOptions{}, []string{"aaaa/s1", "bbbb/s2"})
	writeCheckpoint(t, b, mnist.ModelOptions{ContextReadout: true}, []string{"bbbb/s2", "aaaa/s1"})
	self, err := load(a)
	if err != nil {
		t.Fatal(err)
	}
	peer, err := load(b)
	if err != nil {
		t.Fatal(err)
	}
	rowA, errA := self.row("aaaa")
	rowB, errB := self.row("bbbb")
	if errA != nil || errB != nil || rowA != 0 || rowB != 1 {
		t.Fatalf("rows %d, %d (%v, %v), want 0 and 1", rowA, rowB, errA, errB)
	}
	if _, err := self.row("cccc"); err == nil {
		t.Error("a neuron without a router row: no error")
	}
	const batch = 8
	x := torch.Rand([]int64{batch, 1, mnist.Rows, mnist.Cols})
	y := torch.FromInt64([]int64{0, 1, 2, 3, 4, 5, 6, 7})
	// local, router, own, peer, equal
	right, gates := make([]float64, 5), make([]float64, 2)
	torch.NoGrad(func() {
		err = probeBatch(self, []*loaded{self, peer}, []int64{rowA, rowB}, trainer.Batch{Inputs: x, Targets: y}, right, gates)
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range right {
		if r < 0 || r > batch {
			t.Errorf("context %d: %v right of %d", i, r, batch)
		}
	}
	if sum := gates[0] + gates[1]; sum < batch-1e-3 || sum > batch+1e-3 {
		t.Errorf("gates sum to %v over %d examples, want %d", sum, batch, batch)
	}
}

func TestLoadRefusesOtherFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.ckpt")
	if err := torch.Save(path, map[string]*torch.Tensor{"x": torch.Zeros([]int64{2})}); err != nil {
		t.Fatal(err)
	}
	if _, err := load(path); err == nil {
		t.Error("a file without the model's tensors: no error")
	}
}
