package bert

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opentensor/bittensor-go/examples/internal/runtest"
	"github.com/opentensor/bittensor-go/internal/testing/logtest"
	"github.com/opentensor/bittensor-go/neuron"
	"github.com/opentensor/bittensor-go/neuron/trainer"
)

// writeCorpus writes a small corpus: 20 paragraphs of three sentences.
func writeCorpus(t *testing.T) string {
	dir := t.TempDir()
	var b strings.Builder
	for i := range 20 {
		fmt.Fprintf(&b, "The %d fox runs fast. It jumps over dog %d. Then it sleeps.\n\n", i, i)
	}
	writeFile(t, filepath.Join(dir, "corpus.txt"), b.String())
	return dir
}

// runConfig returns the settings of a test run: one epoch of batches of 8.
func runConfig(data, logdir string, log *logtest.Buffer) neuron.Config {
	cfg := runtest.Config(data, logdir, log)
	cfg.Epochs, cfg.BatchSize, cfg.Seed = 1, 8, 3
	return cfg
}

// A BERT neuron trains on a corpus folder, tests on its held-out pairs,
// writes checkpoints, and a run resumed from one carries on at the next epoch.
func TestRunTrainsAndResumes(t *testing.T) {
	data, logdir := writeCorpus(t), t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var log logtest.Buffer
	if err := Run(ctx, runConfig(data, logdir, &log)); err != nil {
		t.Fatal(err)
	}
	// 18 training paragraphs of 2 pairs each: 36 pairs, 5 batches of 8.
	train, tests := log.Messages(t, "Train Epoch:"), log.Messages(t, "Test Epoch:")
	if len(train) != 5 || len(tests) != 1 {
		t.Fatalf("%d training lines and %d test lines, want 5 and 1", len(train), len(tests))
	}
	if got := train[0]["message"].(string); !strings.HasSuffix(got, "nP|nS: 0|1") {
		t.Errorf("first line %q, want nP|nS: 0|1", got)
	}
	if acc, ok := tests[0]["local_accuracy"].(float64); !ok || acc < 0 || acc > 1 {
		t.Errorf("test line %v has no NSP accuracy", tests[0])
	}
	runs, _ := filepath.Glob(filepath.Join(logdir, "bert-*"))
	if len(runs) != 1 {
		t.Fatalf("run folders %v, want one", runs)
	}
	last := filepath.Join(runs[0], trainer.LastCheckpoint)
	if _, err := os.Stat(last); err != nil {
		t.Fatal(err)
	}

	var resumed logtest.Buffer
	cfg := runConfig(data, t.TempDir(), &resumed)
	cfg.ModelPath, cfg.Epochs = last, 2
	if err := Run(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if r := resumed.Messages(t, "resumed from checkpoint"); len(r) != 1 || r[0]["epoch"].(float64) != 1 {
		t.Errorf("resume lines %v, want one at epoch 1", r)
	}
	again := resumed.Messages(t, "Train Epoch:")
	if len(again) != 5 || !strings.HasPrefix(again[0]["message"].(string), "Train Epoch: 1 ") {
		t.Errorf("resumed run logged %d training lines, want 5 of epoch 1", len(again))
	}
}

// A --data_dir that is no corpus fails as a usage error before training.
func TestRunMissingCorpus(t *testing.T) {
	var log logtest.Buffer
	err := Run(context.Background(), runConfig(filepath.Join(t.TempDir(), "none"), t.TempDir(), &log))
	var ue *neuron.UsageError
	if !errors.As(err, &ue) || ue.Flag != "data_dir" {
		t.Fatalf("got %v, want a --data_dir usage error", err)
	}
}
