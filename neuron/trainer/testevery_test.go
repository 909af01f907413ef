package trainer_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"iter"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/opentensor/bittensor-go/neuron/internal/fixture"
	"github.com/opentensor/bittensor-go/neuron/internal/neurontest"
	"github.com/opentensor/bittensor-go/neuron/trainer"

	"github.com/rs/zerolog"

	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
)

// fixedBatches is a tiny dataset whose batches are the same on every pass
// (drawn from a Go generator seeded by epoch and index, never from torch's),
// so two trainings that see it differ only by what the trainer does.
type fixedBatches struct{ n int }

func (b fixedBatches) Len() int      { return b.n }
func (b fixedBatches) Examples() int { return 8 * b.n }

func (b fixedBatches) Epoch(ctx context.Context, e int) iter.Seq[trainer.Batch] {
	return func(yield func(trainer.Batch) bool) {
		for i := range b.n {
			if ctx.Err() != nil {
				return
			}
			r := rand.New(rand.NewPCG(uint64(e), uint64(i)))
			x := make([]float32, 8*fixture.TinyIn)
			y := make([]int64, 8)
			for j := range x {
				x[j] = float32(r.NormFloat64())
			}
			for j := range y {
				if x[j*fixture.TinyIn] > 0 {
					y[j] = 1
				}
			}
			if !yield(trainer.Batch{Inputs: torch.FromFloat32(x, 8, fixture.TinyIn), Targets: torch.FromInt64(y, 8)}) {
				return
			}
		}
	}
}

// trainLogged trains a lone tinyModel neuron (torch seed 5) for two epochs
// of five batches, testing every testEvery steps, and returns its "Test
// Step" log lines and its final parameters.
func trainLogged(t *testing.T, testEvery int) (steps []int, accuracies [][2]float64, params map[string][]float32) {
	t.Helper()
	torch.ManualSeed(5)
	var log bytes.Buffer
	cfg := neurontest.Config()
	cfg.Epochs, cfg.TestEvery, cfg.Log = 2, testEvery, zerolog.New(&log)
	tr, _, _ := neurontest.StartTinyNeuron(t, cfg)
	if err := tr.Train(context.Background(), fixedBatches{n: 5}, fixedBatches{n: 3}); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&log)
	for sc.Scan() {
		var l struct {
			Message         string  `json:"message"`
			Step            int     `json:"step"`
			LocalAccuracy   float64 `json:"local_accuracy"`
			NetworkAccuracy float64 `json:"network_accuracy"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if strings.HasPrefix(l.Message, "Test Step:") {
			steps = append(steps, l.Step)
			accuracies = append(accuracies, [2]float64{l.LocalAccuracy, l.NetworkAccuracy})
		}
	}
	params = map[string][]float32{}
	for name, w := range nn.StateDict(tr.TrainedModel()) {
		params[name] = fixture.Floats(t, w)
	}
	return steps, accuracies, params
}

// With TestEvery the trainer tests every so many steps, counting across
// epochs, and logs each result with its step; the test passes change
// nothing the training sees.
func TestTrainerTestsEveryNSteps(t *testing.T) {
	steps, accuracies, tested := trainLogged(t, 3)
	if want := []int{3, 6, 9}; !slices.Equal(steps, want) {
		t.Fatalf("Test Step lines at steps %v, want %v", steps, want)
	}
	for i, a := range accuracies {
		for _, v := range a {
			if !(v >= 0 && v <= 1) {
				t.Errorf("step %d: accuracies %v, want fractions in [0, 1]", steps[i], a)
			}
		}
	}
	none, _, untested := trainLogged(t, 0)
	if len(none) != 0 {
		t.Fatalf("TestEvery 0 logged Test Step lines at %v", none)
	}
	for name, w := range untested {
		if !slices.Equal(w, tested[name]) {
			t.Errorf("%s differs between training with and without test passes", name)
		}
	}
}
