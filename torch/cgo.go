package torch

// #cgo CPPFLAGS: -I${SRCDIR}/../csrc
// #include <stdlib.h>
// #include "bt_torch.h"
import "C"

import (
	"errors"
	"fmt"
	"unsafe"

	_ "github.com/opentensor/bittensor-go/csrc" // links the C++ shim
)

// ErrFreed is the error of a tensor used after Free or after its scope closed.
var ErrFreed = errors.New("torch: tensor used after it was freed")

// takeError turns a shim error message into a Go error (nil for NULL) and frees it.
func takeError(op string, msg *C.char) error {
	if msg == nil {
		return nil
	}
	defer C.bt_free_error(msg)
	return fmt.Errorf("torch: %s: %s", op, C.GoString(msg))
}

// int64Ptr returns a C pointer to the first element of s, or nil when s is empty.
func int64Ptr(s []int64) *C.int64_t {
	if len(s) == 0 {
		return nil
	}
	return (*C.int64_t)(unsafe.Pointer(&s[0]))
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
