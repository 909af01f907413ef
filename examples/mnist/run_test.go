package mnist

import (
	"context"
	"errors"
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

// writeSubset writes the first nTrain and nTest examples of the real MNIST
// sets as idx files into a new folder.
func writeSubset(t *testing.T, nTrain, nTest int) string {
	t.Helper()
	src, err := FindData(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	train, test, err := Load(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range []struct {
		name string
		set  *Dataset
		n    int
	}{{trainImagesFile, train, nTrain}, {testImagesFile, test, nTest}} {
		img := IDX{Dims: []int{f.n, Rows, Cols}, Data: f.set.Pixels[:f.n*Pixels]}
		lbl := IDX{Dims: []int{f.n}, Data: f.set.Labels[:f.n]}
		lblName := strings.Replace(strings.Replace(f.name, "images-idx3", "labels-idx1", 1), "images", "labels", 1)
		if err := os.WriteFile(filepath.Join(dir, f.name), img.Encode(), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, lblName), lbl.Encode(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// testConfig returns the settings of a test run: two epochs of batches of 64.
func testConfig(t *testing.T, data, logdir string, log *logtest.Buffer) neuron.Config {
	cfg := runtest.Config(data, logdir, log)
	cfg.Epochs, cfg.BatchSize, cfg.Seed = 2, 64, 3
	return cfg
}

func field(e map[string]any, name string) float64 {
	v, _ := e[name].(float64)
	return v
}

// A single neuron (calling its own synapse in-process) learns: its loss falls over two
// short epochs, it writes checkpoints, and a run resumed from one carries on
// from the trained state at the next epoch.
func TestSingleNeuronLearnsAndResumes(t *testing.T) {
	data, logdir := writeSubset(t, 2048, 512), t.TempDir()
	var log logtest.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := Run(ctx, testConfig(t, data, logdir, &log)); err != nil {
		t.Fatal(err)
	}
	var train, tests []map[string]any
	for _, e := range log.Messages(t, "") {
		msg, _ := e["message"].(string)
		switch {
		case strings.HasPrefix(msg, "Train Epoch:"):
			train = append(train, e)
		case strings.HasPrefix(msg, "Test Epoch:"):
			tests = append(tests, e)
		}
	}
	if len(train) != 64 || len(tests) != 2 {
		t.Fatalf("%d training lines and %d test lines, want 64 (2 epochs of 32 steps) and 2", len(train), len(tests))
	}
	if got := train[0]["message"].(string); !strings.HasSuffix(got, "nP|nS: 0|1") {
		t.Errorf("first line %q, want nP|nS: 0|1 (alone, calling its own synapse)", got)
	}
	mean := func(es []map[string]any) float64 {
		s := 0.0
		for _, e := range es {
			s += field(e, "local_loss")
		}
		return s / float64(len(es))
	}
	first, last := mean(train[:5]), mean(train[len(train)-5:])
	if !(last < 0.7*first) {
		t.Errorf("local loss went from %.3f to %.3f, want a fall of at least 30%%", first, last)
	}
	if acc := field(tests[1], "local_accuracy"); acc < 0.5 {
		t.Errorf("local test accuracy %.3f after 2 epochs on 2048 images, want ≥ 0.5 (chance is 0.1)", acc)
	}
	runs, _ := filepath.Glob(filepath.Join(logdir, "mnist-*"))
	if len(runs) != 1 {
		t.Fatalf("run folders %v, want one", runs)
	}
	for _, name := range []string{trainer.BestCheckpoint, trainer.LastCheckpoint} {
		if _, err := os.Stat(filepath.Join(runs[0], name)); err != nil {
			t.Fatalf("checkpoint: %v", err)
		}
	}

	var resumed logtest.Buffer
	cfg := testConfig(t, data, t.TempDir(), &resumed)
	cfg.ModelPath, cfg.Epochs = filepath.Join(runs[0], trainer.LastCheckpoint), 3
	if err := Run(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	var again []map[string]any
	found := false
	for _, e := range resumed.Messages(t, "") {
		msg, _ := e["message"].(string)
		if strings.HasPrefix(msg, "resumed from checkpoint") {
			found = true
			if field(e, "epoch") != 2 {
				t.Errorf("resumed at epoch %v, want 2", e["epoch"])
			}
		}
		if strings.HasPrefix(msg, "Train Epoch:") {
			again = append(again, e)
		}
	}
	if !found {
		t.Error("the resumed run did not log that it resumed")
	}
	if len(again) != 32 || !strings.HasPrefix(again[0]["message"].(string), "Train Epoch: 2 ") {
		t.Fatalf("resumed run logged %d training lines, want 32 of epoch 2", len(again))
	}
	if l := mean(again[:5]); l > 1.5*last {
		t.Errorf("resumed run starts at loss %.3f, the first run ended at %.3f: the model was not restored", l, last)
	}
}

// A file that is not a checkpoint is refused with a usage error naming
// --model_path, before any training.
func TestResumeFromBadCheckpoint(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "model.ckpt")
	if err := os.WriteFile(bad, []byte("not a checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	var log logtest.Buffer
	cfg := testConfig(t, writeSubset(t, 64, 64), t.TempDir(), &log)
	cfg.ModelPath = bad
	err := Run(context.Background(), cfg)
	var ue *neuron.UsageError
	if !errors.As(err, &ue) || ue.Flag != "model_path" {
		t.Fatalf("got %v, want a --model_path usage error", err)
	}
}

// A checkpoint made with the seed's model (--context_readout=false) is
// refused by the read-out model with a --model_path usage error that names
// the read-out layer, not the optimizer's parameter groups (which libtorch
// checks first).
func TestResumeOtherReadoutChoiceNamesIt(t *testing.T) {
	data, logdir := writeSubset(t, 64, 64), t.TempDir()
	var log logtest.Buffer
	cfg := testConfig(t, data, logdir, &log)
	cfg.Epochs = 1
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := RunWith(ctx, cfg, ModelOptions{ContextReadout: false}); err != nil {
		t.Fatal(err)
	}
	last, _ := filepath.Glob(filepath.Join(logdir, "mnist-*", trainer.LastCheckpoint))
	if len(last) != 1 {
		t.Fatalf("last checkpoints %v, want one", last)
	}
	cfg = testConfig(t, data, t.TempDir(), &log)
	cfg.ModelPath = last[0]
	err := RunWith(ctx, cfg, ModelOptions{ContextReadout: true})
	var ue *neuron.UsageError
	if !errors.As(err, &ue) || ue.Flag != "model_path" || !strings.Contains(err.Error(), "context_readout") {
		t.Fatalf("got %v, want a --model_path usage error naming context_readout", err)
	}
}
