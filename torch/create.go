package torch

// #include "bt_torch.h"
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"
)

// Option sets the dtype or device of a created tensor.
type Option func(*options)

type options struct {
	dtype  DType
	device Device
	scope  *Scope
}

// WithDType sets the element type of a created tensor (default Float32).
func WithDType(d DType) Option { return func(o *options) { o.dtype = d } }

// WithDevice sets the device of a created tensor (default CPU).
func WithDevice(d Device) Option { return func(o *options) { o.device = d } }

// InScope puts the created tensor in scope s.
func InScope(s *Scope) Option { return func(o *options) { o.scope = s } }

func makeOptions(def DType, opts []Option) options {
	o := options{dtype: def, device: CPU}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// element is the Go types a tensor can be created from.
type element interface {
	~float32 | ~float64 | ~int32 | ~int64 | ~uint8 | ~bool
}

func fromSlice[E element](dtype DType, data []E, shape []int64) *Tensor {
	if shape == nil {
		shape = []int64{int64(len(data))}
	}
	n, err := numel(shape)
	if err != nil {
		return errTensor(err)
	}
	if n != int64(len(data)) {
		return Errorf("torch: from %v data: %d values do not fill shape %v", dtype, len(data), shape)
	}
	var p unsafe.Pointer
	if len(data) > 0 {
		p = unsafe.Pointer(&data[0])
	}
	var h C.bt_tensor
	msg := C.bt_from_data(p, int64Ptr(shape), C.int(len(shape)), C.int(dtype), &h)
	runtime.KeepAlive(data)
	return result("from data", h, msg)
}

// numel checks a shape and returns its element count.
func numel(shape []int64) (int64, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("torch: negative dimension in shape %v", shape)
		}
		if d != 0 && n > (1<<62)/d {
			return 0, fmt.Errorf("torch: shape %v is too large", shape)
		}
		n *= d
	}
	return n, nil
}

// FromFloat32 copies data into a new tensor of the given shape (1-D when shape is omitted).
func FromFloat32(data []float32, shape ...int64) *Tensor { return fromSlice(Float32, data, shape) }

// FromFloat64 copies data into a new float64 tensor.
func FromFloat64(data []float64, shape ...int64) *Tensor { return fromSlice(Float64, data, shape) }

// FromInt32 copies data into a new int32 tensor.
func FromInt32(data []int32, shape ...int64) *Tensor { return fromSlice(Int32, data, shape) }

// FromInt64 copies data into a new int64 tensor.
func FromInt64(data []int64, shape ...int64) *Tensor { return fromSlice(Int64, data, shape) }

// FromUint8 copies data into a new uint8 tensor.
func FromUint8(data []uint8, shape ...int64) *Tensor { return fromSlice(Uint8, data, shape) }

// FromBool copies data into a new bool tensor.
func FromBool(data []bool, shape ...int64) *Tensor { return fromSlice(Bool, data, shape) }

// Scalar returns a 0-dimensional float32 tensor holding v.
func Scalar(v float32) *Tensor { return fromSlice(Float32, []float32{v}, []int64{}) }

// FromBytes copies raw little-endian, C-order values of the given dtype and
// shape into a new tensor. len(buf) must be numel(shape) × dtype size.
func FromBytes(buf []byte, dtype DType, shape []int64) *Tensor {
	if !dtype.valid() {
		return Errorf("torch: from bytes: unknown dtype %v", dtype)
	}
	n, err := numel(shape)
	if err != nil {
		return errTensor(err)
	}
	// Divide rather than multiply: n × size can overflow for a hostile shape.
	if size := int64(dtype.Size()); int64(len(buf))%size != 0 || int64(len(buf))/size != n {
		return Errorf("torch: from bytes: %d bytes for %v %v, want %d values of %d bytes", len(buf), dtype, shape, n, size)
	}
	var p unsafe.Pointer
	if len(buf) > 0 {
		p = unsafe.Pointer(&buf[0])
	}
	var h C.bt_tensor
	msg := C.bt_from_data(p, int64Ptr(shape), C.int(len(shape)), C.int(dtype), &h)
	runtime.KeepAlive(buf)
	return result("from bytes", h, msg)
}

func fill(kind C.int, shape []int64, value float64, opts []Option) *Tensor {
	o := makeOptions(Float32, opts)
	var h C.bt_tensor
	msg := C.bt_fill(kind, int64Ptr(shape), C.int(len(shape)), C.int(o.dtype),
		C.int(o.device.Type), C.int(o.device.Index), C.double(value), &h)
	if err := takeError("fill", msg); err != nil {
		return errTensor(err)
	}
	return newTensor(h, o.scope)
}

// Zeros returns a tensor of zeros.
func Zeros(shape []int64, opts ...Option) *Tensor { return fill(C.BT_FILL_ZEROS, shape, 0, opts) }

// Ones returns a tensor of ones.
func Ones(shape []int64, opts ...Option) *Tensor { return fill(C.BT_FILL_ONES, shape, 0, opts) }

// Full returns a tensor filled with value.
func Full(shape []int64, value float64, opts ...Option) *Tensor {
	return fill(C.BT_FILL_FULL, shape, value, opts)
}

// Empty returns a tensor of the given shape whose values are whatever its
// fresh memory held (default dtype Float32): for a tensor that is written in
// full before it is read (see UnsafeBytes), without the cost of zeroing.
func Empty(shape []int64, opts ...Option) *Tensor { return fill(C.BT_FILL_EMPTY, shape, 0, opts) }

// Rand returns uniform random values in [0, 1).
func Rand(shape []int64, opts ...Option) *Tensor { return fill(C.BT_FILL_RAND, shape, 0, opts) }

// Randn returns standard normal random values.
func Randn(shape []int64, opts ...Option) *Tensor { return fill(C.BT_FILL_RANDN, shape, 0, opts) }

// Randint returns random integers in [low, high) (default dtype Int64).
func Randint(low, high int64, shape []int64, opts ...Option) *Tensor {
	o := makeOptions(Int64, opts)
	var h C.bt_tensor
	msg := C.bt_randint(C.int64_t(low), C.int64_t(high), int64Ptr(shape), C.int(len(shape)),
		C.int(o.dtype), C.int(o.device.Type), C.int(o.device.Index), &h)
	if err := takeError("randint", msg); err != nil {
		return errTensor(err)
	}
	return newTensor(h, o.scope)
}

// Arange returns the values start, start+step, … below end (default dtype Int64).
func Arange(start, end, step float64, opts ...Option) *Tensor {
	o := makeOptions(Int64, opts)
	var h C.bt_tensor
	msg := C.bt_arange(C.double(start), C.double(end), C.double(step), C.int(o.dtype),
		C.int(o.device.Type), C.int(o.device.Index), &h)
	if err := takeError("arange", msg); err != nil {
		return errTensor(err)
	}
	return newTensor(h, o.scope)
}
