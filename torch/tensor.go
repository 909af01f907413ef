package torch

// #include "bt_torch.h"
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"
)

// Tensor is a handle to a libtorch tensor. A Tensor produced by an op whose
// input failed, or by an op that failed, carries that error instead of a
// value (see Err); every later op on it passes the error on.
//
// See the package documentation for who frees a tensor and when.
type Tensor struct {
	h       C.bt_tensor
	err     error
	scope   *Scope
	cleanup runtime.Cleanup
	managed bool // freed by a cleanup when unreachable
}

// Err returns the error this tensor carries, or nil.
func (t *Tensor) Err() error {
	if t == nil {
		return fmt.Errorf("torch: nil tensor")
	}
	if t.err != nil {
		return t.err
	}
	if t.h == nil {
		return ErrFreed
	}
	return nil
}

// Errorf returns a tensor that carries an error; ops on it pass the error on.
func Errorf(format string, args ...any) *Tensor {
	return &Tensor{err: fmt.Errorf(format, args...)}
}

func errTensor(err error) *Tensor { return &Tensor{err: err} }

// newTensor wraps a fresh handle. It joins scope when scope is non-nil;
// otherwise the garbage collector frees it once unreachable.
func newTensor(h C.bt_tensor, scope *Scope) *Tensor {
	t := &Tensor{h: h}
	if scope != nil && scope.add(t) {
		return t
	}
	t.manage()
	return t
}

func (t *Tensor) manage() {
	t.managed = true
	t.cleanup = runtime.AddCleanup(t, func(h C.bt_tensor) { C.bt_free(h) }, t.h)
}

// result turns a shim call's outcome into a Tensor in the scope of its operands.
func result(op string, h C.bt_tensor, msg *C.char, operands ...*Tensor) *Tensor {
	if err := takeError(op, msg); err != nil {
		return errTensor(err)
	}
	return newTensor(h, scopeOf(operands...))
}

// check returns the first error among the operands.
func check(ts ...*Tensor) error {
	for _, t := range ts {
		if err := t.Err(); err != nil {
			return err
		}
	}
	return nil
}

// scopeOf returns the first scope among the operands, or nil.
func scopeOf(ts ...*Tensor) *Scope {
	for _, t := range ts {
		if t != nil && t.scope != nil && !t.scope.closed() {
			return t.scope
		}
	}
	return nil
}

// Free releases the tensor now. Freeing twice, or freeing a tensor that
// carries an error, does nothing.
func (t *Tensor) Free() {
	if t == nil || t.h == nil {
		return
	}
	if t.scope != nil {
		t.scope.remove(t)
	}
	t.release()
}

// Free frees each of ts now, as (*Tensor).Free does. A layer calls it on
// its intermediate results once it is done with them: autograd keeps its
// own references to what backward needs, so this returns the rest of their
// memory at the point where Python's reference counting would, instead of
// when the caller's scope closes.
func Free(ts ...*Tensor) {
	for _, t := range ts {
		t.Free()
	}
}

func (t *Tensor) release() {
	if t.h == nil {
		return
	}
	if t.managed {
		t.cleanup.Stop()
		t.managed = false
	}
	C.bt_free(t.h)
	t.h = nil
}

// disown returns t's handle and forgets it; the caller must free it.
func (t *Tensor) disown() C.bt_tensor {
	if t.scope != nil {
		t.scope.remove(t)
	}
	if t.managed {
		t.cleanup.Stop()
		t.managed = false
	}
	h := t.h
	t.h = nil
	return h
}

// UnsafeHandle returns the shim handle (a bt_tensor) for packages that call the
// C shim themselves (torch/optim). The tensor must stay reachable while it is used.
func (t *Tensor) UnsafeHandle() unsafe.Pointer { return unsafe.Pointer(t.h) }

// Dim returns the number of dimensions (0 for a tensor that carries an error).
func (t *Tensor) Dim() int {
	if t.Err() != nil {
		return 0
	}
	defer runtime.KeepAlive(t)
	return int(C.bt_dim(t.h))
}

// Shape returns the size of each dimension (nil for a tensor that carries an error).
func (t *Tensor) Shape() []int64 {
	if t.Err() != nil {
		return nil
	}
	defer runtime.KeepAlive(t)
	n := int(C.bt_dim(t.h))
	s := make([]int64, n)
	if n > 0 {
		C.bt_shape(t.h, int64Ptr(s))
	}
	return s
}

// Size returns the size of dimension d; negative d counts from the end.
func (t *Tensor) Size(d int) int64 {
	s := t.Shape()
	if d < 0 {
		d += len(s)
	}
	if d < 0 || d >= len(s) {
		return 0
	}
	return s[d]
}

// Numel returns the number of elements.
func (t *Tensor) Numel() int64 {
	if t.Err() != nil {
		return 0
	}
	defer runtime.KeepAlive(t)
	return int64(C.bt_numel(t.h))
}

// DType returns the element type. A tensor of a type the package does not
// support (complex, half) reports -1.
func (t *Tensor) DType() DType {
	if t.Err() != nil {
		return -1
	}
	defer runtime.KeepAlive(t)
	var d C.int
	if msg := C.bt_dtype(t.h, &d); msg != nil {
		C.bt_free_error(msg)
		return -1
	}
	return DType(d)
}

// Device returns where the tensor lives.
func (t *Tensor) Device() Device {
	if t.Err() != nil {
		return CPU
	}
	defer runtime.KeepAlive(t)
	var typ, idx C.int
	C.bt_device(t.h, &typ, &idx)
	return Device{Type: DeviceType(typ), Index: int(idx)}
}

// String describes the tensor briefly: dtype, shape and device, or its error.
func (t *Tensor) String() string {
	if err := t.Err(); err != nil {
		return fmt.Sprintf("Tensor(error: %v)", err)
	}
	return fmt.Sprintf("Tensor(%v, shape=%v, %v)", t.DType(), t.Shape(), t.Device())
}
