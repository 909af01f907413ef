package optim_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/internal/testutil"
	"github.com/opentensor/bittensor-go/torch/nn"
	"github.com/opentensor/bittensor-go/torch/optim"
)

const golden = "testdata/golden.json"

func p(k, off int, shape ...int64) *torch.Tensor { return testutil.P(shape, k, off) }

// objective is gen_golden.py's optim_loss: Σ tanh(p)·t + 0.1·Σ p².
func objective(param, target *torch.Tensor) *torch.Tensor {
	return param.Tanh().Mul(target).Sum().Add(param.Square().Sum().MulScalar(0.1))
}

func TestOptimizersGolden(t *testing.T) {
	g := testutil.LoadGolden(t, golden)
	cases := map[string]func([]*torch.Tensor) (*optim.Optimizer, error){
		"sgd": func(ps []*torch.Tensor) (*optim.Optimizer, error) {
			return optim.NewSGD(ps, optim.SGDOptions{LR: 0.1})
		},
		"sgd_momentum": func(ps []*torch.Tensor) (*optim.Optimizer, error) {
			return optim.NewSGD(ps, optim.SGDOptions{LR: 0.1, Momentum: 0.9})
		},
		"sgd_momentum_dampening_wd": func(ps []*torch.Tensor) (*optim.Optimizer, error) {
			return optim.NewSGD(ps, optim.SGDOptions{LR: 0.1, Momentum: 0.9, Dampening: 0.1, WeightDecay: 0.01})
		},
		"sgd_nesterov_wd": func(ps []*torch.Tensor) (*optim.Optimizer, error) {
			return optim.NewSGD(ps, optim.SGDOptions{LR: 0.1, Momentum: 0.9, Nesterov: true, WeightDecay: 0.05})
		},
		"adam": func(ps []*torch.Tensor) (*optim.Optimizer, error) {
			return optim.NewAdam(ps, optim.AdamOptions{LR: 0.05})
		},
		"adam_wd_amsgrad": func(ps []*torch.Tensor) (*optim.Optimizer, error) {
			return optim.NewAdam(ps, optim.AdamOptions{LR: 0.05, Beta1: 0.8, Beta2: 0.99, Eps: 1e-6, WeightDecay: 0.1, AMSGrad: true})
		},
		"adamw": func(ps []*torch.Tensor) (*optim.Optimizer, error) {
			return optim.NewAdamW(ps, optim.AdamOptions{LR: 0.05, WeightDecay: 0.1})
		},
	}
	target := p(5, 1, 2, 3)
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			param := p(7, 0, 2, 3).SetRequiresGrad(true)
			opt, err := mk([]*torch.Tensor{param})
			if err != nil {
				t.Fatal(err)
			}
			defer opt.Close()
			if ps := opt.Params(); len(ps) != 1 || ps[0] != param {
				t.Error("Params() is not the parameter list")
			}
			for step := 1; step <= 3; step++ {
				if err := opt.ZeroGrad(); err != nil {
					t.Fatal(err)
				}
				if err := objective(param, target).Backward(); err != nil {
					t.Fatal(err)
				}
				if err := opt.Step(); err != nil {
					t.Fatal(err)
				}
				g.Check(t, fmt.Sprintf("%s_step%d", name, step), param, 1e-5, 1e-6)
			}
		})
	}
}

