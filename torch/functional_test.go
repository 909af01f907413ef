package torch_test

import (
	"math"
	"testing"

	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/internal/testutil"
)

func TestConvPoolGolden(t *testing.T) {
	x, w, b := p(5, 0, 2, 3, 5, 5), p(3, 1, 4, 3, 3, 3), p(7, 2, 4)
	pl := p(5, 3, 1, 2, 6, 6)
	checkGolden(t, []goldenCase{
		{"conv2d", func() *torch.Tensor { return torch.Conv2d(x, w, b, torch.Conv2dOptions{}) }},
		{"conv2d_s2_p1", func() *torch.Tensor {
			return torch.Conv2d(x, w, b, torch.Conv2dOptions{Stride: [2]int64{2, 2}, Padding: [2]int64{1, 1}})
		}},
		{"conv2d_nobias", func() *torch.Tensor { return torch.Conv2d(x, w, nil, torch.Conv2dOptions{}) }},
		{"conv2d_g2_d2_p2", func() *torch.Tensor {
			return torch.Conv2d(p(3, 2, 1, 4, 5, 5), p(5, 1, 4, 2, 3, 3), nil,
				torch.Conv2dOptions{Padding: [2]int64{2, 2}, Dilation: [2]int64{2, 2}, Groups: 2})
		}},
		{"max_pool_k2", func() *torch.Tensor { return torch.MaxPool2d(pl, [2]int64{2, 2}, [2]int64{}, [2]int64{}) }},
		{"max_pool_k3_s2_p1", func() *torch.Tensor {
			return torch.MaxPool2d(pl, [2]int64{3, 3}, [2]int64{2, 2}, [2]int64{1, 1})
		}},
		{"avg_pool_k2", func() *torch.Tensor { return torch.AvgPool2d(pl, [2]int64{2, 2}, [2]int64{}, [2]int64{}) }},
		{"avg_pool_k3_s1_p1", func() *torch.Tensor {
			return torch.AvgPool2d(pl, [2]int64{3, 3}, [2]int64{1, 1}, [2]int64{1, 1})
		}},
		{"adaptive_avg_4_3", func() *torch.Tensor { return torch.AdaptiveAvgPool2d(pl, [2]int64{4, 3}) }},
		{"adaptive_max_2_2", func() *torch.Tensor { return torch.AdaptiveMaxPool2d(pl, [2]int64{2, 2}) }},
		{"adaptive_avg_1_1", func() *torch.Tensor { return torch.AdaptiveAvgPool2d(pl, [2]int64{1, 1}) }},
	})
}

func TestBatchNormGolden(t *testing.T) {
	g := testutil.LoadGolden(t, golden)
	x, w, b := p(7, 0, 4, 3, 2, 2), p(5, 1, 3).AddScalar(1.5), p(3, 2, 3)

	rm, rv := torch.Zeros([]int64{3}), torch.Ones([]int64{3})
	g.Check(t, "batch_norm_train", torch.BatchNorm(x, w, b, rm, rv, true, 0.1, 1e-5), 1e-5, 1e-5)
	// Training updates the running statistics in place.
	g.Check(t, "batch_norm_train_running_mean", rm, 1e-5, 1e-6)
	g.Check(t, "batch_norm_train_running_var", rv, 1e-5, 1e-6)

	rm2, rv2 := p(3, 0, 3), p(5, 4, 3).Abs().AddScalar(0.5)
	before := testutil.MustValues(t, rm2)
	g.Check(t, "batch_norm_eval", torch.BatchNorm(x, w, b, rm2, rv2, false, 0.1, 1e-5), 1e-5, 1e-5)
	// Evaluation reads them and leaves them alone.
	if err := testutil.Close(testutil.MustValues(t, rm2), before, 0, 0); err != nil {
		t.Errorf("eval batch norm changed the running mean: %v", err)
	}
	// Without running statistics, evaluation mode is an error from libtorch, not a crash.
	if err := torch.BatchNorm(x, nil, nil, nil, nil, false, 0.1, 1e-5).Err(); err == nil {
		t.Error("eval batch norm without running stats: no error")
	}
	if err := torch.BatchNorm(x, p(5, 1, 4), nil, nil, nil, true, 0.1, 1e-5).Err(); err == nil {
		t.Error("batch norm with a weight of the wrong size: no error")
	}
}

