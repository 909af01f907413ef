//go:build bt_shared

// Package csrc links the C++ shim over libtorch into every binary that imports
// it. Built with the tag bt_shared, as here, it compiles no C++: it links the
// shim's shared library libbt_torch.so, which CMake builds from the same
// sources (see the README's "The shim as a library"). Which build of that
// library a binary uses, one against a CPU libtorch or a CUDA one, is then
// chosen when it starts, by the dynamic loader:
//
//   - LD_LIBRARY_PATH, when set, is searched first;
//   - then the directory of the executable ($ORIGIN) and $ORIGIN/../lib,
//     which this package records in the binary's run path;
//   - then the system's directories (/usr/local/lib after ldconfig, ...).
//
// At link time the library must be found too: install it (cmake --install)
// or point the linker at a build tree with CGO_LDFLAGS=-L/path/to/build.
// The library's interface is C (bt_torch.h), so the Go binary carries no C++
// ABI of its own: the shim and the libtorch it loads must agree on
// _GLIBCXX_USE_CXX11_ABI, which CMake's TorchConfig sees to.
package csrc

// #cgo LDFLAGS: -lbt_torch -Wl,-rpath,$ORIGIN -Wl,-rpath,$ORIGIN/../lib
import "C"