func TestOptimizerOptions(t *testing.T) {
	param := p(7, 0, 3).SetRequiresGrad(true)
	ps := []*torch.Tensor{param}
	for name, mk := range map[string]func() (*optim.Optimizer, error){
		"sgd zero lr":          func() (*optim.Optimizer, error) { return optim.NewSGD(ps, optim.SGDOptions{}) },
		"adam negative lr":     func() (*optim.Optimizer, error) { return optim.NewAdam(ps, optim.AdamOptions{LR: -1}) },
		"nesterov no momentum": func() (*optim.Optimizer, error) { return optim.NewSGD(ps, optim.SGDOptions{LR: 0.1, Nesterov: true}) },
		"nesterov dampening": func() (*optim.Optimizer, error) {
			return optim.NewSGD(ps, optim.SGDOptions{LR: 0.1, Momentum: 0.9, Dampening: 0.5, Nesterov: true})
		},
		"failed parameter": func() (*optim.Optimizer, error) {
			return optim.NewSGD([]*torch.Tensor{torch.Errorf("gone")}, optim.SGDOptions{LR: 0.1})
		},
	} {
		if opt, err := mk(); err == nil {
			opt.Close()
			t.Errorf("%s: no error", name)
		}
	}

	// SetLR: plain SGD moves by lr·grad; the gradient of Σp is 1.
	opt, err := optim.NewSGD(ps, optim.SGDOptions{LR: 1})
	if err != nil {
		t.Fatal(err)
	}
	before := testutil.MustValues(t, param)
	if err := opt.SetLR(0.25); err != nil {
		t.Fatal(err)
	}
	if err := param.Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	if err := opt.Step(); err != nil {
		t.Fatal(err)
	}
	after := testutil.MustValues(t, param)
	for i := range after {
		if after[i] != before[i]-0.25 {
			t.Fatalf("after one step at lr 0.25: %v, from %v", after, before)
		}
	}
	if err := opt.ZeroGrad(); err != nil {
		t.Fatal(err)
	}
	if param.Grad() != nil {
		t.Error("optimizer ZeroGrad left a gradient")
	}
	// A step without gradients changes nothing.
	if err := opt.Step(); err != nil {
		t.Fatal(err)
	}
	if got := testutil.MustValues(t, param); !slices.Equal(got, after) {
		t.Error("a step without gradients moved the parameter")
	}
	opt.Close()
	opt.Close() // idempotent
}

// model is a small classifier for the checkpoint tests.
func model(seed int64) *nn.Sequential {
	torch.ManualSeed(seed)
	return nn.NewSequential(nn.NewLinear(4, 8, true), nn.NewFunc((*torch.Tensor).Tanh), nn.NewLinear(8, 3, true))
}

// train runs steps of full-batch training on fixed data.
func train(t *testing.T, m *nn.Sequential, opt *optim.Optimizer, steps int) {
	t.Helper()
	x, y := p(7, 0, 6, 4), torch.FromInt64([]int64{0, 1, 2, 2, 1, 0})
	for range steps {
		s := torch.NewScope()
		if err := opt.ZeroGrad(); err != nil {
			t.Fatal(err)
		}
		loss := torch.CrossEntropy(m.Forward(s.Track(x.Alias())), y, torch.ReduceMean)
		if err := loss.Backward(); err != nil {
			t.Fatal(err)
		}
		if err := opt.Step(); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
}

func TestCheckpointResumesIdentically(t *testing.T) {
	makers := map[string]func([]*torch.Tensor) (*optim.Optimizer, error){
		"sgd nesterov": func(ps []*torch.Tensor) (*optim.Optimizer, error) {
			return optim.NewSGD(ps, optim.SGDOptions{LR: 0.1, Momentum: 0.9, Nesterov: true, WeightDecay: 1e-3})
		},
		"adam": func(ps []*torch.Tensor) (*optim.Optimizer, error) {
			return optim.NewAdam(ps, optim.AdamOptions{LR: 0.01, AMSGrad: true})
		},
		"adamw": func(ps []*torch.Tensor) (*optim.Optimizer, error) {
			return optim.NewAdamW(ps, optim.AdamOptions{LR: 0.01, WeightDecay: 0.01})
		},
	}
	for name, mk := range makers {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "ckpt.pt")
			m := model(1)
			opt, err := mk(nn.Parameters(m))
			if err != nil {
				t.Fatal(err)
			}
			train(t, m, opt, 3)
			state := nn.StateDict(m)
			state["step"] = torch.FromInt64([]int64{3}, []int64{}...)
			if err := optim.SaveCheckpoint(path, state, opt); err != nil {
				t.Fatal(err)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("%d files after SaveCheckpoint, want 1", len(entries))
			}
			train(t, m, opt, 3)
			want := testutil.StateValues(t, m)

			// A fresh model and optimizer, restored from the checkpoint.
			m2 := model(2)
			opt2, err := mk(nn.Parameters(m2))
			if err != nil {
				t.Fatal(err)
			}
			ts, err := optim.LoadCheckpoint(path, opt2)
			if err != nil {
				t.Fatal(err)
			}
			if step, err := ts["step"].Item(); err != nil || step != 3 {
				t.Errorf("step counter %v, %v", step, err)
			}
			delete(ts, "step")
			if err := nn.LoadStateDict(m2, ts); err != nil {
				t.Fatal(err)
			}
			train(t, m2, opt2, 3)
			if !testutil.SameState(want, testutil.StateValues(t, m2)) {
				t.Error("training resumed from the checkpoint differs from uninterrupted training")
			}

			// Without the optimizer state the run differs: the state mattered.
			m3 := model(3)
			opt3, err := mk(nn.Parameters(m3))
			if err != nil {
				t.Fatal(err)
			}
			ts3, err := optim.LoadCheckpoint(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			delete(ts3, "step")
			if err := nn.LoadStateDict(m3, ts3); err != nil {
				t.Fatal(err)
			}
			train(t, m3, opt3, 3)
			if testutil.SameState(want, testutil.StateValues(t, m3)) {
				t.Error("resuming with a fresh optimizer state gives the same result; the test proves nothing")
			}
		})
	}
}