func TestLayerNormGolden(t *testing.T) {
	x := p(7, 3, 2, 3, 4)
	checkGolden(t, []goldenCase{
		{"layer_norm_4", func() *torch.Tensor {
			return torch.LayerNorm(x, []int64{4}, p(5, 0, 4).AddScalar(1.5), p(3, 1, 4), 1e-5)
		}},
		{"layer_norm_3_4", func() *torch.Tensor { return torch.LayerNorm(x, []int64{3, 4}, nil, nil, 1e-5) }},
	})
	if err := torch.LayerNorm(x, []int64{5}, nil, nil, 1e-5).Err(); err == nil {
		t.Error("layer norm over a shape the input does not end with: no error")
	}
}

func TestEmbeddingGolden(t *testing.T) {
	g := testutil.LoadGolden(t, golden)
	w := p(7, 0, 5, 3).SetRequiresGrad(true)
	ids := torch.FromInt64([]int64{0, 4, 2, 2}, 2, 2)
	e := torch.Embedding(w, ids, 2)
	g.Check(t, "embedding", e, 0, 0)
	if err := e.Mul(p(5, 1, 2, 2, 3)).Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	g.Check(t, "embedding_pad2_grad", w.Grad(), 1e-6, 1e-6)

	if err := torch.Embedding(w, i64(5), -1).Err(); err == nil {
		t.Error("embedding index out of range: no error")
	}
	if err := torch.Embedding(w, p(7, 0, 2), -1).Err(); err == nil {
		t.Error("embedding with float indices: no error")
	}
}

func TestLossesGolden(t *testing.T) {
	logits, tgt := p(7, 0, 4, 5), i64(1, 0, 4, 2)
	lp := logits.LogSoftmax(1)
	x, y := p(7, 0, 2, 3), p(5, 1, 2, 3)
	checkGolden(t, []goldenCase{
		{"nll_mean", func() *torch.Tensor { return torch.NLLLoss(lp, tgt, torch.ReduceMean) }},
		{"nll_sum", func() *torch.Tensor { return torch.NLLLoss(lp, tgt, torch.ReduceSum) }},
		{"nll_none", func() *torch.Tensor { return torch.NLLLoss(lp, tgt, torch.ReduceNone) }},
		{"cross_entropy_mean", func() *torch.Tensor { return torch.CrossEntropy(logits, tgt, torch.ReduceMean) }},
		{"cross_entropy_none", func() *torch.Tensor { return torch.CrossEntropy(logits, tgt, torch.ReduceNone) }},
		{"mse_mean", func() *torch.Tensor { return torch.MSELoss(x, y, torch.ReduceMean) }},
		{"mse_sum", func() *torch.Tensor { return torch.MSELoss(x, y, torch.ReduceSum) }},
		{"mse_none", func() *torch.Tensor { return torch.MSELoss(x, y, torch.ReduceNone) }},
	})
	if err := torch.NLLLoss(lp, i64(1, 0, 5, 2), torch.ReduceMean).Err(); err == nil {
		t.Error("nll loss with a target out of range: no error")
	}
	if err := torch.CrossEntropy(logits, i64(1, 0), torch.ReduceMean).Err(); err == nil {
		t.Error("cross entropy with too few targets: no error")
	}
	if err := torch.MSELoss(x, y, torch.Reduction(7)).Err(); err == nil {
		t.Error("unknown reduction: no error")
	}
}

func TestDropout(t *testing.T) {
	const n, prob = 20000, 0.3
	x := torch.Full([]int64{n}, 2)
	torch.ManualSeed(1)
	y, err := torch.Dropout(x, prob, true).Float32s()
	if err != nil {
		t.Fatal(err)
	}
	zeros := 0
	for i, v := range y {
		switch {
		case v == 0:
			zeros++
		case math.Abs(float64(v)-2/(1-prob)) > 1e-5:
			t.Fatalf("element %d = %v: survivors must be scaled to 2/(1-p) = %v", i, v, 2/(1-prob))
		}
	}
	// 20000 Bernoulli(0.3) draws: the standard deviation of the fraction is 0.0032.
	if frac := float64(zeros) / n; math.Abs(frac-prob) > 0.02 {
		t.Errorf("dropout zeroed %.3f of the elements, want about %.1f", frac, prob)
	}

	// Evaluation mode is the identity.
	z, err := torch.Dropout(x, prob, false).Float32s()
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range z {
		if v != 2 {
			t.Fatalf("eval dropout changed element %d to %v", i, v)
		}
	}
	// The same seed drops the same elements.
	torch.ManualSeed(1)
	y2, err := torch.Dropout(x, prob, true).Float32s()
	if err != nil {
		t.Fatal(err)
	}
	for i := range y {
		if y[i] != y2[i] {
			t.Fatalf("dropout after the same seed differs at %d", i)
		}
	}
	if err := torch.Dropout(x, 1.5, true).Err(); err == nil {
		t.Error("dropout probability 1.5: no error")
	}
}
