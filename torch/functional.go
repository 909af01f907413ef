package torch

// #include "bt_torch.h"
import "C"

import "runtime"

// handle returns t's handle, or NULL for a nil optional tensor.
func handle(t *Tensor) C.bt_tensor {
	if t == nil {
		return nil
	}
	return t.h
}

// checkOpt is check for optional (possibly nil) tensors.
func checkOpt(ts ...*Tensor) error {
	for _, t := range ts {
		if t != nil {
			if err := t.Err(); err != nil {
				return err
			}
		}
	}
	return nil
}

// Linear returns x·wᵀ + b (b may be nil).
func Linear(x, w, b *Tensor) *Tensor {
	if err := check(x, w); err != nil {
		return errTensor(err)
	}
	if err := checkOpt(b); err != nil {
		return errTensor(err)
	}
	var h C.bt_tensor
	msg := C.bt_linear(x.h, w.h, handle(b), &h)
	runtime.KeepAlive(x)
	runtime.KeepAlive(w)
	runtime.KeepAlive(b)
	return result("linear", h, msg, x, w)
}

// Conv2dOptions are the hyper-parameters of a 2-D convolution.
type Conv2dOptions struct {
	Stride, Padding, Dilation [2]int64
	Groups                    int64
}

// Conv2d convolves x [N,C,H,W] with w [O,C/groups,kH,kW] and adds b (may be nil).
func Conv2d(x, w, b *Tensor, o Conv2dOptions) *Tensor {
	if err := check(x, w); err != nil {
		return errTensor(err)
	}
	if err := checkOpt(b); err != nil {
		return errTensor(err)
	}
	if o.Stride == [2]int64{} {
		o.Stride = [2]int64{1, 1}
	}
	if o.Dilation == [2]int64{} {
		o.Dilation = [2]int64{1, 1}
	}
	if o.Groups == 0 {
		o.Groups = 1
	}
	var h C.bt_tensor
	msg := C.bt_conv2d(x.h, w.h, handle(b), (*C.int64_t)(&o.Stride[0]), (*C.int64_t)(&o.Padding[0]),
		(*C.int64_t)(&o.Dilation[0]), C.int64_t(o.Groups), &h)
	runtime.KeepAlive(x)
	runtime.KeepAlive(w)
	runtime.KeepAlive(b)
	return result("conv2d", h, msg, x, w)
}

func pool2d(op C.int, name string, x *Tensor, kernel, stride, padding [2]int64) *Tensor {
	if err := x.Err(); err != nil {
		return errTensor(err)
	}
	if stride == [2]int64{} {
		stride = kernel
	}
	var h C.bt_tensor
	msg := C.bt_pool2d(op, x.h, (*C.int64_t)(&kernel[0]), (*C.int64_t)(&stride[0]), (*C.int64_t)(&padding[0]), &h)
	runtime.KeepAlive(x)
	return result(name, h, msg, x)
}

// MaxPool2d takes the maximum over kernel windows (stride zero means stride = kernel).
func MaxPool2d(x *Tensor, kernel, stride, padding [2]int64) *Tensor {
	return pool2d(C.BT_MAX_POOL2D, "max_pool2d", x, kernel, stride, padding)
}

// AvgPool2d averages over kernel windows (stride zero means stride = kernel).
func AvgPool2d(x *Tensor, kernel, stride, padding [2]int64) *Tensor {
	return pool2d(C.BT_AVG_POOL2D, "avg_pool2d", x, kernel, stride, padding)
}

func adaptivePool2d(op C.int, name string, x *Tensor, size [2]int64) *Tensor {
	if err := x.Err(); err != nil {
		return errTensor(err)
	}
	var h C.bt_tensor
	msg := C.bt_adaptive_pool2d(op, x.h, (*C.int64_t)(&size[0]), &h)
	runtime.KeepAlive(x)
	return result(name, h, msg, x)
}

// AdaptiveAvgPool2d averages x down to the output size [H, W].
func AdaptiveAvgPool2d(x *Tensor, size [2]int64) *Tensor {
	return adaptivePool2d(C.BT_AVG_POOL2D, "adaptive_avg_pool2d", x, size)
}

