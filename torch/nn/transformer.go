package nn

import (
	"fmt"
	"math"
	"strconv"

	"github.com/opentensor/bittensor-go/torch"
)

// The layers of this file take the dropout switch as an argument instead of
// reading the module's mode (IsTraining): a model that a Trainer trains
// while an Axon serves it runs training and serving forwards at the same
// time, and only the caller knows which one it runs. Pass m.IsTraining()
// for PyTorch's behaviour.

// GELU returns a GELU activation layer (the exact, erf-based form).
func GELU() *Func { return NewFunc((*torch.Tensor).Gelu) }

// MultiheadSelfAttention is BERT's self-attention: separate query, key and
// value projections of the input, scaled dot-product attention in Heads
// heads, and an output projection, with dropout on the attention
// probabilities. Parameter names follow PyTorch's nn.Linear: query.weight,
// query.bias, key.*, value.*, out.*.
type MultiheadSelfAttention struct {
	Base
	Query, Key, Value, Out *Linear
	Heads                  int64
	Dropout                float64
}

// NewMultiheadSelfAttention returns self-attention over dim features in
// heads heads (dim must be a multiple of heads), with dropout p on the
// attention probabilities.
func NewMultiheadSelfAttention(dim, heads int64, p float64) (*MultiheadSelfAttention, error) {
	if dim < 1 || heads < 1 || dim%heads != 0 {
		return nil, fmt.Errorf("nn: attention over %d features in %d heads: want a positive multiple of heads", dim, heads)
	}
	if !(p >= 0 && p < 1) {
		return nil, fmt.Errorf("nn: attention dropout %v: want [0, 1)", p)
	}
	a := &MultiheadSelfAttention{Heads: heads, Dropout: p}
	a.Query = Register(a, "query", NewLinear(dim, dim, true))
	a.Key = Register(a, "key", NewLinear(dim, dim, true))
	a.Value = Register(a, "value", NewLinear(dim, dim, true))
	a.Out = Register(a, "out", NewLinear(dim, dim, true))
	return a, nil
}

// PaddingMask turns a [batch, seq] mask that is true (non-zero) at the
// positions to attend to into the additive form Forward takes: a bool
// [batch, 1, 1, seq] tensor, true at the positions to ignore.
func PaddingMask(attend *torch.Tensor) *torch.Tensor {
	return attend.EqScalar(0).Unsqueeze(1).Unsqueeze(1)
}

// Forward attends x [batch, seq, dim] to itself. ignore, when not nil, is a
// bool tensor that broadcasts to [batch, heads, seq, seq] (PaddingMask
// makes one from a [batch, seq] mask): true where a query must not see a
// key. Every query must see at least one key, or its output is NaN.
// Dropout applies when train is true.
func (a *MultiheadSelfAttention) Forward(x, ignore *torch.Tensor, train bool) *torch.Tensor {
	if err := x.Err(); err != nil {
		return x
	}
	shape := x.Shape()
	if len(shape) != 3 {
		return torch.Errorf("nn: attention input of shape %v, want [batch seq dim]", shape)
	}
	b, l, dim := shape[0], shape[1], shape[2]
	hd := dim / a.Heads
	// Every intermediate is freed on return (see torch.Free).
	var tmp []*torch.Tensor
	defer func() { torch.Free(tmp...) }()
	t := func(r *torch.Tensor) *torch.Tensor { tmp = append(tmp, r); return r }
	heads := func(proj *Linear) *torch.Tensor { // [b, l, dim] → [b, heads, l, hd]
		return t(t(t(proj.Forward(x)).View(b, l, a.Heads, hd)).Transpose(1, 2))
	}
	q, k, v := heads(a.Query), heads(a.Key), heads(a.Value)
	scores := t(t(q.Matmul(t(k.Transpose(2, 3)))).DivScalar(math.Sqrt(float64(hd)))) // [b, heads, l, l]
	if ignore != nil {
		scores = t(scores.MaskedFill(ignore, math.Inf(-1)))
	}
	probs := t(torch.Dropout(t(scores.Softmax(3)), a.Dropout, train))
	ctx := t(t(t(probs.Matmul(v)).Transpose(1, 2)).Reshape(b, l, dim))
	return a.Out.Forward(ctx)
}