func TestCheckpointBadFiles(t *testing.T) {
	dir := t.TempDir()
	m := model(1)
	opt, err := optim.NewAdam(nn.Parameters(m), optim.AdamOptions{LR: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	train(t, m, opt, 2)
	path := filepath.Join(dir, "ckpt.pt")
	if err := optim.SaveCheckpoint(path, nn.StateDict(m), opt); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	noOpt := filepath.Join(dir, "model-only.pt")
	if err := nn.Save(noOpt, m); err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.pt")
	if err := os.WriteFile(truncated, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(dir, "foreign.pt")
	if err := os.WriteFile(foreign, []byte("PK\x03\x04 not really a zip"), 0o644); err != nil {
		t.Fatal(err)
	}
	sgdPath := filepath.Join(dir, "sgd.pt") // another optimizer's state
	sgd, err := optim.NewSGD(nn.Parameters(m), optim.SGDOptions{LR: 0.1, Momentum: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	train(t, m, sgd, 1)
	if err := optim.SaveCheckpoint(sgdPath, nn.StateDict(m), sgd); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		path string
		want string
	}{
		"no optimizer state": {noOpt, "no optimizer state"},
		"sgd state for adam": {sgdPath, "adam"},
		"truncated":          {truncated, "not a readable checkpoint"},
		"foreign":            {foreign, "not a readable checkpoint"},
		"missing":            {filepath.Join(dir, "absent.pt"), "no such file"},
	} {
		fresh := model(1)
		o, err := optim.NewAdam(nn.Parameters(fresh), optim.AdamOptions{LR: 0.01})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := optim.LoadCheckpoint(c.path, o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", name, err, c.want)
		}
		o.Close()
	}
	// An optimizer over other parameters refuses the state.
	one, err := optim.NewAdam([]*torch.Tensor{p(7, 0, 3).SetRequiresGrad(true)}, optim.AdamOptions{LR: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := optim.LoadCheckpoint(path, one); err == nil || !strings.Contains(err.Error(), "different size") {
		t.Errorf("state of 4 parameters into an optimizer of 1: %v", err)
	}
	// The model-only checkpoint still loads without an optimizer.
	if ts, err := optim.LoadCheckpoint(noOpt, nil); err != nil || len(ts) != 4 {
		t.Errorf("model-only checkpoint: %d tensors, %v", len(ts), err)
	}
}

// FuzzLoadCheckpoint feeds damaged checkpoints to an optimizer: loading must
// fail cleanly or leave an optimizer that still steps.
func FuzzLoadCheckpoint(f *testing.F) {
	dir := f.TempDir()
	path := filepath.Join(dir, "ckpt.pt")
	m := model(1)
	opt, err := optim.NewAdam(nn.Parameters(m), optim.AdamOptions{LR: 0.01})
	if err != nil {
		f.Fatal(err)
	}
	loss := torch.CrossEntropy(m.Forward(p(7, 0, 2, 4)), torch.FromInt64([]int64{0, 1}), torch.ReduceMean)
	if err := loss.Backward(); err != nil {
		f.Fatal(err)
	}
	if err := opt.Step(); err != nil {
		f.Fatal(err)
	}
	if err := optim.SaveCheckpoint(path, nn.StateDict(m), opt); err != nil {
		f.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add(data[:len(data)-40])
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "f.pt")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		m := model(1)
		opt, err := optim.NewAdam(nn.Parameters(m), optim.AdamOptions{LR: 0.01})
		if err != nil {
			t.Fatal(err)
		}
		defer opt.Close()
		if _, err := optim.LoadCheckpoint(path, opt); err != nil {
			return
		}
		loss := torch.CrossEntropy(m.Forward(p(7, 0, 2, 4)), torch.FromInt64([]int64{0, 1}), torch.ReduceMean)
		if err := loss.Backward(); err != nil {
			t.Fatal(err)
		}
		_ = opt.Step() // an error is fine; a crash is not
	})
}

func TestFailedCheckpointLoadKeepsOptimizerState(t *testing.T) {
	dir := t.TempDir()
	sgdPath := filepath.Join(dir, "sgd.pt")
	ms := model(1)
	sgd, err := optim.NewSGD(nn.Parameters(ms), optim.SGDOptions{LR: 0.1, Momentum: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	train(t, ms, sgd, 2)
	if err := optim.SaveCheckpoint(sgdPath, nn.StateDict(ms), sgd); err != nil {
		t.Fatal(err)
	}

	// Two identical Adam runs; one tries (and fails) to load SGD state midway.
	run := func(loadSGD bool) map[string][]float64 {
		m := model(4)
		opt, err := optim.NewAdam(nn.Parameters(m), optim.AdamOptions{LR: 0.01})
		if err != nil {
			t.Fatal(err)
		}
		defer opt.Close()
		train(t, m, opt, 2)
		if loadSGD {
			if _, err := optim.LoadCheckpoint(sgdPath, opt); err == nil {
				t.Fatal("SGD state loaded into Adam without error")
			}
		}
		train(t, m, opt, 2)
		return testutil.StateValues(t, m)
	}
	if !testutil.SameState(run(false), run(true)) {
		t.Error("a failed LoadCheckpoint changed the optimizer's state")
	}
}

// A checkpoint whose optimizer state has as many entries as the optimizer's
// parameters, but buffers of other shapes, is refused at load (libtorch
// itself checks only the count) and leaves the optimizer as it was.
func TestCheckpointMisfitStateRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ckpt.pt")
	ma := model(1) // Linear(4, 8), Linear(8, 3)
	sa, err := optim.NewSGD(nn.Parameters(ma), optim.SGDOptions{LR: 0.1, Momentum: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	train(t, ma, sa, 2)
	if err := optim.SaveCheckpoint(path, nn.StateDict(ma), sa); err != nil {
		t.Fatal(err)
	}
	run := func(load bool) map[string][]float64 {
		torch.ManualSeed(5)
		m := nn.NewSequential(nn.NewLinear(4, 6, true), nn.NewFunc((*torch.Tensor).Tanh), nn.NewLinear(6, 3, true))
		opt, err := optim.NewSGD(nn.Parameters(m), optim.SGDOptions{LR: 0.1, Momentum: 0.9})
		if err != nil {
			t.Fatal(err)
		}
		defer opt.Close()
		train(t, m, opt, 2)
		if load {
			_, err := optim.ReadCheckpoint(path, opt)
			if err == nil || !strings.Contains(err.Error(), "optimizer state: parameter 0") {
				t.Fatalf("momentum of [8 4] for a [6 4] parameter: %v", err)
			}
		}
		train(t, m, opt, 2)
		return testutil.StateValues(t, m)
	}
	if !testutil.SameState(run(false), run(true)) {
		t.Error("a refused checkpoint changed the optimizer's state")
	}
}

// ReadCheckpoint changes nothing until Commit; Close without Commit drops the
// file's optimizer state.
func TestReadCheckpointStagesUntilCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ckpt.pt")
	m := model(1)
	opt, err := optim.NewSGD(nn.Parameters(m), optim.SGDOptions{LR: 0.1, Momentum: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	train(t, m, opt, 3)
	if err := optim.SaveCheckpoint(path, nn.StateDict(m), opt); err != nil {
		t.Fatal(err)
	}
	train(t, m, opt, 2)
	want := testutil.StateValues(t, m)

	run := func(commit bool) map[string][]float64 {
		m2 := model(1)
		opt2, err := optim.NewSGD(nn.Parameters(m2), optim.SGDOptions{LR: 0.1, Momentum: 0.9})
		if err != nil {
			t.Fatal(err)
		}
		defer opt2.Close()
		ck, err := optim.ReadCheckpoint(path, opt2)
		if err != nil {
			t.Fatal(err)
		}
		if err := nn.LoadStateDict(m2, ck.Tensors); err != nil {
			t.Fatal(err)
		}
		if commit {
			if err := ck.Commit(); err != nil {
				t.Fatal(err)
			}
			if err := ck.Commit(); err == nil {
				t.Error("a second Commit succeeded")
			}
		}
		ck.Close()
		train(t, m2, opt2, 2)
		return testutil.StateValues(t, m2)
	}
	if !testutil.SameState(want, run(true)) {
		t.Error("training after Commit differs from uninterrupted training")
	}
	if testutil.SameState(want, run(false)) {
		t.Error("the optimizer state reached the optimizer without Commit")
	}
}
