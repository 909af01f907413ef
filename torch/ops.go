package torch

// #include <stdlib.h>
// #include "bt_torch.h"
import "C"

import (
	"runtime"
	"unsafe"
)

func (t *Tensor) unary(op C.int, name string) *Tensor {
	if err := t.Err(); err != nil {
		return errTensor(err)
	}
	var h C.bt_tensor
	msg := C.bt_unary(op, t.h, &h)
	runtime.KeepAlive(t)
	return result(name, h, msg, t)
}

func (t *Tensor) binary(op C.int, name string, o *Tensor) *Tensor {
	if err := check(t, o); err != nil {
		return errTensor(err)
	}
	var h C.bt_tensor
	msg := C.bt_binary(op, t.h, o.h, &h)
	runtime.KeepAlive(t)
	runtime.KeepAlive(o)
	return result(name, h, msg, t, o)
}

func (t *Tensor) scalar(op C.int, name string, s float64) *Tensor {
	if err := t.Err(); err != nil {
		return errTensor(err)
	}
	var h C.bt_tensor
	msg := C.bt_scalar(op, t.h, C.double(s), &h)
	runtime.KeepAlive(t)
	return result(name, h, msg, t)
}

// Relu returns max(t, 0).
func (t *Tensor) Relu() *Tensor { return t.unary(C.BT_RELU, "relu") }

// Gelu returns the Gaussian error linear unit of t.
func (t *Tensor) Gelu() *Tensor { return t.unary(C.BT_GELU, "gelu") }

// Tanh returns tanh(t).
func (t *Tensor) Tanh() *Tensor { return t.unary(C.BT_TANH, "tanh") }

// Sigmoid returns 1/(1+exp(-t)).
func (t *Tensor) Sigmoid() *Tensor { return t.unary(C.BT_SIGMOID, "sigmoid") }

// Neg returns -t.
func (t *Tensor) Neg() *Tensor { return t.unary(C.BT_NEG, "neg") }

// Exp returns e^t.
func (t *Tensor) Exp() *Tensor { return t.unary(C.BT_EXP, "exp") }

// Log returns the natural logarithm of t.
func (t *Tensor) Log() *Tensor { return t.unary(C.BT_LOG, "log") }

// Sqrt returns the square root of t.
func (t *Tensor) Sqrt() *Tensor { return t.unary(C.BT_SQRT, "sqrt") }

// Rsqrt returns 1/sqrt(t).
func (t *Tensor) Rsqrt() *Tensor { return t.unary(C.BT_RSQRT, "rsqrt") }

// Square returns t².
func (t *Tensor) Square() *Tensor { return t.unary(C.BT_SQUARE, "square") }

// Abs returns |t|.
func (t *Tensor) Abs() *Tensor { return t.unary(C.BT_ABS, "abs") }

// Sign returns -1, 0 or 1 per element.
func (t *Tensor) Sign() *Tensor { return t.unary(C.BT_SIGN, "sign") }

// Floor rounds down.
func (t *Tensor) Floor() *Tensor { return t.unary(C.BT_FLOOR, "floor") }

// Sin returns sin(t).
func (t *Tensor) Sin() *Tensor { return t.unary(C.BT_SIN, "sin") }

// Cos returns cos(t).
func (t *Tensor) Cos() *Tensor { return t.unary(C.BT_COS, "cos") }

// IsNaN returns a bool tensor, true where t is NaN.
func (t *Tensor) IsNaN() *Tensor { return t.unary(C.BT_ISNAN, "isnan") }

// LogicalNot returns the element-wise logical negation.
func (t *Tensor) LogicalNot() *Tensor { return t.unary(C.BT_LOGICAL_NOT, "logical_not") }

// Detach returns a tensor sharing t's storage, outside the autograd graph.
func (t *Tensor) Detach() *Tensor { return t.unary(C.BT_DETACH, "detach") }

// Contiguous returns t laid out contiguously in memory.
func (t *Tensor) Contiguous() *Tensor { return t.unary(C.BT_CONTIGUOUS, "contiguous") }

