// Package optim holds optimizers for torch parameters (SGD with momentum,
// weight decay and Nesterov; Adam; AdamW), run by libtorch's own
// implementations, and checkpoints that store a model's tensors together
// with an optimizer's state in one file.
//
//	opt, err := optim.NewSGD(nn.Parameters(model), optim.SGDOptions{LR: 0.01, Momentum: 0.9})
//	…
//	opt.ZeroGrad()
//	loss.Backward()
//	opt.Step()
package optim

// #cgo CPPFLAGS: -I${SRCDIR}/../../csrc
// #include <stdlib.h>
// #include "bt_torch.h"
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"

	"github.com/opentensor/bittensor-go/torch"
)

// Optimizer updates a fixed list of parameters from their gradients.
// It is not safe for concurrent use.
type Optimizer struct {
	h       C.bt_optimizer
	params  []*torch.Tensor
	kind    string
	cleanup runtime.Cleanup
}

// SGDOptions configure stochastic gradient descent (PyTorch's defaults for zero values).
type SGDOptions struct {
	LR, Momentum, Dampening, WeightDecay float64
	Nesterov                             bool
}

// AdamOptions configure Adam and AdamW. Zero Beta1, Beta2 and Eps take
// PyTorch's defaults (0.9, 0.999, 1e-8); AdamW's zero WeightDecay stays zero.
type AdamOptions struct {
	LR, Beta1, Beta2, Eps, WeightDecay float64
	AMSGrad                            bool
}

// NewSGD returns SGD over params.
func NewSGD(params []*torch.Tensor, o SGDOptions) (*Optimizer, error) {
	if o.Nesterov && (o.Momentum <= 0 || o.Dampening != 0) {
		return nil, fmt.Errorf("optim: sgd: nesterov needs momentum > 0 and zero dampening")
	}
	return newOptimizer(C.BT_SGD, "sgd", params, C.bt_optimizer_options{
		lr: C.double(o.LR), momentum: C.double(o.Momentum), dampening: C.double(o.Dampening),
		weight_decay: C.double(o.WeightDecay), nesterov: cbool(o.Nesterov),
	})
}

// NewAdam returns Adam over params.
func NewAdam(params []*torch.Tensor, o AdamOptions) (*Optimizer, error) {
	return newOptimizer(C.BT_ADAM, "adam", params, adamOptions(o))
}

// NewAdamW returns AdamW (decoupled weight decay) over params.
func NewAdamW(params []*torch.Tensor, o AdamOptions) (*Optimizer, error) {
	return newOptimizer(C.BT_ADAMW, "adamw", params, adamOptions(o))
}

func adamOptions(o AdamOptions) C.bt_optimizer_options {
	def := func(v, d float64) float64 {
		if v == 0 {
			return d
		}
		return v
	}
	return C.bt_optimizer_options{
		lr: C.double(o.LR), beta1: C.double(def(o.Beta1, 0.9)), beta2: C.double(def(o.Beta2, 0.999)),
		eps: C.double(def(o.Eps, 1e-8)), weight_decay: C.double(o.WeightDecay), amsgrad: cbool(o.AMSGrad),
	}
}

func newOptimizer(kind C.int, name string, params []*torch.Tensor, o C.bt_optimizer_options) (*Optimizer, error) {
	if o.lr <= 0 {
		return nil, fmt.Errorf("optim: %s: learning rate %v must be positive", name, float64(o.lr))
	}
	hs := make([]C.bt_tensor, len(params))
	for i, p := range params {
		if err := p.Err(); err != nil {
			return nil, fmt.Errorf("optim: %s: parameter %d: %w", name, i, err)
		}
		hs[i] = C.bt_tensor(p.UnsafeHandle())
	}
	var first *C.bt_tensor
	if len(hs) > 0 {
		first = &hs[0]
	}
	var h C.bt_optimizer
	msg := C.bt_optimizer_new(kind, first, C.int(len(hs)), &o, &h)
	runtime.KeepAlive(params)
	if err := takeError(name, msg); err != nil {
		return nil, err
	}
	opt := &Optimizer{h: h, params: params, kind: name}
	opt.cleanup = runtime.AddCleanup(opt, func(h C.bt_optimizer) { C.bt_optimizer_free(h) }, h)
	return opt, nil
}

// Params returns the parameters the optimizer updates.
func (o *Optimizer) Params() []*torch.Tensor { return o.params }

// Step updates the parameters from their gradients.
func (o *Optimizer) Step() error {
	defer runtime.KeepAlive(o)
	return takeError(o.kind+" step", C.bt_optimizer_step(o.h))
}

// ZeroGrad drops the parameters' gradients.
func (o *Optimizer) ZeroGrad() error {
	defer runtime.KeepAlive(o)
	return takeError(o.kind+" zero grad", C.bt_optimizer_zero_grad(o.h))
}

