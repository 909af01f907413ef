package nn

import (
	"math"
	"strconv"

	"github.com/opentensor/bittensor-go/torch"
)

// uniform returns U(-bound, bound) values of the given shape.
func uniform(shape []int64, bound float64) *torch.Tensor {
	return torch.Rand(shape).MulScalar(2 * bound).SubScalar(bound)
}

// Linear is y = x·Wᵀ + b, initialised as PyTorch does (U(±1/√in)).
type Linear struct {
	Base
	Weight, Bias *torch.Tensor
}

// NewLinear returns a Linear layer from in to out features.
func NewLinear(in, out int64, bias bool) *Linear {
	l := &Linear{}
	bound := 1 / math.Sqrt(float64(in))
	l.Weight = l.RegisterParameter("weight", uniform([]int64{out, in}, bound))
	if bias {
		l.Bias = l.RegisterParameter("bias", uniform([]int64{out}, bound))
	}
	return l
}

// Forward applies the layer.
func (l *Linear) Forward(x *torch.Tensor) *torch.Tensor { return torch.Linear(x, l.Weight, l.Bias) }

// Conv2d is a 2-D convolution layer.
type Conv2d struct {
	Base
	Weight, Bias *torch.Tensor
	Options      torch.Conv2dOptions
}

// NewConv2d returns a convolution from in to out channels with a k×k kernel.
// opts.Groups zero means 1; bias adds a per-channel bias.
func NewConv2d(in, out, k int64, opts torch.Conv2dOptions, bias bool) *Conv2d {
	c := &Conv2d{Options: opts}
	groups := opts.Groups
	if groups == 0 {
		groups = 1
	}
	bound := 1 / math.Sqrt(float64(in/groups*k*k))
	c.Weight = c.RegisterParameter("weight", uniform([]int64{out, in / groups, k, k}, bound))
	if bias {
		c.Bias = c.RegisterParameter("bias", uniform([]int64{out}, bound))
	}
	return c
}

// Forward applies the convolution to x [N,C,H,W].
func (c *Conv2d) Forward(x *torch.Tensor) *torch.Tensor {
	return torch.Conv2d(x, c.Weight, c.Bias, c.Options)
}

// BatchNorm2d normalises each channel of [N,C,H,W] inputs.
type BatchNorm2d struct {
	Base
	Weight, Bias, RunningMean, RunningVar *torch.Tensor
	Momentum, Eps                         float64
}

// NewBatchNorm2d returns batch normalisation over n channels (momentum 0.1, eps 1e-5).
func NewBatchNorm2d(n int64) *BatchNorm2d {
	b := &BatchNorm2d{Momentum: 0.1, Eps: 1e-5}
	b.Weight = b.RegisterParameter("weight", torch.Ones([]int64{n}))
	b.Bias = b.RegisterParameter("bias", torch.Zeros([]int64{n}))
	b.RunningMean = b.RegisterBuffer("running_mean", torch.Zeros([]int64{n}))
	b.RunningVar = b.RegisterBuffer("running_var", torch.Ones([]int64{n}))
	return b
}

// Forward normalises x, updating the running statistics in training mode.
func (b *BatchNorm2d) Forward(x *torch.Tensor) *torch.Tensor {
	return torch.BatchNorm(x, b.Weight, b.Bias, b.RunningMean, b.RunningVar, b.IsTraining(), b.Momentum, b.Eps)
}

// LayerNorm normalises over the last dimensions of its input.
type LayerNorm struct {
	Base
	Weight, Bias *torch.Tensor
	Shape        []int64
	Eps          float64
}

// NewLayerNorm returns layer normalisation over trailing dimensions shape (eps 1e-5).
func NewLayerNorm(shape ...int64) *LayerNorm {
	l := &LayerNorm{Shape: shape, Eps: 1e-5}
	l.Weight = l.RegisterParameter("weight", torch.Ones(shape))
	l.Bias = l.RegisterParameter("bias", torch.Zeros(shape))
	return l
}

// Forward normalises x.
func (l *LayerNorm) Forward(x *torch.Tensor) *torch.Tensor {
	return torch.LayerNorm(x, l.Shape, l.Weight, l.Bias, l.Eps)
}

// Dropout zeroes inputs with probability P in training mode.
type Dropout struct {
	Base
	P float64
}

// NewDropout returns a dropout layer.
func NewDropout(p float64) *Dropout { return &Dropout{P: p} }

// Forward applies dropout in training mode and is the identity in eval mode.
func (d *Dropout) Forward(x *torch.Tensor) *torch.Tensor {
	return torch.Dropout(x, d.P, d.IsTraining())
}

// Embedding maps integer ids to learned vectors.
type Embedding struct {
	Base
	Weight     *torch.Tensor
	PaddingIdx int64
}

// NewEmbedding returns n embeddings of size dim, initialised N(0, 1).
func NewEmbedding(n, dim int64) *Embedding {
	e := &Embedding{PaddingIdx: -1}
	e.Weight = e.RegisterParameter("weight", torch.Randn([]int64{n, dim}))
	return e
}

// Forward looks up the embeddings of ids (int64).
func (e *Embedding) Forward(ids *torch.Tensor) *torch.Tensor {
	return torch.Embedding(e.Weight, ids, e.PaddingIdx)
}

// Sequential chains layers.
type Sequential struct {
	Base
	Layers []Layer
}

// NewSequential returns the layers chained in order (registered as "0", "1", …).
func NewSequential(layers ...Layer) *Sequential {
	s := &Sequential{Layers: layers}
	for i, l := range layers {
		s.RegisterModule(strconv.Itoa(i), l)
	}
	return s
}

// Forward runs x through every layer.
func (s *Sequential) Forward(x *torch.Tensor) *torch.Tensor {
	for _, l := range s.Layers {
		x = l.Forward(x)
	}
	return x
}

// Func is a parameter-free layer made from a function (an activation, say).
type Func struct {
	Base
	F func(*torch.Tensor) *torch.Tensor
}

// NewFunc wraps f as a layer.
func NewFunc(f func(*torch.Tensor) *torch.Tensor) *Func { return &Func{F: f} }

// Forward applies F.
func (f *Func) Forward(x *torch.Tensor) *torch.Tensor { return f.F(x) }

// ReLU returns a ReLU activation layer.
func ReLU() *Func { return NewFunc((*torch.Tensor).Relu) }
