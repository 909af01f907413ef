// Package testutil holds what the tests of torch, torch/nn and torch/optim
// share: the deterministic input pattern that torch/testdata/gen_golden.py
// also uses, and a reader of the golden values that script writes.
package testutil

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"testing"

	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
)

// Pat64 returns the values ((i·k + off) mod 17 − 8) / 8 for i < numel(shape):
// multiples of 1/8 in [−1, 1], exact in float32, distinct within 17
// consecutive elements. gen_golden.py's pat() computes the same.
func Pat64(shape []int64, k, off int) []float64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = float64((i*k+off)%17-8) / 8
	}
	return out
}

// Pat returns Pat64 as float32.
func Pat(shape []int64, k, off int) []float32 {
	v := Pat64(shape, k, off)
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// P returns a float32 tensor of the given shape filled by Pat.
func P(shape []int64, k, off int) *torch.Tensor {
	return torch.FromFloat32(Pat(shape, k, off), shape...)
}

// P64 returns a float64 tensor of the given shape filled by Pat64.
func P64(shape []int64, k, off int) *torch.Tensor {
	return torch.FromFloat64(Pat64(shape, k, off), shape...)
}

// Case is one golden value: a shape and its data in C order.
type Case struct {
	Shape []int64   `json:"shape"`
	Data  []float64 `json:"data"`
	Names []string  `json:"names"`
}

// Golden is the set of cases of one golden.json file.
type Golden map[string]Case

// LoadGolden reads a golden.json written by gen_golden.py.
func LoadGolden(tb testing.TB, path string) Golden {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("golden values: %v (regenerate with /usr/bin/python3 torch/testdata/gen_golden.py)", err)
	}
	var g Golden
	if err := json.Unmarshal(b, &g); err != nil {
		tb.Fatalf("golden values %s: %v", path, err)
	}
	return g
}

// Get returns the case called name, failing the test when there is none.
func (g Golden) Get(tb testing.TB, name string) Case {
	tb.Helper()
	c, ok := g[name]
	if !ok {
		tb.Fatalf("no golden case %q (regenerate the golden files)", name)
	}
	return c
}

// Check compares got (any dtype; bools compare as 0/1) with the golden case
// name: the same shape, and every value within atol + rtol·|want|.
func (g Golden) Check(tb testing.TB, name string, got *torch.Tensor, rtol, atol float64) {
	tb.Helper()
	want := g.Get(tb, name)
	if err := got.Err(); err != nil {
		tb.Errorf("%s: %v", name, err)
		return
	}
	if !slices.Equal(got.Shape(), want.Shape) {
		tb.Errorf("%s: shape %v, want %v", name, got.Shape(), want.Shape)
		return
	}
	vals, err := Values(got)
	if err != nil {
		tb.Errorf("%s: %v", name, err)
		return
	}
	if err := Close(vals, want.Data, rtol, atol); err != nil {
		tb.Errorf("%s: %v\n got  %v\n want %v", name, err, vals, want.Data)
	}
}

// Values copies any tensor's values out as float64.
func Values(t *torch.Tensor) ([]float64, error) {
	return t.Detach().ToDType(torch.Float64).Float64s()
}

// MustValues is Values that fails the test on error.
func MustValues(tb testing.TB, t *torch.Tensor) []float64 {
	tb.Helper()
	v, err := Values(t)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// Close reports the first element where got and want differ by more than
// atol + rtol·|want| (NaNs must match NaNs).
func Close(got, want []float64, rtol, atol float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d values, want %d", len(got), len(want))
	}
	for i := range got {
		if math.IsNaN(want[i]) && math.IsNaN(got[i]) {
			continue
		}
		if !(math.Abs(got[i]-want[i]) <= atol+rtol*math.Abs(want[i])) {
			return fmt.Errorf("element %d: %v, want %v", i, got[i], want[i])
		}
	}
	return nil
}

// StateValues snapshots a module's parameters and buffers as float64 values.
func StateValues(tb testing.TB, m nn.Module) map[string][]float64 {
	tb.Helper()
	out := map[string][]float64{}
	for n, v := range nn.StateDict(m) {
		out[n] = MustValues(tb, v)
	}
	return out
}

// SameState reports whether two snapshots hold the same names and values.
func SameState(a, b map[string][]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for n, v := range a {
		w, ok := b[n]
		if !ok || !slices.Equal(v, w) {
			return false
		}
	}
	return true
}