// Clone returns a copy of t (differentiable).
func (t *Tensor) Clone() *Tensor { return t.unary(C.BT_CLONE, "clone") }

// T returns the transpose of a tensor of at most 2 dimensions.
func (t *Tensor) T() *Tensor { return t.unary(C.BT_T, "t") }

// ZerosLike returns zeros of t's shape, dtype and device.
func (t *Tensor) ZerosLike() *Tensor { return t.unary(C.BT_ZEROS_LIKE, "zeros_like") }

// OnesLike returns ones of t's shape, dtype and device.
func (t *Tensor) OnesLike() *Tensor { return t.unary(C.BT_ONES_LIKE, "ones_like") }

// Nonzero returns the indices of the non-zero elements, one row per element.
func (t *Tensor) Nonzero() *Tensor { return t.unary(C.BT_NONZERO, "nonzero") }

// Alias returns a second handle to the same tensor (same storage and graph),
// for code that must hand ownership of a handle elsewhere.
func (t *Tensor) Alias() *Tensor { return t.unary(C.BT_ALIAS, "alias") }

// Add returns t + o, broadcasting.
func (t *Tensor) Add(o *Tensor) *Tensor { return t.binary(C.BT_ADD, "add", o) }

// Sub returns t - o, broadcasting.
func (t *Tensor) Sub(o *Tensor) *Tensor { return t.binary(C.BT_SUB, "sub", o) }

// Mul returns t * o element-wise, broadcasting.
func (t *Tensor) Mul(o *Tensor) *Tensor { return t.binary(C.BT_MUL, "mul", o) }

// Div returns t / o element-wise, broadcasting.
func (t *Tensor) Div(o *Tensor) *Tensor { return t.binary(C.BT_DIV, "div", o) }

// Pow returns t ** o element-wise.
func (t *Tensor) Pow(o *Tensor) *Tensor { return t.binary(C.BT_POW, "pow", o) }

// Remainder returns t mod o (Python's sign convention).
func (t *Tensor) Remainder(o *Tensor) *Tensor { return t.binary(C.BT_REMAINDER, "remainder", o) }

// Maximum returns the element-wise maximum.
func (t *Tensor) Maximum(o *Tensor) *Tensor { return t.binary(C.BT_MAXIMUM, "maximum", o) }

// Minimum returns the element-wise minimum.
func (t *Tensor) Minimum(o *Tensor) *Tensor { return t.binary(C.BT_MINIMUM, "minimum", o) }

// Matmul returns the matrix product of t and o, with PyTorch's broadcasting rules.
func (t *Tensor) Matmul(o *Tensor) *Tensor { return t.binary(C.BT_MATMUL, "matmul", o) }

// Bmm returns the batched matrix product of two 3-D tensors.
func (t *Tensor) Bmm(o *Tensor) *Tensor { return t.binary(C.BT_BMM, "bmm", o) }

// Eq returns t == o element-wise (bool).
func (t *Tensor) Eq(o *Tensor) *Tensor { return t.binary(C.BT_EQ, "eq", o) }

// Ne returns t != o element-wise.
func (t *Tensor) Ne(o *Tensor) *Tensor { return t.binary(C.BT_NE, "ne", o) }

// Lt returns t < o element-wise.
func (t *Tensor) Lt(o *Tensor) *Tensor { return t.binary(C.BT_LT, "lt", o) }

// Le returns t <= o element-wise.
func (t *Tensor) Le(o *Tensor) *Tensor { return t.binary(C.BT_LE, "le", o) }

// Gt returns t > o element-wise.
func (t *Tensor) Gt(o *Tensor) *Tensor { return t.binary(C.BT_GT, "gt", o) }

// Ge returns t >= o element-wise.
func (t *Tensor) Ge(o *Tensor) *Tensor { return t.binary(C.BT_GE, "ge", o) }

// LogicalAnd returns the element-wise logical and.
func (t *Tensor) LogicalAnd(o *Tensor) *Tensor { return t.binary(C.BT_LOGICAL_AND, "logical_and", o) }

