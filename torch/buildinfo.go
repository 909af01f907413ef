package torch

// #include <stdlib.h>
// #include "bt_torch.h"
import "C"

import "fmt"

// LibtorchVersion returns the version of the libtorch the shim was compiled
// against, e.g. "1.13.0" or "2.6.0".
func LibtorchVersion() string { return C.GoString(C.bt_torch_version()) }

// CUDARuntimeVersion returns the CUDA runtime version the loaded libtorch was
// built with, as CUDA numbers it (12040 for 12.4), or 0 when no CUDA support is
// loaded: a CPU-only libtorch, or a CUDA one whose libtorch_cuda the linker
// dropped. It says nothing of whether a GPU is present; see CUDAIsAvailable.
func CUDARuntimeVersion() int { return int(C.bt_cuda_runtime_version()) }

// BuildConfig returns libtorch's own account of its build: compiler, BLAS,
// CUDA, C++ ABI and the like, one item a line (PyTorch's torch.__config__.show()).
func BuildConfig() (string, error) {
	var s *C.char
	if err := takeError("build config", C.bt_build_config(&s)); err != nil {
		return "", err
	}
	defer C.bt_free_string(s)
	return C.GoString(s), nil
}

// SmokeTestMatmul multiplies two random n×n matrices on d and checks the
// product against the same product computed on the CPU, returning the largest
// absolute difference. An error means the device cannot run it, or gave a
// product more than tol away from the CPU's.
func SmokeTestMatmul(d Device, n int64, tol float64) (maxDiff float64, err error) {
	if n <= 0 {
		return 0, fmt.Errorf("torch: smoke test on %v: size %d, want > 0", d, n)
	}
	s := NewScope()
	defer s.Close()
	a := Randn([]int64{n, n}, InScope(s))
	b := Randn([]int64{n, n}, InScope(s))
	want := a.Matmul(b)
	got := a.To(d).Matmul(b.To(d))
	if got.Device() != d && got.Err() == nil {
		return 0, fmt.Errorf("torch: smoke test on %v: product is on %v", d, got.Device())
	}
	diff, err := got.To(CPU).Sub(want).Abs().Max().Item()
	if err != nil {
		return 0, fmt.Errorf("torch: smoke test on %v: %w", d, err)
	}
	if !(diff <= tol) { // also catches NaN
		return diff, fmt.Errorf("torch: smoke test on %v: product differs from the CPU's by %g (tolerance %g)", d, diff, tol)
	}
	return diff, nil
}
