package torch

// #include "bt_torch.h"
import "C"

import (
	"fmt"
	"math"
)

// DeviceType is the kind of device a tensor lives on.
type DeviceType int

// Device types.
const (
	DeviceCPU DeviceType = iota
	DeviceCUDA
)

// Device is where a tensor's storage lives.
type Device struct {
	Type  DeviceType
	Index int
}

// CPU is the host device.
var CPU = Device{Type: DeviceCPU}

// CUDA returns the i-th CUDA device.
func CUDA(i int) Device { return Device{Type: DeviceCUDA, Index: i} }

// String returns the device as PyTorch spells it ("cpu", "cuda:0").
func (d Device) String() string {
	if d.Type == DeviceCUDA {
		return fmt.Sprintf("cuda:%d", d.Index)
	}
	return "cpu"
}

// ParseDevice parses "cpu", "cuda" or "cuda:N".
func ParseDevice(s string) (Device, error) {
	switch s {
	case "cpu", "":
		return CPU, nil
	case "cuda":
		return CUDA(0), nil
	}
	var i int
	if _, err := fmt.Sscanf(s, "cuda:%d", &i); err == nil && i >= 0 && fmt.Sprintf("cuda:%d", i) == s {
		return CUDA(i), nil
	}
	return CPU, fmt.Errorf("torch: device %q: want cpu, cuda or cuda:N", s)
}

// CUDAIsAvailable reports whether the linked libtorch has CUDA and a GPU is present.
func CUDAIsAvailable() bool { return C.bt_cuda_is_available() != 0 }

// CUDADeviceCount returns the number of visible CUDA devices.
func CUDADeviceCount() int { return int(C.bt_cuda_device_count()) }

// ManualSeed seeds libtorch's random number generators (the CPU one, and each
// CUDA device's when CUDA is present).
func ManualSeed(seed int64) error {
	return takeError("manual seed", C.bt_manual_seed(C.int64_t(seed)))
}

// Malloc settings that keep a training step's tensors in the process's
// heap: blocks up to MallocMmapThreshold come from the heap instead of fresh
// mmap'd (zeroed) pages, and the heap is handed back to the kernel only when
// MallocTrimThreshold bytes at its top are free. Since each heap keeps that
// much, MallocArenaMax bounds their number: glibc's default (8 per core)
// lets resident memory climb for thousands of steps as goroutines move to
// new threads that get heaps of their own.
const (
	MallocMmapThreshold = 32 << 20
	MallocTrimThreshold = 256 << 20
	MallocArenaMax      = 2
)

// SetMallocThresholds sets glibc malloc's mmap and trim thresholds in bytes
// (mallopt's M_MMAP_THRESHOLD and M_TRIM_THRESHOLD; the first at most 32
// MiB). By default glibc maps each large tensor afresh and returns it to the
// kernel on free, so every training step faults in zeroed pages again;
// SetMallocThresholds(MallocMmapThreshold, MallocTrimThreshold) makes steps
// reuse their memory. It is the same as starting the process with
// MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ set, and does nothing on
// a C library other than glibc.
func SetMallocThresholds(mmap, trim int64) error {
	return takeError("set malloc thresholds", C.bt_set_malloc_thresholds(C.int64_t(mmap), C.int64_t(trim)))
}

// TuneMalloc applies the Malloc settings above (SetMallocThresholds and
// SetMallocArenaMax), as a training process should at its start.
func TuneMalloc() error {
	if err := SetMallocThresholds(MallocMmapThreshold, MallocTrimThreshold); err != nil {
		return err
	}
	return SetMallocArenaMax(MallocArenaMax)
}

// SetMallocArenaMax sets glibc malloc's M_ARENA_MAX, the most heaps the
// process's threads allocate from (n > 0; the same as MALLOC_ARENA_MAX). It
// does nothing on a C library other than glibc.
func SetMallocArenaMax(n int) error {
	if n > math.MaxInt32 {
		return fmt.Errorf("torch: set malloc arena max: %d is too many", n)
	}
	return takeError("set malloc arena max", C.bt_set_malloc_arena_max(C.int(n)))
}

// SetNumThreads sets the size of libtorch's intra-op thread pool; n must be
// at least 1.
func SetNumThreads(n int) error {
	if n > math.MaxInt32 {
		return fmt.Errorf("torch: set num threads: %d is too many", n)
	}
	return takeError("set num threads", C.bt_set_num_threads(C.int(n)))
}

// NumThreads returns the size of libtorch's intra-op thread pool.
func NumThreads() (int, error) {
	var n C.int
	if err := takeError("num threads", C.bt_get_num_threads(&n)); err != nil {
		return 0, err
	}
	return int(n), nil
}