// LogicalOr returns the element-wise logical or.
func (t *Tensor) LogicalOr(o *Tensor) *Tensor { return t.binary(C.BT_LOGICAL_OR, "logical_or", o) }

// AddScalar returns t + s.
func (t *Tensor) AddScalar(s float64) *Tensor { return t.scalar(C.BT_S_ADD, "add", s) }

// SubScalar returns t - s.
func (t *Tensor) SubScalar(s float64) *Tensor { return t.scalar(C.BT_S_SUB, "sub", s) }

// RSubScalar returns s - t.
func (t *Tensor) RSubScalar(s float64) *Tensor { return t.scalar(C.BT_S_RSUB, "rsub", s) }

// MulScalar returns t * s.
func (t *Tensor) MulScalar(s float64) *Tensor { return t.scalar(C.BT_S_MUL, "mul", s) }

// DivScalar returns t / s.
func (t *Tensor) DivScalar(s float64) *Tensor { return t.scalar(C.BT_S_DIV, "div", s) }

// PowScalar returns t ** s.
func (t *Tensor) PowScalar(s float64) *Tensor { return t.scalar(C.BT_S_POW, "pow", s) }

// EqScalar returns t == s element-wise.
func (t *Tensor) EqScalar(s float64) *Tensor { return t.scalar(C.BT_S_EQ, "eq", s) }

// NeScalar returns t != s element-wise.
func (t *Tensor) NeScalar(s float64) *Tensor { return t.scalar(C.BT_S_NE, "ne", s) }

// LtScalar returns t < s element-wise.
func (t *Tensor) LtScalar(s float64) *Tensor { return t.scalar(C.BT_S_LT, "lt", s) }

// LeScalar returns t <= s element-wise.
func (t *Tensor) LeScalar(s float64) *Tensor { return t.scalar(C.BT_S_LE, "le", s) }

// GtScalar returns t > s element-wise.
func (t *Tensor) GtScalar(s float64) *Tensor { return t.scalar(C.BT_S_GT, "gt", s) }

// GeScalar returns t >= s element-wise.
func (t *Tensor) GeScalar(s float64) *Tensor { return t.scalar(C.BT_S_GE, "ge", s) }

// ClampMin returns max(t, s).
func (t *Tensor) ClampMin(s float64) *Tensor { return t.scalar(C.BT_S_CLAMP_MIN, "clamp_min", s) }

// ClampMax returns min(t, s).
func (t *Tensor) ClampMax(s float64) *Tensor { return t.scalar(C.BT_S_CLAMP_MAX, "clamp_max", s) }

// LeakyRelu returns t where t > 0 and slope·t elsewhere.
func (t *Tensor) LeakyRelu(slope float64) *Tensor {
	return t.scalar(C.BT_S_LEAKY_RELU, "leaky_relu", slope)
}

func (t *Tensor) reduce(op C.int, name string, keepdim bool, dims []int64) *Tensor {
	if err := t.Err(); err != nil {
		return errTensor(err)
	}
	var h C.bt_tensor
	msg := C.bt_reduce(op, t.h, int64Ptr(dims), C.int(len(dims)), cbool(keepdim), &h)
	runtime.KeepAlive(t)
	runtime.KeepAlive(dims)
	return result(name, h, msg, t)
}

// Sum sums over dims (all elements when none are given).
func (t *Tensor) Sum(dims ...int64) *Tensor { return t.reduce(C.BT_SUM, "sum", false, dims) }

// SumKeepDim sums over dims and keeps them with size 1.
func (t *Tensor) SumKeepDim(dims ...int64) *Tensor { return t.reduce(C.BT_SUM, "sum", true, dims) }

// Mean averages over dims (all elements when none are given).
func (t *Tensor) Mean(dims ...int64) *Tensor { return t.reduce(C.BT_MEAN, "mean", false, dims) }

// MeanKeepDim averages over dims and keeps them with size 1.
func (t *Tensor) MeanKeepDim(dims ...int64) *Tensor {
	return t.reduce(C.BT_MEAN, "mean", true, dims)
}

