package torch_test

import (
	"testing"

	"github.com/opentensor/bittensor-go/torch"
)

func TestIndexingGolden(t *testing.T) {
	x := p(7, 0, 4, 3)
	topV, topI := x.TopK(2, 1, true)
	smallV, smallI := x.TopK(3, 0, false)
	sort0V, sort0I := x.Sort(0, false)
	sort1V, sort1I := x.Sort(1, true)
	checkGolden(t, []goldenCase{
		{"index_select", func() *torch.Tensor { return x.IndexSelect(0, i64(2, 0, 2)) }},
		{"gather", func() *torch.Tensor {
			return x.Gather(1, torch.FromInt64([]int64{0, 2, 1, 1, 2, 0, 0, 0}, 4, 2))
		}},
		{"scatter", func() *torch.Tensor {
			return x.Scatter(1, torch.FromInt64([]int64{0, 2, 1, 0}, 4, 1), p(5, 3, 4, 1))
		}},
		{"index_add", func() *torch.Tensor { return x.IndexAdd(0, i64(0, 2, 0), p(5, 2, 3, 3)) }},
		{"nonzero", func() *torch.Tensor { return x.GtScalar(0.2).Nonzero() }},
		{"masked_fill", func() *torch.Tensor { return x.MaskedFill(x.LtScalar(0), -9) }},
		{"where", func() *torch.Tensor { return torch.Where(x.GtScalar(0), x, p(3, 1, 3)) }},
		{"topk_values", func() *torch.Tensor { return topV }},
		{"topk_indices", func() *torch.Tensor { return topI }},
		{"topk_small_values", func() *torch.Tensor { return smallV }},
		{"topk_small_indices", func() *torch.Tensor { return smallI }},
		{"sort_0_values", func() *torch.Tensor { return sort0V }},
		{"sort_0_indices", func() *torch.Tensor { return sort0I }},
		{"sort_1_desc_values", func() *torch.Tensor { return sort1V }},
		{"sort_1_desc_indices", func() *torch.Tensor { return sort1I }},
	})
	for _, idx := range []*torch.Tensor{topI, sort0I, x.GtScalar(0.2).Nonzero(), x.Argmax(1, false)} {
		if d := idx.DType(); d != torch.Int64 {
			t.Errorf("index tensor dtype %v, want int64", d)
		}
	}
}

func TestJoinSplitGolden(t *testing.T) {
	a, r := p(7, 0, 2, 3), p(11, 4, 2, 3, 4)
	splits, err := r.Split(3, 2)
	if err != nil {
		t.Fatal(err)
	}
	chunks, err := r.Chunk(2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(splits) != 2 || len(chunks) != 2 {
		t.Fatalf("split into %d, chunk into %d pieces; want 2 and 2", len(splits), len(chunks))
	}
	checkGolden(t, []goldenCase{
		{"cat_0", func() *torch.Tensor { return torch.Cat([]*torch.Tensor{a, p(3, 1, 1, 3)}, 0) }},
		{"cat_1", func() *torch.Tensor { return torch.Cat([]*torch.Tensor{a, p(5, 2, 2, 2)}, 1) }},
		{"stack_1", func() *torch.Tensor { return torch.Stack([]*torch.Tensor{a, a.MulScalar(2)}, 1) }},
		{"split_3_2_0", func() *torch.Tensor { return splits[0] }},
		{"split_3_2_1", func() *torch.Tensor { return splits[1] }},
		{"chunk_2_1_0", func() *torch.Tensor { return chunks[0] }},
		{"chunk_2_1_1", func() *torch.Tensor { return chunks[1] }},
	})
}

func TestJoinSplitErrors(t *testing.T) {
	a := p(7, 0, 2, 3)
	if err := torch.Cat(nil, 0).Err(); err == nil {
		t.Error("cat of no tensors: no error")
	}
	if err := torch.Cat([]*torch.Tensor{a, p(3, 1, 2, 2)}, 0).Err(); err == nil {
		t.Error("cat of mismatched shapes: no error")
	}
	if err := torch.Stack([]*torch.Tensor{a, p(3, 1, 3, 2)}, 0).Err(); err == nil {
		t.Error("stack of mismatched shapes: no error")
	}
	if _, err := a.Split(1, 5); err == nil {
		t.Error("split along a missing dimension: no error")
	}
	if _, err := torch.Errorf("boom").Chunk(2, 0); err == nil || err.Error() != "boom" {
		t.Errorf("chunk of a failed tensor: %v, want its error", err)
	}
}
