package torch

// #include <stdlib.h>
// #include "bt_torch.h"
import "C"

import (
	"fmt"
	"runtime/cgo"
	"unsafe"
)

// btGoBackward is the shim's callback for CustomFunction's backward. It owns
// the grads handles; it stores a new handle per input gradient in inputGrads.
//
//export btGoBackward
func btGoBackward(h C.uintptr_t, grads *C.bt_tensor, ngrads C.int, inputGrads *C.bt_tensor, nin C.int) *C.char {
	f := cgo.Handle(h).Value().(*customFunction)
	s := NewScope()
	defer s.Close()
	gs := make([]*Tensor, int(ngrads))
	for i, g := range unsafe.Slice(grads, int(ngrads)) {
		if g != nil {
			gs[i] = newTensor(g, s)
		}
	}
	res, err := f.run(gs)
	if err != nil {
		return C.CString(err.Error())
	}
	out := unsafe.Slice(inputGrads, int(nin))
	for i, r := range res {
		if r == nil {
			continue
		}
		a := r.Alias()
		if err := a.Err(); err != nil {
			for j := range i {
				if out[j] != nil {
					C.bt_free(out[j])
					out[j] = nil
				}
			}
			return C.CString(fmt.Sprintf("torch: custom function backward: gradient %d: %v", i, err))
		}
		out[i] = a.disown() // C++ frees it
	}
	return nil
}

// btGoRelease is the shim's callback when a CustomFunction's node, or a
// failed CustomFunction, lets go of the Go function: it runs the OnRelease
// function and deletes the handle.
//
//export btGoRelease
func btGoRelease(h C.uintptr_t) {
	ch := cgo.Handle(h)
	ch.Value().(*customFunction).released()
	ch.Delete()
}