// Max returns the maximum over dims (all elements when none are given).
func (t *Tensor) Max(dims ...int64) *Tensor { return t.reduce(C.BT_AMAX, "max", false, dims) }

// Min returns the minimum over dims (all elements when none are given).
func (t *Tensor) Min(dims ...int64) *Tensor { return t.reduce(C.BT_AMIN, "min", false, dims) }

// Prod multiplies over dims (all elements when none are given).
func (t *Tensor) Prod(dims ...int64) *Tensor { return t.reduce(C.BT_PROD, "prod", false, dims) }

// Norm returns the 2-norm over dims (all elements when none are given).
func (t *Tensor) Norm(dims ...int64) *Tensor { return t.reduce(C.BT_NORM, "norm", false, dims) }

// Var returns the unbiased variance over dims.
func (t *Tensor) Var(dims ...int64) *Tensor { return t.reduce(C.BT_VAR, "var", false, dims) }

// Std returns the unbiased standard deviation over dims.
func (t *Tensor) Std(dims ...int64) *Tensor { return t.reduce(C.BT_STD, "std", false, dims) }

func (t *Tensor) argReduce(dim int64, hasDim, keepdim, argmin bool, name string) *Tensor {
	if err := t.Err(); err != nil {
		return errTensor(err)
	}
	var h C.bt_tensor
	msg := C.bt_argmax(t.h, C.int64_t(dim), cbool(hasDim), cbool(keepdim), cbool(argmin), &h)
	runtime.KeepAlive(t)
	return result(name, h, msg, t)
}

// Argmax returns the indices of the maxima along dim.
func (t *Tensor) Argmax(dim int64, keepdim bool) *Tensor {
	return t.argReduce(dim, true, keepdim, false, "argmax")
}

// Argmin returns the indices of the minima along dim.
func (t *Tensor) Argmin(dim int64, keepdim bool) *Tensor {
	return t.argReduce(dim, true, keepdim, true, "argmin")
}

// ArgmaxAll returns the index of the maximum of the flattened tensor.
func (t *Tensor) ArgmaxAll() *Tensor { return t.argReduce(0, false, false, false, "argmax") }

func (t *Tensor) dimOp(op C.int, name string, dim int64) *Tensor {
	if err := t.Err(); err != nil {
		return errTensor(err)
	}
	var h C.bt_tensor
	msg := C.bt_dim_op(op, t.h, C.int64_t(dim), &h)
	runtime.KeepAlive(t)
	return result(name, h, msg, t)
}

// Softmax returns the softmax along dim.
func (t *Tensor) Softmax(dim int64) *Tensor { return t.dimOp(C.BT_SOFTMAX, "softmax", dim) }

// LogSoftmax returns the log of the softmax along dim.
func (t *Tensor) LogSoftmax(dim int64) *Tensor {
	return t.dimOp(C.BT_LOG_SOFTMAX, "log_softmax", dim)
}

// Squeeze removes dimension dim when its size is 1.
func (t *Tensor) Squeeze(dim int64) *Tensor { return t.dimOp(C.BT_SQUEEZE, "squeeze", dim) }

// Unsqueeze inserts a dimension of size 1 at dim.
func (t *Tensor) Unsqueeze(dim int64) *Tensor { return t.dimOp(C.BT_UNSQUEEZE, "unsqueeze", dim) }

// Cumsum returns the cumulative sum along dim.
func (t *Tensor) Cumsum(dim int64) *Tensor { return t.dimOp(C.BT_CUMSUM, "cumsum", dim) }

func (t *Tensor) shapeOp(op C.int, name string, shape []int64) *Tensor {
	if err := t.Err(); err != nil {
		return errTensor(err)
	}
	var h C.bt_tensor
	msg := C.bt_shape_op(op, t.h, int64Ptr(shape), C.int(len(shape)), &h)
	runtime.KeepAlive(t)
	runtime.KeepAlive(shape)
	return result(name, h, msg, t)
}

// Reshape returns t with a new shape (one dimension may be -1), copying only if needed.
func (t *Tensor) Reshape(shape ...int64) *Tensor { return t.shapeOp(C.BT_RESHAPE, "reshape", shape) }

