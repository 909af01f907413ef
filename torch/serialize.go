package torch

// #include <stdlib.h>
// #include "bt_torch.h"
import "C"

import (
	"archive/zip"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"runtime"
	"sort"
	"unsafe"

	"github.com/opentensor/bittensor-go/internal/atomicfile"
)

// Save writes named tensors to path in libtorch's archive format (readable by
// torch::load), atomically and durably: a temporary file in the same folder is
// flushed to disk and renamed over path only once it is complete, so a crash
// leaves either the old file or the new one.
func Save(path string, tensors map[string]*Tensor) error {
	return SaveWith(path, tensors, nil)
}

// SaveWith is Save with an extra native object stored in the same file
// (torch/optim passes an optimizer's state this way; nil for none).
func SaveWith(path string, tensors map[string]*Tensor, native unsafe.Pointer) error {
	return saveWith(path, tensors, native, nil)
}

// saveWith is SaveWith; written, when non-nil, is called with the temporary
// file once the shim has written it, before it is flushed and renamed (tests
// stop a process there).
func saveWith(path string, tensors map[string]*Tensor, native unsafe.Pointer, written func(tmp string)) error {
	names := make([]string, 0, len(tensors))
	for n, t := range tensors {
		if err := t.Err(); err != nil {
			return fmt.Errorf("torch: save %s: tensor %q: %w", path, n, err)
		}
		names = append(names, n)
	}
	sort.Strings(names)
	cnames := make([]*C.char, len(names))
	for i, n := range names {
		cnames[i] = C.CString(n)
	}
	defer func() {
		for _, c := range cnames {
			C.free(unsafe.Pointer(c))
		}
	}()
	ts := make([]*Tensor, len(names))
	for i, n := range names {
		ts[i] = tensors[n]
	}
	hs := handles(ts)
	defer C.free(unsafe.Pointer(hs))
	var np **C.char
	if len(cnames) > 0 {
		np = (**C.char)(C.malloc(C.size_t(len(cnames)) * C.size_t(unsafe.Sizeof(cnames[0]))))
		defer C.free(unsafe.Pointer(np))
		copy(unsafe.Slice(np, len(cnames)), cnames)
	}

	return writeAtomic(path, func(tmp string) error {
		cpath := C.CString(tmp)
		defer C.free(unsafe.Pointer(cpath))
		msg := C.bt_save(cpath, np, hs, C.int(len(names)), C.bt_optimizer(native))
		runtime.KeepAlive(ts)
		if err := takeError("save "+path, msg); err != nil {
			return err
		}
		if written != nil {
			written(tmp)
		}
		return nil
	})
}

// writeAtomic calls write with a temporary path next to path, then flushes it
// and renames it over path (see internal/atomicfile);
// write's own error comes back as is.
func writeAtomic(path string, write func(tmp string) error) error {
	var writeErr error
	err := atomicfile.WriteWith(path, checkpointPerm, func(tmp string) error {
		writeErr = write(tmp)
		return writeErr
	})
	if err != nil && writeErr == nil {
		return fmt.Errorf("torch: save %s: %w", path, err)
	}
	return err
}

// checkpointPerm is the mode of the files Save writes.
const checkpointPerm = 0o644

// Load reads every tensor of a file written by Save.
func Load(path string) (map[string]*Tensor, error) { return LoadWith(path, nil) }

// LoadWith is Load that also restores a native object saved by SaveWith.
func LoadWith(path string, native unsafe.Pointer) (map[string]*Tensor, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("torch: load: %w", err)
	}
	if err := verifyArchive(path); err != nil {
		return nil, fmt.Errorf("torch: load %s: not a readable checkpoint (truncated, or not written by Save): %w", path, err)
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var names **C.char
	var hs *C.bt_tensor
	var n C.int
	msg := C.bt_load(cpath, &names, &hs, &n, C.bt_optimizer(native))
	if msg != nil {
		defer C.bt_free_error(msg)
		return nil, fmt.Errorf("torch: load %s: not a readable checkpoint (truncated, or not written by Save): %s",
			path, C.GoString(msg))
	}
	defer C.bt_free_names(names, n)
	defer C.bt_free_array(hs)
	out := make(map[string]*Tensor, int(n))
	hsl := unsafe.Slice(hs, int(n))
	for i, cn := range unsafe.Slice(names, int(n)) {
		out[C.GoString(cn)] = newTensor(hsl[i], nil)
	}
	return out, nil
}

// verifyArchive checks that path is a zip archive as libtorch writes one:
// every entry stored or deflated, and matching its declared size and CRC-32. libtorch's reader
// checks neither, and a damaged entry can crash it (a corrupted code record,
// found by FuzzLoad, makes it call through a null pointer).
func verifyArchive(path string) error {
	r, err := zip.OpenReader(path)
	if err != nil {
		return err
	}
	defer r.Close()
	if len(r.File) == 0 {
		return errors.New("empty archive")
	}
	for _, f := range r.File {
		if f.Method != zip.Store && f.Method != zip.Deflate {
			return fmt.Errorf("entry %q: unknown compression method %d", f.Name, f.Method)
		}
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("entry %q: %w", f.Name, err)
		}
		h := crc32.NewIEEE()
		_, err = io.Copy(h, rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("entry %q: %w", f.Name, err)
		}
		if h.Sum32() != f.CRC32 {
			return fmt.Errorf("entry %q: %w", f.Name, zip.ErrChecksum)
		}
	}
	return nil
}