// SetLR changes the learning rate.
func (o *Optimizer) SetLR(lr float64) error {
	defer runtime.KeepAlive(o)
	return takeError(o.kind+" set lr", C.bt_optimizer_set_lr(o.h, C.double(lr)))
}

// Close frees the optimizer's state now; it is unusable afterwards.
func (o *Optimizer) Close() {
	if o.h != nil {
		o.cleanup.Stop()
		C.bt_optimizer_free(o.h)
		o.h = nil
	}
}

// SaveCheckpoint writes tensors (a model's state dict, counters as scalar
// tensors) and opt's state (opt may be nil) to one file, atomically and
// durably (see torch.Save).
func SaveCheckpoint(path string, tensors map[string]*torch.Tensor, opt *Optimizer) error {
	var h unsafe.Pointer
	if opt != nil {
		h = unsafe.Pointer(opt.h)
	}
	defer runtime.KeepAlive(opt)
	if err := torch.SaveWith(path, tensors, h); err != nil {
		return fmt.Errorf("optim: checkpoint: %w", err)
	}
	return nil
}

// LoadCheckpoint reads a file written by SaveCheckpoint, restoring opt's state
// (when opt is non-nil) and returning the tensors. On failure opt is as it was.
// To check the tensors before opt changes, use ReadCheckpoint.
func LoadCheckpoint(path string, opt *Optimizer) (map[string]*torch.Tensor, error) {
	ck, err := ReadCheckpoint(path, opt)
	if err != nil {
		return nil, err
	}
	if err := ck.Commit(); err != nil {
		ck.Close()
		return nil, err
	}
	ts := ck.Tensors
	ck.Tensors = nil
	ck.Close()
	return ts, nil
}

// Checkpoint is a checkpoint file read into memory and checked, not yet
// applied: its tensors, and the optimizer state it holds, staged in a scratch
// optimizer until Commit. This lets a caller check the whole file (a model's
// state dict, counters) before anything changes.
type Checkpoint struct {
	// Tensors are the file's named tensors; Close frees those left in it.
	Tensors map[string]*torch.Tensor

	opt, staged *Optimizer
}

// ReadCheckpoint reads a file written by SaveCheckpoint and changes nothing.
// When opt is non-nil the file must hold optimizer state for opt's kind and
// parameters (the number of parameters and each state buffer's shape and
// dtype are checked); Commit installs it into opt.
func ReadCheckpoint(path string, opt *Optimizer) (*Checkpoint, error) {
	ck := &Checkpoint{opt: opt}
	var h unsafe.Pointer
	if opt != nil {
		var err error
		if ck.staged, err = opt.newLike(); err != nil {
			return nil, fmt.Errorf("optim: checkpoint: %w", err)
		}
		h = unsafe.Pointer(ck.staged.h)
	}
	ts, err := torch.LoadWith(path, h)
	runtime.KeepAlive(ck.staged)
	if err != nil {
		ck.Close()
		return nil, fmt.Errorf("optim: checkpoint: %w", err)
	}
	ck.Tensors = ts
	return ck, nil
}

// Commit installs the optimizer state read from the file into the optimizer
// given to ReadCheckpoint (nothing to do without one). It fails only on a
// Checkpoint already committed or closed.
func (c *Checkpoint) Commit() error {
	if c.opt == nil {
		return nil
	}
	if c.staged == nil {
		return fmt.Errorf("optim: checkpoint: commit after commit or close")
	}
	err := takeError(c.opt.kind+" checkpoint commit", C.bt_optimizer_swap(c.opt.h, c.staged.h))
	runtime.KeepAlive(c.opt)
	// staged now holds the state opt had before: drop it.
	c.staged.Close()
	c.staged = nil
	return err
}

// Close frees the tensors left in Tensors and any optimizer state not
// committed.
func (c *Checkpoint) Close() {
	for _, t := range c.Tensors {
		t.Free()
	}
	c.Tensors = nil
	if c.staged != nil {
		c.staged.Close()
		c.staged = nil
	}
}

// newLike returns an optimizer of o's kind and creation options over o's
// parameters, with empty state.
func (o *Optimizer) newLike() (*Optimizer, error) {
	var h C.bt_optimizer
	msg := C.bt_optimizer_new_like(o.h, &h)
	runtime.KeepAlive(o)
	if err := takeError(o.kind+" copy", msg); err != nil {
		return nil, err
	}
	cp := &Optimizer{h: h, params: o.params, kind: o.kind}
	cp.cleanup = runtime.AddCleanup(cp, func(h C.bt_optimizer) { C.bt_optimizer_free(h) }, h)
	return cp, nil
}

func takeError(op string, msg *C.char) error {
	if msg == nil {
		return nil
	}
	defer C.bt_free_error(msg)
	return fmt.Errorf("optim: %s: %s", op, C.GoString(msg))
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
