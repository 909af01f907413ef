//go:build !bt_shared

// Package csrc compiles the C++ shim over libtorch (bt_torch.h, bt_torch.cpp)
// into every binary that imports it. It exports no Go API: the torch package
// calls the shim's C functions directly. Keeping the shim in its own package
// means Go edits never recompile it.
//
// By default it builds against Debian's libtorch-dev. To use another libtorch
// (a CUDA build, say), set LIBTORCH=/path/to/libtorch for make, or export
// CGO_CPPFLAGS="-I$LIBTORCH/include -I$LIBTORCH/include/torch/csrc/api/include"
// and CGO_LDFLAGS="-L$LIBTORCH/lib -Wl,-rpath,$LIBTORCH/lib" for go build.
//
// With the build tag bt_shared the package compiles no C++: it links the
// shim's shared library, libbt_torch.so, built by CMake (see csrc_shared.go).
package csrc

// #cgo CXXFLAGS: -std=c++17 -O2 -I/usr/include/torch/csrc/api/include -Wno-deprecated-declarations
// #cgo LDFLAGS: -ltorch -ltorch_cpu -lc10 -lstdc++
import "C"
