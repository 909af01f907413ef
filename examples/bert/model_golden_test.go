package bert

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/opentensor/bittensor-go/examples/bert/wordpiece"
	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
)

// goldenCase is one value of testdata/golden.json.
type goldenCase struct {
	Shape []int64   `json:"shape"`
	Data  []float64 `json:"data"`
}

func loadGolden(t *testing.T) map[string]goldenCase {
	t.Helper()
	b, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatalf("%v (regenerate with /usr/bin/python3 examples/bert/testdata/gen_golden.py)", err)
	}
	var g map[string]goldenCase
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// pattern is gen_golden.py's pat: ((j·k + off) mod 17 − 8) / 8 · scale.
func pattern(shape []int64, k, off int, scale float64) *torch.Tensor {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	v := make([]float32, n)
	for j := range v {
		v[j] = float32(float64((j*k+off)%17-8) / 8 * scale)
	}
	return torch.FromFloat32(v, shape...)
}

// fill sets parameter i (sorted by name) to pattern(k = 3 + 2·(i mod 7), off = i).
func fill(t *testing.T, m nn.Module, scale float64) []string {
	t.Helper()
	named := nn.NamedParameters(m)
	names := make([]string, 0, len(named))
	for n := range named {
		names = append(names, n)
	}
	slices.Sort(names)
	for i, n := range names {
		if err := named[n].CopyFrom(pattern(named[n].Shape(), 3+2*(i%7), i, scale)); err != nil {
			t.Fatal(n, err)
		}
	}
	return names
}

func check(t *testing.T, g map[string]goldenCase, name string, got *torch.Tensor, rtol, atol float64) {
	t.Helper()
	want, ok := g[name]
	if !ok {
		t.Fatalf("no golden %q", name)
	}
	if err := got.Err(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if !slices.Equal(got.Shape(), want.Shape) {
		t.Fatalf("%s: shape %v, want %v", name, got.Shape(), want.Shape)
	}
	vals, err := got.Detach().ToDType(torch.Float64).Float64s()
	if err != nil {
		t.Fatal(err)
	}
	for i := range vals {
		if !(math.Abs(vals[i]-want.Data[i]) <= atol+rtol*math.Abs(want.Data[i])) {
			t.Fatalf("%s: element %d is %v, PyTorch %v", name, i, vals[i], want.Data[i])
		}
	}
}

// smallVocab is a 40-piece vocabulary with [PAD] at 0.
func smallVocab(t *testing.T) *wordpiece.Tokenizer {
	t.Helper()
	lines := []string{"[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"}
	for i := len(lines); i < 40; i++ {
		lines = append(lines, fmt.Sprintf("w%d", i))
	}
	tok, err := wordpiece.New(strings.NewReader(strings.Join(lines, "\n")), true)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func runGolden(t *testing.T, g map[string]goldenCase, prefix string, m *Model, scale float64,
	ids [][2][]int64, network *torch.Tensor, labels []int64, full bool) {
	t.Helper()
	names := fill(t, m, scale)
	var data []int64
	for _, row := range ids {
		data = append(data, row[0]...)
		data = append(data, row[1]...)
	}
	x := torch.FromInt64(data, int64(len(ids)), 2, int64(len(ids[0][0])))
	y := torch.FromInt64(labels, int64(len(labels)))
	check(t, g, prefix+"/encode", m.Encode(x), 1e-4, 1e-5)
	out := m.Forward(x, network, y)
	check(t, g, prefix+"/local_target", out.LocalTarget, 1e-4, 1e-5)
	check(t, g, prefix+"/network_target", out.NetworkTarget, 1e-4, 1e-5)
	check(t, g, prefix+"/distillation", out.DistillationLoss, 1e-4, 1e-6)
	check(t, g, prefix+"/loss", out.Loss, 1e-4, 1e-6)
	if err := out.Loss.Backward(); err != nil {
		t.Fatal(err)
	}
	named := nn.NamedParameters(m)
	for _, n := range names {
		grad := named[n].Grad()
		if grad == nil {
			grad = named[n].ZerosLike()
		}
		if full {
			check(t, g, prefix+"/grad/"+n, grad, 1e-3, 1e-5)
			continue
		}
		g64 := grad.ToDType(torch.Float64)
		stat := torch.Stack([]*torch.Tensor{g64.Sum(), g64.Mul(g64).Sum()}, 0)
		check(t, g, prefix+"/gradstat/"+n, stat, 2e-3, 1e-6)
	}
}

// TestModelGoldenSmall compares every output and every parameter gradient
// with PyTorch's for a small model, padding included.
func TestModelGoldenSmall(t *testing.T) {
	g := loadGolden(t)
	cfg := Config{Vocab: 40, MaxLen: 8, Hidden: 8, Heads: 2, Intermediate: 16, Layers: 2}
	m, err := NewModel(cfg, smallVocab(t))
	if err != nil {
		t.Fatal(err)
	}
	ids := [][2][]int64{
		{{1, 5, 7, 2, 9, 2}, {0, 0, 0, 0, 1, 1}},
		{{1, 3, 2, 0, 0, 0}, {0, 0, 0, 0, 0, 0}},
		{{1, 39, 38, 2, 4, 2}, {0, 0, 0, 0, 1, 1}},
	}
	runGolden(t, g, "small", m, 0.25, ids, pattern([]int64{3, 8}, 5, 2, 0.5), []int64{0, 1, 1}, true)
}

// TestModelGoldenReal does the same at the neuron's own sizes, comparing
// each gradient's sum and sum of squares.
func TestModelGoldenReal(t *testing.T) {
	if testing.Short() {
		t.Skip("the real model's golden in -short mode")
	}
	g := loadGolden(t)
	cfg := DefaultConfig()
	cfg.Dropout = 0
	m, err := NewModel(cfg, wordpiece.Default())
	if err != nil {
		t.Fatal(err)
	}
	ids := [][2][]int64{
		{{101, 7592, 1010, 2088, 999, 102, 2009, 102}, {0, 0, 0, 0, 0, 0, 1, 1}},
		{{101, 1996, 4248, 102, 3899, 102, 0, 0}, {0, 0, 0, 0, 1, 1, 0, 0}},
	}
	runGolden(t, g, "real", m, 0.05, ids, pattern([]int64{2, 256}, 5, 2, 0.5), []int64{1, 0}, false)
}
