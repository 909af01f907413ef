package torch

// #include <stdlib.h>
// #include "bt_torch.h"
// extern char *btGoBackward(uintptr_t handle, bt_tensor *grads, int ngrads, bt_tensor *input_grads, int nin);
// extern void btGoRelease(uintptr_t handle);
import "C"

import (
	"fmt"
	"runtime"
	"runtime/cgo"
	"unsafe"
)

// SetRequiresGrad marks a leaf tensor as one whose gradient autograd records.
// It returns t, carrying an error if t is not a leaf of a float type.
func (t *Tensor) SetRequiresGrad(b bool) *Tensor {
	if err := t.Err(); err != nil {
		return t
	}
	defer runtime.KeepAlive(t)
	if err := takeError("set_requires_grad", C.bt_set_requires_grad(t.h, cbool(b))); err != nil {
		return errTensor(err)
	}
	return t
}

// RequiresGrad reports whether autograd records operations on t.
func (t *Tensor) RequiresGrad() bool {
	if t.Err() != nil {
		return false
	}
	defer runtime.KeepAlive(t)
	return C.bt_requires_grad(t.h) != 0
}

// IsLeaf reports whether t was created by the user rather than by a recorded op.
func (t *Tensor) IsLeaf() bool {
	if t.Err() != nil {
		return false
	}
	defer runtime.KeepAlive(t)
	return C.bt_is_leaf(t.h) != 0
}

// Grad returns the gradient accumulated in t by Backward, or nil when there is none.
// The result is a new handle to libtorch's gradient tensor (it sees later updates).
func (t *Tensor) Grad() *Tensor {
	if err := t.Err(); err != nil {
		return errTensor(err)
	}
	var h C.bt_tensor
	msg := C.bt_grad(t.h, &h)
	runtime.KeepAlive(t)
	if err := takeError("grad", msg); err != nil {
		return errTensor(err)
	}
	if h == nil {
		return nil
	}
	return newTensor(h, nil)
}

// ZeroGrad drops t's accumulated gradient.
func (t *Tensor) ZeroGrad() error {
	if err := t.Err(); err != nil {
		return err
	}
	defer runtime.KeepAlive(t)
	return takeError("zero_grad", C.bt_zero_grad(t.h))
}

// Backward computes the gradient of a scalar t with respect to the graph's leaves
// and accumulates it in their Grad.
func (t *Tensor) Backward() error { return t.BackwardWith(nil, false) }

// BackwardWith back-propagates grad (t's shape; nil for a scalar t) through t's
// graph. retainGraph keeps the graph for another backward pass.
func (t *Tensor) BackwardWith(grad *Tensor, retainGraph bool) error {
	if err := t.Err(); err != nil {
		return err
	}
	if err := checkOpt(grad); err != nil {
		return err
	}
	defer runtime.KeepAlive(t)
	defer runtime.KeepAlive(grad)
	return takeError("backward", C.bt_backward(t.h, handle(grad), cbool(retainGraph)))
}

// handles copies tensor handles into C memory; free the result with C.free.
func handles(ts []*Tensor) *C.bt_tensor {
	if len(ts) == 0 {
		return nil
	}
	p := (*C.bt_tensor)(C.malloc(C.size_t(len(ts)) * C.size_t(unsafe.Sizeof(C.bt_tensor(nil)))))
	s := unsafe.Slice(p, len(ts))
	for i, t := range ts {
		s[i] = handle(t)
	}
	return p
}

// Grad returns the gradients of outputs with respect to inputs, without
// touching the inputs' Grad. gradOutputs may be nil (scalar outputs) or hold
// one tensor (or nil) per output. An input that does not affect the outputs
// gets a nil gradient. The graph is freed unless retainGraph is set.
func Grad(outputs, inputs, gradOutputs []*Tensor, retainGraph bool) ([]*Tensor, error) {
	if err := check(outputs...); err != nil {
		return nil, err
	}
	if err := check(inputs...); err != nil {
		return nil, err
	}
	if err := checkOpt(gradOutputs...); err != nil {
		return nil, err
	}
	if gradOutputs != nil && len(gradOutputs) != len(outputs) {
		return nil, fmt.Errorf("torch: grad: %d grad outputs for %d outputs", len(gradOutputs), len(outputs))
	}
	outs, ins := handles(outputs), handles(inputs)
	defer C.free(unsafe.Pointer(outs))
	defer C.free(unsafe.Pointer(ins))
	var gouts *C.bt_tensor
	if gradOutputs != nil {
		gouts = handles(gradOutputs)
		defer C.free(unsafe.Pointer(gouts))
	}
	res := make([]C.bt_tensor, len(inputs))
	var resp *C.bt_tensor
	if len(res) > 0 {
		resp = &res[0]
	}
	msg := C.bt_autograd_grad(outs, C.int(len(outputs)), ins, C.int(len(inputs)), gouts,
		cbool(retainGraph), 0, resp)
	runtime.KeepAlive(outputs)
	runtime.KeepAlive(inputs)
	runtime.KeepAlive(gradOutputs)
	if err := takeError("grad", msg); err != nil {
		return nil, err
	}
	scope := scopeOf(outputs...)
	grads := make([]*Tensor, len(inputs))
	for i, h := range res {
		if h != nil {
			grads[i] = newTensor(h, scope)
		}
	}
	return grads, nil
}

