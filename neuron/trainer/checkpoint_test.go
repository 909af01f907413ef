package trainer_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opentensor/bittensor-go/neuron/internal/neurontest"
	"github.com/opentensor/bittensor-go/neuron/trainer"

	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/optim"
)

// A resume that fails anywhere (a bad counter, key row owners, a model or
// router tensor, a missing optimizer state, an unknown record) leaves the
// trainer exactly as it was: its model, router, key row owners, optimizer
// state and counters. Each bad file holds another trainer's optimizer state,
// so applying any of it before the failure would show.
func TestFailedResumeChangesNothing(t *testing.T) {
	ctx := context.Background()
	tr, _ := neurontest.NewTrainer(t, "")
	if _, err := tr.Step(ctx, neurontest.TinyBatch()); err != nil {
		t.Fatal(err)
	}
	tr.SetProgress(2, 0.5)
	dir := t.TempDir()
	before := ckptIn(t, dir, "before")
	if err := tr.Save(before); err != nil {
		t.Fatal(err)
	}

	other, _ := neurontest.NewTrainer(t, "")
	for range 3 {
		if _, err := other.Step(ctx, neurontest.TinyBatch()); err != nil {
			t.Fatal(err)
		}
	}
	other.SetProgress(7, 0.1)
	good := ckptIn(t, dir, "good")
	if err := other.Save(good); err != nil {
		t.Fatal(err)
	}
	rows := len(tr.RoutedBy().SlotOwners())
	bigger, err := optim.NewSGD(append(slices.Clone(other.Opt().Params()), torch.Zeros([]int64{3})), optim.SGDOptions{LR: 0.1, Momentum: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		edit func(ts map[string]*torch.Tensor)
		opt  *optim.Optimizer // the optimizer whose state the file holds
		want string
	}{
		"negative epoch": {func(ts map[string]*torch.Tensor) { ts[trainer.CkptEpoch] = torch.FromInt64([]int64{-1}) }, other.Opt(), "epoch -1"},
		"epoch dtype":    {func(ts map[string]*torch.Tensor) { ts[trainer.CkptEpoch] = torch.FromFloat64([]float64{1}) }, other.Opt(), trainer.CkptEpoch},
		"no best loss":   {func(ts map[string]*torch.Tensor) { delete(ts, trainer.CkptBestLoss) }, other.Opt(), "no " + trainer.CkptBestLoss},
		"too few rows":   {func(ts map[string]*torch.Tensor) { ts[trainer.CkptSlots] = torch.FromUint8([]byte("a")) }, other.Opt(), "key rows saved"},
		"duplicate owner": {func(ts map[string]*torch.Tensor) {
			ts[trainer.CkptSlots] = torch.FromUint8([]byte(strings.Repeat("x/y\n", rows-1) + "x/y"))
		}, other.Opt(), "owns two key rows"},
		"model shape": {func(ts map[string]*torch.Tensor) {
			for n := range ts {
				if strings.HasPrefix(n, trainer.CkptModel) {
					ts[n] = torch.Zeros([]int64{1, 1, 1})
					return
				}
			}
		}, other.Opt(), "model"},
		"router tensor missing": {func(ts map[string]*torch.Tensor) {
			for n := range ts {
				if strings.HasPrefix(n, trainer.CkptRouter) {
					delete(ts, n)
					return
				}
			}
		}, other.Opt(), "router"},
		"unknown record": {func(ts map[string]*torch.Tensor) { ts["meta.extra"] = torch.FromInt64([]int64{1}) }, other.Opt(), "unexpected record"},
		"no optimizer":   {func(map[string]*torch.Tensor) {}, nil, "no optimizer state"},
		// Another model's checkpoint: the optimizer's state has one
		// parameter more, which libtorch refuses first; the error names the
		// model's tensor all the same.
		"another model": {func(ts map[string]*torch.Tensor) { ts[trainer.CkptModel+"extra.weight"] = torch.Zeros([]int64{3}) }, bigger, "unexpected [extra.weight]"},
	} {
		ts, err := optim.LoadCheckpoint(good, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.edit(ts)
		bad := filepath.Join(dir, "bad")
		if err := optim.SaveCheckpoint(bad, ts, c.opt); err != nil {
			t.Fatal(err)
		}
		err = tr.Load(bad)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: resume = %v, want an error containing %q", name, err, c.want)
		}
		after := ckptIn(t, dir, "after")
		if err := tr.Save(after); err != nil {
			t.Fatal(err)
		}
		if !sameFile(t, before, after) {
			t.Errorf("%s: the failed resume changed the trainer", name)
		}
	}
	// The unedited file does load, and changes the trainer: the comparison
	// above can see a change.
	if err := tr.Load(good); err != nil {
		t.Fatal(err)
	}
	if tr.Epoch() != 7 {
		t.Fatalf("resumed at epoch %d, want 7", tr.Epoch())
	}
	after := ckptIn(t, dir, "after")
	if err := tr.Save(after); err != nil {
		t.Fatal(err)
	}
	if sameFile(t, before, after) {
		t.Error("a successful resume left the saved state unchanged; the comparison proves nothing")
	}
}

// ckptIn returns the path of a checkpoint named "ckpt" in folder sub of dir
// (libtorch records the file's base name inside, so files to compare
// byte for byte share it).
func ckptIn(t *testing.T, dir, sub string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, sub, "ckpt")
}

// sameFile reports whether files a and b hold the same bytes.
func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(x, y)
}
