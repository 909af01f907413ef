package torch

// #include "bt_torch.h"
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"
)

// copyOut copies the tensor's values, as dtype want, into a new Go slice.
func copyOut[E element](t *Tensor, want DType) ([]E, error) {
	if err := t.Err(); err != nil {
		return nil, err
	}
	if got := t.DType(); got != want {
		return nil, fmt.Errorf("torch: tensor is %v, not %v", got, want)
	}
	out := make([]E, t.Numel())
	if err := t.copyInto(unsafe.Pointer(unsafe.SliceData(out)), int64(len(out))*int64(want.Size())); err != nil {
		return nil, err
	}
	return out, nil
}

func (t *Tensor) copyInto(dst unsafe.Pointer, nbytes int64) error {
	defer runtime.KeepAlive(t)
	return takeError("copy out", C.bt_copy_out(t.h, dst, C.int64_t(nbytes)))
}

// Float32s copies the values of a float32 tensor (on any device) into a slice, in C order.
func (t *Tensor) Float32s() ([]float32, error) { return copyOut[float32](t, Float32) }

// Float64s copies the values of a float64 tensor.
func (t *Tensor) Float64s() ([]float64, error) { return copyOut[float64](t, Float64) }

// Int32s copies the values of an int32 tensor.
func (t *Tensor) Int32s() ([]int32, error) { return copyOut[int32](t, Int32) }

// Int64s copies the values of an int64 tensor.
func (t *Tensor) Int64s() ([]int64, error) { return copyOut[int64](t, Int64) }

// Uint8s copies the values of a uint8 tensor.
func (t *Tensor) Uint8s() ([]uint8, error) { return copyOut[uint8](t, Uint8) }

// Bools copies the values of a bool tensor.
func (t *Tensor) Bools() ([]bool, error) { return copyOut[bool](t, Bool) }

// Bytes returns the raw little-endian, C-order bytes of the tensor's values.
func (t *Tensor) Bytes() ([]byte, error) {
	if err := t.Err(); err != nil {
		return nil, err
	}
	d := t.DType()
	if !d.valid() {
		return nil, fmt.Errorf("torch: bytes: unsupported dtype")
	}
	out := make([]byte, t.Numel()*int64(d.Size()))
	if err := t.copyInto(unsafe.Pointer(unsafe.SliceData(out)), int64(len(out))); err != nil {
		return nil, err
	}
	return out, nil
}

// UnsafeBytes returns the memory that holds the values of t, a contiguous
// CPU tensor, as bytes in C order (nil for a tensor without values): no
// copy. The slice aliases libtorch's memory, which the Go garbage collector
// knows nothing of, so it is valid only while that memory lives: keep t
// reachable, unfreed (runtime.KeepAlive after the last use of the slice),
// and neither resized nor written by an in-place op while the slice is read.
// Writes through the slice change t behind autograd's back: write only into
// a tensor that nothing else uses yet (a fresh Empty, say). A tensor on
// another device or not contiguous is an error (see Contiguous and To).
func (t *Tensor) UnsafeBytes() ([]byte, error) {
	if err := t.Err(); err != nil {
		return nil, err
	}
	defer runtime.KeepAlive(t)
	var p unsafe.Pointer
	var n C.int64_t
	if err := takeError("unsafe bytes", C.bt_data_ptr(t.h, &p, &n)); err != nil {
		return nil, err
	}
	if p == nil || n == 0 {
		return nil, nil
	}
	return unsafe.Slice((*byte)(p), int(n)), nil
}

// Item returns the value of a one-element tensor.
func (t *Tensor) Item() (float64, error) {
	if err := t.Err(); err != nil {
		return 0, err
	}
	defer runtime.KeepAlive(t)
	var v C.double
	if err := takeError("item", C.bt_item(t.h, &v)); err != nil {
		return 0, err
	}
	return float64(v), nil
}

// To returns the tensor on device d (the same values; t itself when already there).
func (t *Tensor) To(d Device) *Tensor {
	if err := t.Err(); err != nil {
		return t
	}
	return t.convert(t.DType(), d)
}

// ToDType returns the tensor's values converted to dtype.
func (t *Tensor) ToDType(dtype DType) *Tensor {
	if err := t.Err(); err != nil {
		return t
	}
	return t.convert(dtype, t.Device())
}

func (t *Tensor) convert(dtype DType, d Device) *Tensor {
	defer runtime.KeepAlive(t)
	var h C.bt_tensor
	msg := C.bt_to(t.h, C.int(dtype), C.int(d.Type), C.int(d.Index), &h)
	return result("to", h, msg, t)
}

// CopyFrom copies src's values into t in place, outside autograd (loading weights).
func (t *Tensor) CopyFrom(src *Tensor) error {
	if err := check(t, src); err != nil {
		return err
	}
	defer runtime.KeepAlive(src)
	defer runtime.KeepAlive(t)
	return takeError("copy", C.bt_copy_(t.h, src.h))
}

// AddInPlace adds alpha·src into t in place, outside autograd (accumulating
// into a buffer); src broadcasts to t's shape and may not be t itself.
func (t *Tensor) AddInPlace(src *Tensor, alpha float64) error {
	if err := check(t, src); err != nil {
		return err
	}
	defer runtime.KeepAlive(src)
	defer runtime.KeepAlive(t)
	return takeError("add_", C.bt_add_(t.h, src.h, C.double(alpha)))
}

// MoveTo moves a leaf tensor (a parameter, say) to device d in place: t keeps
// its identity and its requires-grad flag, and drops its gradient. Create
// optimizers after moving their parameters.
func (t *Tensor) MoveTo(d Device) error {
	if err := t.Err(); err != nil {
		return err
	}
	if t.Device() == d {
		return nil
	}
	moved := t.To(d).Detach()
	if t.RequiresGrad() {
		moved.SetRequiresGrad(true)
	}
	if err := moved.Err(); err != nil {
		return fmt.Errorf("torch: move to %v: %w", d, err)
	}
	err := takeError("move to "+d.String(), C.bt_assign(t.h, moved.h))
	runtime.KeepAlive(t)
	moved.Free()
	return err
}