// AccumulateGrad adds alpha·g into t's gradient, as Backward would add g,
// creating the gradient when t has none. g must have t's shape.
func (t *Tensor) AccumulateGrad(g *Tensor, alpha float64) error {
	if err := check(t, g); err != nil {
		return err
	}
	defer runtime.KeepAlive(g)
	defer runtime.KeepAlive(t)
	return takeError("accumulate_grad", C.bt_accumulate_grad(t.h, g.h, C.double(alpha)))
}

// ClipGradNorm scales the gradients of params so that their joint 2-norm is at
// most maxNorm, and returns the norm before clipping.
func ClipGradNorm(params []*Tensor, maxNorm float64) (float64, error) {
	if err := check(params...); err != nil {
		return 0, err
	}
	hs := handles(params)
	defer C.free(unsafe.Pointer(hs))
	var total C.double
	msg := C.bt_clip_grad_norm(hs, C.int(len(params)), C.double(maxNorm), &total)
	runtime.KeepAlive(params)
	return float64(total), takeError("clip_grad_norm", msg)
}

// GradEnabled reports whether autograd records ops on this goroutine's thread.
func GradEnabled() bool { return C.bt_grad_enabled() != 0 }

// NoGrad runs fn with autograd recording switched off. libtorch keeps that
// switch per OS thread, so the goroutine is pinned to its thread while fn runs;
// goroutines that fn starts are not affected.
func NoGrad(fn func()) { withGradMode(false, fn) }

// EnableGrad runs fn with autograd recording switched on (inside NoGrad, say).
func EnableGrad(fn func()) { withGradMode(true, fn) }

func withGradMode(enabled bool, fn func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	prev := C.bt_grad_enabled()
	C.bt_set_grad_enabled(cbool(enabled))
	defer C.bt_set_grad_enabled(prev)
	fn()
}

// BackwardFunc computes the gradients of a custom function's inputs from the
// gradients of its outputs. gradOutputs[i] is nil where output i got no
// gradient. It returns one gradient (or nil) per input, shaped like the input.
// The gradOutputs are freed when it returns; results are kept as needed.
type BackwardFunc func(gradOutputs []*Tensor) ([]*Tensor, error)

// CustomOption configures a CustomFunction.
type CustomOption func(*customFunction)

// OnRelease sets a function that CustomFunction calls once, when libtorch
// drops the node: after its last backward, when the graph is freed without
// one (the outputs freed, or recorded with autograd off), or when
// CustomFunction fails. It frees what only the backward would have used; it
// may run on any goroutine, and must not call into libtorch.
func OnRelease(release func()) CustomOption {
	return func(f *customFunction) { f.release = release }
}

// CustomFunction attaches outputs, computed by the caller in any way (over the
// network, say), to the autograd graph of inputs, as a node whose backward
// calls the Go function backward. It returns the attached outputs, new tensors
// in the scope of the inputs. When no input requires grad the outputs are
// returned detached from any graph and backward is never called.
func CustomFunction(inputs, outputs []*Tensor, backward BackwardFunc, opts ...CustomOption) ([]*Tensor, error) {
	f := &customFunction{backward: backward, nin: len(inputs)}
	for _, o := range opts {
		o(f)
	}
	if err := checkCustomArgs(inputs, outputs); err != nil {
		f.released()
		return nil, err
	}
	ins, outs := handles(inputs), handles(outputs)
	defer C.free(unsafe.Pointer(ins))
	defer C.free(unsafe.Pointer(outs))
	h := cgo.NewHandle(f)
	res := make([]C.bt_tensor, len(outputs))
	msg := C.bt_custom_function(ins, C.int(len(inputs)), outs, C.int(len(outputs)), C.uintptr_t(h),
		C.bt_backward_fn(C.btGoBackward), C.bt_release_fn(C.btGoRelease), &res[0])
	runtime.KeepAlive(inputs)
	runtime.KeepAlive(outputs)
	if err := takeError("custom function", msg); err != nil {
		return nil, err
	}
	scope := scopeOf(inputs...)
	if scope == nil {
		scope = scopeOf(outputs...)
	}
	attached := make([]*Tensor, len(outputs))
	for i, r := range res {
		attached[i] = newTensor(r, scope)
	}
	return attached, nil
}

// checkCustomArgs reports why CustomFunction cannot attach outputs to
// inputs: no outputs, or a tensor that failed.
func checkCustomArgs(inputs, outputs []*Tensor) error {
	if len(outputs) == 0 {
		return fmt.Errorf("torch: custom function: no outputs")
	}
	if err := check(inputs...); err != nil {
		return err
	}
	return check(outputs...)
}

// customFunction is what the handle of a CustomFunction's node holds.
type customFunction struct {
	backward BackwardFunc
	nin      int
	release  func() // nil when there is none (see OnRelease)
}

// released calls the release function, turning a panic into nothing more
// than the loss of what it would have freed, so that it never unwinds through
// C++ frames.
func (f *customFunction) released() {
	if f.release == nil {
		return
	}
	defer func() { _ = recover() }()
	f.release()
}

// run calls the Go backward, turning a panic into an error so that it never
// unwinds through C++ frames.
func (f *customFunction) run(grads []*Tensor) (res []*Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("torch: custom function backward panicked: %v", r)
		}
	}()
	res, err = f.backward(grads)
	if err == nil && len(res) != f.nin {
		err = fmt.Errorf("torch: custom function backward returned %d gradients for %d inputs", len(res), f.nin)
	}
	return res, err
}
