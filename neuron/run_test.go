package neuron_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/opentensor/bittensor-go/internal/testing/logtest"
	"github.com/opentensor/bittensor-go/neuron"
	"github.com/opentensor/bittensor-go/neuron/synapse"
	"github.com/opentensor/bittensor-go/neuron/trainer"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
)

func signSpec() neuron.Spec {
	return neuron.Spec{
		Name: "sign", Modality: bittensorpb.Modality_TENSOR, OutputDim: width, NewModel: newSignModel,
		Data: func(_ context.Context, cfg neuron.Config, seed uint64) (train, test trainer.Batches, err error) {
			x, y := signData(2048)
			if train, err = trainer.NewTensorBatches(x, y, cfg.BatchSize, true, seed); err != nil {
				return nil, nil, err
			}
			x, y = signData(512)
			test, err = trainer.NewTensorBatches(x, y, cfg.BatchSize, false, 0)
			return train, test, err
		},
	}
}

// Run makes a model of one's own a neuron that learns its task, announces
// what it serves, routes to its own synapse and checkpoints.
func TestRunLearnsOwnModel(t *testing.T) {
	logs := &logtest.Buffer{}
	cfg := neuron.DefaultConfig()
	cfg.Epochs, cfg.BatchSize, cfg.LogDir, cfg.Seed, cfg.LogInterval = 2, 32, t.TempDir(), 3, 1
	cfg.Log = zerolog.New(logs)
	if err := neuron.Run(context.Background(), cfg, signSpec()); err != nil {
		t.Fatal(err)
	}
	tests := logs.Messages(t, "Test Epoch")
	if len(tests) != 2 {
		t.Fatalf("%d test lines, want 2", len(tests))
	}
	if acc, _ := tests[1]["network_accuracy"].(float64); acc < 0.9 {
		t.Errorf("network accuracy %.3f after 2 epochs, want >= 0.9", acc)
	}
	started := logs.Messages(t, "neuron started")
	if len(started) != 1 {
		t.Fatalf("%d start lines", len(started))
	}
	own, _ := started[0]["synapse_keys"].([]any)
	if len(own) != 1 {
		t.Fatalf("start line lists synapses %v, want one", started[0]["synapse_keys"])
	}
	for _, l := range logs.Messages(t, "Train Epoch") {
		if routed, _ := l["routed"].([]any); len(routed) != 1 || !strings.HasPrefix(own[0].(string), routed[0].(string)) {
			t.Fatalf("a lone neuron routed to %v, want its own synapse %v", l["routed"], own[0])
		}
	}
	if m, _ := filepath.Glob(filepath.Join(cfg.LogDir, "sign-*", trainer.BestCheckpoint)); len(m) != 1 {
		t.Fatalf("checkpoints %v, want one best.ckpt under sign-<key>", m)
	}
}

func TestRunRefusesBadSpecs(t *testing.T) {
	cfg := neuron.DefaultConfig()
	cfg.LogDir = t.TempDir()
	for name, change := range map[string]func(*neuron.Spec){
		"no name":       func(s *neuron.Spec) { s.Name = "" },
		"text modality": func(s *neuron.Spec) { s.Modality = bittensorpb.Modality_TEXT },
		"no width":      func(s *neuron.Spec) { s.OutputDim = 0 },
		"no model":      func(s *neuron.Spec) { s.NewModel = nil },
		"no data":       func(s *neuron.Spec) { s.Data = nil },
		"router":        func(s *neuron.Spec) { s.RouterTopK = -1 },
	} {
		spec := signSpec()
		change(&spec)
		if err := neuron.Run(context.Background(), cfg, spec); err == nil {
			t.Errorf("%s: Run started", name)
		}
	}
	spec := signSpec()
	spec.NewModel = func() (synapse.Model, error) { return nil, errors.New("no such model") }
	if err := neuron.Run(context.Background(), cfg, spec); err == nil || !strings.Contains(err.Error(), "no such model") {
		t.Errorf("failing NewModel: %v", err)
	}
}

func TestTensorBatches(t *testing.T) {
	x := torch.FromFloat32([]float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 5, 2)
	y := torch.FromInt64([]int64{0, 1, 2, 3, 4})
	b, err := trainer.NewTensorBatches(x, y, 2, true, 9)
	if err != nil {
		t.Fatal(err)
	}
	if b.Len() != 3 || b.Examples() != 5 {
		t.Fatalf("Len %d, Examples %d; want 3 and 5", b.Len(), b.Examples())
	}
	epoch := func(e int) (sizes []int64, order []int64) {
		for batch := range b.Epoch(context.Background(), e) {
			xs, err := batch.Inputs.Float32s()
			if err != nil {
				t.Fatal(err)
			}
			ys, err := batch.Targets.Int64s()
			if err != nil {
				t.Fatal(err)
			}
			for i, label := range ys {
				if xs[2*i] != float32(2*label) || xs[2*i+1] != float32(2*label+1) {
					t.Fatalf("example %d: inputs %v, label %d: rows do not match", i, xs[2*i:2*i+2], label)
				}
			}
			sizes = append(sizes, batch.Inputs.Size(0))
			order = append(order, ys...)
		}
		return sizes, order
	}
	sizes, first := epoch(0)
	if !slices.Equal(sizes, []int64{2, 2, 1}) {
		t.Fatalf("batch sizes %v, want [2 2 1]", sizes)
	}
	if sorted := slices.Sorted(slices.Values(first)); !slices.Equal(sorted, []int64{0, 1, 2, 3, 4}) {
		t.Fatalf("epoch 0 visits %v, want each example once", first)
	}
	if _, again := epoch(0); !slices.Equal(again, first) {
		t.Fatalf("epoch 0 twice: %v then %v, want the same order", first, again)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range b.Epoch(ctx, 1) {
		t.Fatal("a batch after the context ended")
	}
	for name, f := range map[string]func() error{
		"batch size 0": func() error { _, err := trainer.NewTensorBatches(x, y, 0, false, 0); return err },
		"mismatch": func() error {
			_, err := trainer.NewTensorBatches(x, torch.FromInt64([]int64{1}), 2, false, 0)
			return err
		},
	} {
		if f() == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
