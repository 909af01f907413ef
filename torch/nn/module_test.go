package nn_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/internal/testutil"
	"github.com/opentensor/bittensor-go/torch/nn"
)

// net is a model as users write one: nested, with buffers.
type net struct {
	nn.Base
	conv *nn.Conv2d
	bn   *nn.BatchNorm2d
	head *nn.Sequential
	drop *nn.Dropout
}

func newNet(hidden int64) *net {
	n := &net{}
	n.conv = nn.Register(n, "conv", nn.NewConv2d(1, 2, 3, torch.Conv2dOptions{}, true))
	n.bn = nn.Register(n, "bn", nn.NewBatchNorm2d(2))
	n.drop = nn.Register(n, "drop", nn.NewDropout(0.2))
	n.head = nn.Register(n, "head", nn.NewSequential(nn.NewLinear(8, hidden, true), nn.ReLU(), nn.NewLinear(hidden, 3, false)))
	return n
}

func (n *net) Forward(x *torch.Tensor) *torch.Tensor {
	h := n.bn.Forward(n.conv.Forward(x)).Relu()
	h = torch.AdaptiveAvgPool2d(h, [2]int64{2, 2}).Flatten(1, -1)
	return n.head.Forward(n.drop.Forward(h))
}

func TestModuleTree(t *testing.T) {
	n := newNet(4)
	wantParams := []string{"bn.bias", "bn.weight", "conv.bias", "conv.weight", "head.0.bias", "head.0.weight", "head.2.weight"}
	if got := names(nn.NamedParameters(n)); !slices.Equal(got, wantParams) {
		t.Errorf("named parameters %v, want %v", got, wantParams)
	}
	wantState := append(slices.Clone(wantParams), "bn.running_mean", "bn.running_var")
	slices.Sort(wantState)
	if got := names(nn.StateDict(n)); !slices.Equal(got, wantState) {
		t.Errorf("state dict %v, want %v", got, wantState)
	}
	d := nn.Describe(n)
	for _, line := range []string{"conv.weight [2 1 3 3]\n", "head.2.weight [3 4]\n", "bn.running_var [2]\n"} {
		if !strings.Contains(d, line) {
			t.Errorf("Describe lacks %q:\n%s", line, d)
		}
	}
	nn.Eval(n)
	if n.drop.IsTraining() || n.head.Layers[0].(*nn.Linear).IsTraining() {
		t.Error("Eval did not reach nested modules")
	}
	if err := nn.To(n, torch.CPU); err != nil {
		t.Errorf("To(cpu): %v", err)
	}
	out := n.Forward(p(7, 0, 2, 1, 6, 6))
	if got := out.Shape(); !slices.Equal(got, []int64{2, 3}) {
		t.Errorf("forward shape %v (%v)", got, out.Err())
	}
}

func TestSaveLoadModule(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "net.pt")
	torch.ManualSeed(1)
	src := newNet(4)
	src.Forward(p(7, 0, 2, 1, 6, 6)) // training mode: moves the running stats off their defaults
	if err := nn.Save(path, src); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("folder holds %d files after Save, want 1 (no temporary files)", len(entries))
	}

	torch.ManualSeed(2)
	dst := newNet(4)
	weight := dst.conv.Weight
	if testutil.SameState(testutil.StateValues(t, src), testutil.StateValues(t, dst)) {
		t.Fatal("two seeds gave the same model")
	}
	if err := nn.Load(path, dst); err != nil {
		t.Fatal(err)
	}
	if !testutil.SameState(testutil.StateValues(t, src), testutil.StateValues(t, dst)) {
		t.Error("loaded state differs from the saved one")
	}
	if dst.conv.Weight != weight || !weight.RequiresGrad() {
		t.Error("Load replaced a parameter instead of copying into it")
	}
	nn.Eval(src)
	nn.Eval(dst)
	x := p(5, 3, 1, 1, 6, 6)
	if err := testutil.Close(testutil.MustValues(t, dst.Forward(x)), testutil.MustValues(t, src.Forward(x)), 0, 0); err != nil {
		t.Errorf("loaded model computes differently: %v", err)
	}
}

func TestLoadModuleBadFilesLeaveItUnchanged(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.pt")
	if err := nn.Save(good, newNet(4)); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.pt") // another architecture: head.0 is 8→5
	if err := nn.Save(other, newNet(5)); err != nil {
		t.Fatal(err)
	}
	partial := filepath.Join(dir, "partial.pt") // a sub-module's state only
	if err := nn.Save(partial, nn.NewBatchNorm2d(2)); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"other architecture": other, "missing entries": partial}
	for name, b := range map[string][]byte{
		"truncated": data[:len(data)*2/3],
		"foreign":   []byte("#!/bin/sh\necho not a checkpoint\n"),
		"empty":     nil,
	} {
		path := filepath.Join(dir, name+".pt")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		files[name] = path
	}
	for name, path := range files {
		t.Run(name, func(t *testing.T) {
			m := newNet(4)
			before := testutil.StateValues(t, m)
			err := nn.Load(path, m)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), "not a readable checkpoint") && !strings.Contains(err.Error(), "load state") {
				t.Errorf("unclear error %q", err)
			}
			if !testutil.SameState(before, testutil.StateValues(t, m)) {
				t.Error("a failed Load changed the module")
			}
		})
	}
}

func TestLoadStateDict(t *testing.T) {
	m := nn.NewLinear(2, 2, true)
	err := nn.LoadStateDict(m, map[string]*torch.Tensor{"weight": p(7, 0, 2, 2), "bias": p(5, 0, 2), "extra": p(3, 0, 1)})
	if err == nil || !strings.Contains(err.Error(), "extra") {
		t.Errorf("unexpected entry: %v", err)
	}
	err = nn.LoadStateDict(m, map[string]*torch.Tensor{"weight": p(7, 0, 2, 2)})
	if err == nil || !strings.Contains(err.Error(), "bias") {
		t.Errorf("missing entry: %v", err)
	}
	if err := nn.LoadStateDict(m, map[string]*torch.Tensor{"weight": p(7, 0, 2, 2), "bias": p(5, 0, 2)}); err != nil {
		t.Fatal(err)
	}
	if got := testutil.MustValues(t, m.Weight); !slices.Equal(got, testutil.Pat64([]int64{2, 2}, 7, 0)) {
		t.Errorf("weight after LoadStateDict: %v", got)
	}
}

func TestRegisterParameterError(t *testing.T) {
	var b nn.Base
	if err := b.RegisterParameter("ids", torch.FromInt64([]int64{1, 2})).Err(); err == nil {
		t.Error("an int64 parameter registered without error")
	}
	l := nn.NewLinear(2, 2, true)
	l.Weight.Free()
	if err := nn.ZeroGrad(l); err == nil {
		t.Error("ZeroGrad of a module with a freed parameter: no error")
	}
}