// View returns a view of t with a new shape; t must be laid out compatibly.
func (t *Tensor) View(shape ...int64) *Tensor { return t.shapeOp(C.BT_VIEW, "view", shape) }

// Permute reorders the dimensions.
func (t *Tensor) Permute(dims ...int64) *Tensor { return t.shapeOp(C.BT_PERMUTE, "permute", dims) }

// Expand broadcasts t to shape without copying (-1 keeps a dimension).
func (t *Tensor) Expand(shape ...int64) *Tensor { return t.shapeOp(C.BT_EXPAND, "expand", shape) }

// Repeat tiles t the given number of times along each dimension.
func (t *Tensor) Repeat(times ...int64) *Tensor { return t.shapeOp(C.BT_REPEAT, "repeat", times) }

// Transpose swaps dimensions d0 and d1.
func (t *Tensor) Transpose(d0, d1 int64) *Tensor {
	if err := t.Err(); err != nil {
		return errTensor(err)
	}
	var h C.bt_tensor
	msg := C.bt_transpose(t.h, C.int64_t(d0), C.int64_t(d1), &h)
	runtime.KeepAlive(t)
	return result("transpose", h, msg, t)
}

// Flatten merges dimensions start..end (inclusive; -1 is the last).
func (t *Tensor) Flatten(start, end int64) *Tensor {
	if err := t.Err(); err != nil {
		return errTensor(err)
	}
	var h C.bt_tensor
	msg := C.bt_flatten(t.h, C.int64_t(start), C.int64_t(end), &h)
	runtime.KeepAlive(t)
	return result("flatten", h, msg, t)
}

// Narrow returns the slice [start, start+length) of dimension dim (a view).
func (t *Tensor) Narrow(dim, start, length int64) *Tensor {
	if err := t.Err(); err != nil {
		return errTensor(err)
	}
	var h C.bt_tensor
	msg := C.bt_narrow(t.h, C.int64_t(dim), C.int64_t(start), C.int64_t(length), &h)
	runtime.KeepAlive(t)
	return result("narrow", h, msg, t)
}

func join(ts []*Tensor, dim int64, stack bool, name string) *Tensor {
	if len(ts) == 0 {
		return Errorf("torch: %s: no tensors", name)
	}
	if err := check(ts...); err != nil {
		return errTensor(err)
	}
	cs := handles(ts)
	defer C.free(unsafe.Pointer(cs))
	var h C.bt_tensor
	msg := C.bt_cat(cs, C.int(len(ts)), C.int64_t(dim), cbool(stack), &h)
	runtime.KeepAlive(ts)
	return result(name, h, msg, ts...)
}

// Cat concatenates tensors along dim.
func Cat(ts []*Tensor, dim int64) *Tensor { return join(ts, dim, false, "cat") }

// Stack stacks tensors along a new dimension dim.
func Stack(ts []*Tensor, dim int64) *Tensor { return join(ts, dim, true, "stack") }

func (t *Tensor) split(n, dim int64, mode C.int, name string) ([]*Tensor, error) {
	if err := t.Err(); err != nil {
		return nil, err
	}
	var arr *C.bt_tensor
	var count C.int
	msg := C.bt_split(t.h, C.int64_t(n), C.int64_t(dim), mode, &arr, &count)
	runtime.KeepAlive(t)
	if err := takeError(name, msg); err != nil {
		return nil, err
	}
	defer C.bt_free_array(arr)
	scope := scopeOf(t)
	out := make([]*Tensor, int(count))
	for i, h := range unsafe.Slice(arr, int(count)) {
		out[i] = newTensor(h, scope)
	}
	return out, nil
}

// Split splits t into pieces of size along dim (the last may be smaller).
func (t *Tensor) Split(size, dim int64) ([]*Tensor, error) { return t.split(size, dim, 0, "split") }

// Chunk splits t into at most n pieces along dim.
func (t *Tensor) Chunk(n, dim int64) ([]*Tensor, error) { return t.split(n, dim, 1, "chunk") }