// TransformerEncoderLayer is BERT's encoder layer, with the layer norm
// after each residual sum (post-LN):
//
//	h   = norm1(x + dropout(attention(x)))
//	out = norm2(h + dropout(fc2(gelu(fc1(h)))))
type TransformerEncoderLayer struct {
	Base
	Attention    *MultiheadSelfAttention
	FC1, FC2     *Linear
	Norm1, Norm2 *LayerNorm
	Dropout      float64
}

// EncoderConfig sizes a Transformer encoder.
type EncoderConfig struct {
	// Dim is the width of the hidden states; Heads divides it.
	Dim, Heads int64
	// Intermediate is the width of the feed-forward layer.
	Intermediate int64
	// Layers is the number of encoder layers of a TransformerEncoder.
	Layers int
	// Dropout is the dropout probability of the residual branches and of
	// the attention probabilities.
	Dropout float64
	// NormEps is the layer norms' epsilon (BERT: 1e-12).
	NormEps float64
}

// NewTransformerEncoderLayer returns one encoder layer sized by c.
func NewTransformerEncoderLayer(c EncoderConfig) (*TransformerEncoderLayer, error) {
	if c.Intermediate < 1 || !(c.NormEps > 0) {
		return nil, fmt.Errorf("nn: encoder layer: intermediate %d, norm eps %v: want both positive", c.Intermediate, c.NormEps)
	}
	att, err := NewMultiheadSelfAttention(c.Dim, c.Heads, c.Dropout)
	if err != nil {
		return nil, err
	}
	e := &TransformerEncoderLayer{Dropout: c.Dropout}
	e.Attention = Register(e, "attention", att)
	e.Norm1 = Register(e, "norm1", NewLayerNorm(c.Dim))
	e.FC1 = Register(e, "fc1", NewLinear(c.Dim, c.Intermediate, true))
	e.FC2 = Register(e, "fc2", NewLinear(c.Intermediate, c.Dim, true))
	e.Norm2 = Register(e, "norm2", NewLayerNorm(c.Dim))
	e.Norm1.Eps, e.Norm2.Eps = c.NormEps, c.NormEps
	return e, nil
}

// Forward runs the layer on x [batch, seq, dim]; ignore is as for
// MultiheadSelfAttention.Forward, and dropout applies when train is true.
func (e *TransformerEncoderLayer) Forward(x, ignore *torch.Tensor, train bool) *torch.Tensor {
	// Every intermediate is freed on return (see torch.Free).
	var tmp []*torch.Tensor
	defer func() { torch.Free(tmp...) }()
	t := func(r *torch.Tensor) *torch.Tensor { tmp = append(tmp, r); return r }
	att := t(torch.Dropout(t(e.Attention.Forward(x, ignore, train)), e.Dropout, train))
	h := t(e.Norm1.Forward(t(x.Add(att))))
	ff := t(e.FC2.Forward(t(t(e.FC1.Forward(h)).Gelu())))
	return e.Norm2.Forward(t(h.Add(t(torch.Dropout(ff, e.Dropout, train)))))
}

// TransformerEncoder is a stack of TransformerEncoderLayers, registered as
// "0", "1", ….
type TransformerEncoder struct {
	Base
	Layers []*TransformerEncoderLayer
}

// NewTransformerEncoder returns c.Layers encoder layers sized by c.
func NewTransformerEncoder(c EncoderConfig) (*TransformerEncoder, error) {
	if c.Layers < 1 {
		return nil, fmt.Errorf("nn: encoder of %d layers: want at least 1", c.Layers)
	}
	s := &TransformerEncoder{}
	for i := range c.Layers {
		l, err := NewTransformerEncoderLayer(c)
		if err != nil {
			return nil, err
		}
		s.Layers = append(s.Layers, Register(s, strconv.Itoa(i), l))
	}
	return s, nil
}

// Forward runs x [batch, seq, dim] through every layer.
func (s *TransformerEncoder) Forward(x, ignore *torch.Tensor, train bool) *torch.Tensor {
	for i, l := range s.Layers {
		next := l.Forward(x, ignore, train)
		if i > 0 {
			x.Free() // the previous layer's output; the caller's x stays
		}
		x = next
	}
	return x
}
