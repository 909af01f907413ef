package cifar

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

// testConfig returns the settings of a test run: two epochs of batches of 8.
func testConfig(data, logdir string, log *logtest.Buffer) neuron.Config {
	cfg := runtest.Config(data, logdir, log)
	cfg.Epochs, cfg.BatchSize, cfg.Seed = 2, 8, 5
	return cfg
}

// A CIFAR neuron (a tiny DPN, calling its own synapse in-process) trains on
// CIFAR-10 files, tests after each epoch, writes checkpoints, and a run
// resumed from one carries on at the next epoch.
func TestNeuronTrainsAndResumes(t *testing.T) {
	data, logdir := writeCIFAR(t, 8, 8), t.TempDir() // 40 training images: 5 steps of 8
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var log logtest.Buffer
	if err := RunWith(ctx, testConfig(data, logdir, &log), Options{Model: tinyDPN()}); err != nil {
		t.Fatal(err)
	}
	train, tests := log.Messages(t, "Train Epoch:"), log.Messages(t, "Test Epoch:")
	if len(train) != 10 || len(tests) != 2 {
		t.Fatalf("%d training lines and %d test lines, want 10 (2 epochs of 5 steps) and 2", len(train), len(tests))
	}
	if got := train[0]["message"].(string); !strings.HasSuffix(got, "nP|nS: 0|1") {
		t.Errorf("first line %q, want nP|nS: 0|1 (alone, calling its own synapse)", got)
	}
	for _, e := range train {
		for _, k := range []string{"local_loss", "target_loss", "distillation_loss"} {
			if v, ok := e[k].(float64); !ok || v <= 0 {
				t.Fatalf("training line %v: %s is %v, want a positive loss", e["message"], k, e[k])
			}
		}
	}
	runs, _ := filepath.Glob(filepath.Join(logdir, "cifar-*"))
	if len(runs) != 1 {
		t.Fatalf("run folders %v, want one", runs)
	}
	last := filepath.Join(runs[0], trainer.LastCheckpoint)
	if _, err := os.Stat(last); err != nil {
		t.Fatalf("checkpoint: %v", err)
	}

	var resumed logtest.Buffer
	cfg := testConfig(data, t.TempDir(), &resumed)
	cfg.ModelPath, cfg.Epochs = last, 3
	if err := RunWith(ctx, cfg, Options{Model: tinyDPN()}); err != nil {
		t.Fatal(err)
	}
	if r := resumed.Messages(t, "resumed from checkpoint"); len(r) != 1 || r[0]["epoch"] != 2.0 {
		t.Fatalf("resume lines %v, want one at epoch 2", r)
	}
	again := resumed.Messages(t, "Train Epoch:")
	if len(again) != 5 || !strings.HasPrefix(again[0]["message"].(string), "Train Epoch: 2 ") {
		t.Fatalf("resumed run logged %d training lines, want 5 of epoch 2", len(again))
	}

	// A DPN26 checkpoint does not fit a model of another shape: refused
	// before training, naming --model_path.
	var other logtest.Buffer
	cfg = testConfig(data, t.TempDir(), &other)
	cfg.ModelPath = last
	bigger := tinyDPN()
	bigger.OutPlanes[3] = 24
	err := RunWith(ctx, cfg, Options{Model: bigger})
	var ue *neuron.UsageError
	if !errors.As(err, &ue) || ue.Flag != "model_path" {
		t.Fatalf("a checkpoint of another shape: %v, want a --model_path usage error", err)
	}
}

// Bad settings fail before training with usage errors naming the flag.
func TestRunUsageErrors(t *testing.T) {
	var log logtest.Buffer
	ctx := context.Background()
	for name, c := range map[string]struct {
		cfg  func(neuron.Config) neuron.Config
		o    Options
		flag string
		want string
	}{
		"no data dir": {func(c neuron.Config) neuron.Config { c.DataDir = ""; return c }, Options{}, "data_dir",
			"cifar-10-binary.tar.gz"},
		"not a folder": {func(c neuron.Config) neuron.Config { c.DataDir = "/nonexistent/cifar"; return c }, Options{}, "data_dir",
			"is not a folder"},
		"missing files": {func(c neuron.Config) neuron.Config { c.DataDir = t.TempDir(); return c }, Options{}, "data_dir",
			"has no data_batch_1.bin"},
		"dataset": {func(c neuron.Config) neuron.Config { return c }, Options{Dataset: "imagenet"}, "dataset",
			`"imagenet", want cifar10 or fashion-mnist`},
		"fashion folder": {func(c neuron.Config) neuron.Config { c.DataDir = t.TempDir(); return c },
			Options{Dataset: DatasetFashionMNIST, Model: tinyDPN()}, "data_dir", "dataset-fashion-mnist"},
	} {
		cfg := c.cfg(testConfig("", t.TempDir(), &log))
		o := c.o
		if o.Model == (DPNConfig{}) {
			o.Model = tinyDPN()
		}
		err := RunWith(ctx, cfg, o)
		var ue *neuron.UsageError
		if !errors.As(err, &ue) || ue.Flag != c.flag || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a --%s usage error saying %q", name, err, c.flag, c.want)
		}
	}
}