// AdaptiveMaxPool2d takes maxima of x down to the output size [H, W].
func AdaptiveMaxPool2d(x *Tensor, size [2]int64) *Tensor {
	return adaptivePool2d(C.BT_MAX_POOL2D, "adaptive_max_pool2d", x, size)
}

// BatchNorm normalises x over the batch (and spatial) dimensions. In training it
// updates runningMean and runningVar in place; in evaluation it uses them.
// Any of weight, bias, runningMean, runningVar may be nil.
func BatchNorm(x, weight, bias, runningMean, runningVar *Tensor, training bool, momentum, eps float64) *Tensor {
	if err := x.Err(); err != nil {
		return errTensor(err)
	}
	if err := checkOpt(weight, bias, runningMean, runningVar); err != nil {
		return errTensor(err)
	}
	var h C.bt_tensor
	msg := C.bt_batch_norm(x.h, handle(weight), handle(bias), handle(runningMean), handle(runningVar),
		cbool(training), C.double(momentum), C.double(eps), &h)
	runtime.KeepAlive(x)
	runtime.KeepAlive(weight)
	runtime.KeepAlive(bias)
	runtime.KeepAlive(runningMean)
	runtime.KeepAlive(runningVar)
	return result("batch_norm", h, msg, x)
}

// LayerNorm normalises x over its last len(shape) dimensions; weight and bias may be nil.
func LayerNorm(x *Tensor, shape []int64, weight, bias *Tensor, eps float64) *Tensor {
	if err := x.Err(); err != nil {
		return errTensor(err)
	}
	if err := checkOpt(weight, bias); err != nil {
		return errTensor(err)
	}
	var h C.bt_tensor
	msg := C.bt_layer_norm(x.h, int64Ptr(shape), C.int(len(shape)), handle(weight), handle(bias), C.double(eps), &h)
	runtime.KeepAlive(x)
	runtime.KeepAlive(shape)
	runtime.KeepAlive(weight)
	runtime.KeepAlive(bias)
	return result("layer_norm", h, msg, x)
}

// Dropout zeroes elements with probability p and scales the rest by 1/(1-p)
// when training; it returns x unchanged otherwise.
func Dropout(x *Tensor, p float64, training bool) *Tensor {
	if err := x.Err(); err != nil {
		return errTensor(err)
	}
	var h C.bt_tensor
	msg := C.bt_dropout(x.h, C.double(p), cbool(training), &h)
	runtime.KeepAlive(x)
	return result("dropout", h, msg, x)
}

// Embedding looks up the rows of weight at indices; paddingIdx (or -1) gets no gradient.
func Embedding(weight, indices *Tensor, paddingIdx int64) *Tensor {
	if err := check(weight, indices); err != nil {
		return errTensor(err)
	}
	var h C.bt_tensor
	msg := C.bt_embedding(weight.h, indices.h, C.int64_t(paddingIdx), &h)
	runtime.KeepAlive(weight)
	runtime.KeepAlive(indices)
	return result("embedding", h, msg, indices, weight)
}

// Reduction says how a loss combines its per-element values.
type Reduction int

// Reductions.
const (
	ReduceNone Reduction = iota
	ReduceMean
	ReduceSum
)

func loss(op C.int, name string, input, target *Tensor, r Reduction) *Tensor {
	if err := check(input, target); err != nil {
		return errTensor(err)
	}
	var h C.bt_tensor
	msg := C.bt_loss(op, input.h, target.h, C.int(r), &h)
	runtime.KeepAlive(input)
	runtime.KeepAlive(target)
	return result(name, h, msg, input, target)
}

// NLLLoss is the negative log-likelihood of log-probabilities input [N,C] at int64 targets [N].
func NLLLoss(input, target *Tensor, r Reduction) *Tensor {
	return loss(C.BT_NLL, "nll_loss", input, target, r)
}

// CrossEntropy is NLLLoss of LogSoftmax(logits).
func CrossEntropy(logits, target *Tensor, r Reduction) *Tensor {
	return loss(C.BT_CROSS_ENTROPY, "cross_entropy", logits, target, r)
}

// MSELoss is the squared error between input and target.
func MSELoss(input, target *Tensor, r Reduction) *Tensor {
	return loss(C.BT_MSE, "mse_loss", input, target, r)
}
