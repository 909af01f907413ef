// Package torch is a Go binding of libtorch: tensors, the ops that models need,
// autograd (including custom functions whose backward runs Go code), devices,
// and checkpoints. It calls a small hand-written C++ shim (package csrc)
// through cgo; C++ exceptions never reach Go.
//
// # Errors
//
// Ops return *Tensor so that model code chains like its PyTorch twin:
//
//	y := x.Matmul(w).Add(b).Relu()
//
// A failing op (a shape mismatch, say) returns a tensor that carries the
// error, with libtorch's message; every op on such a tensor passes the error
// on, and every method that returns Go values (Item, Float32s, Backward …)
// returns it. So check once, where values leave the graph:
//
//	if err := y.Err(); err != nil { … }
//
// # Ownership: one rule
//
// Every *Tensor owns one reference to a libtorch tensor, released exactly
// once, by the first of:
//
//  1. its Scope closing, when it belongs to one;
//  2. an explicit t.Free();
//  3. the garbage collector, once the *Tensor is unreachable (unscoped tensors only).
//
// A tensor belongs to a Scope when it was created with InScope(s), moved into
// it with s.Track(t), or computed by an op whose first scoped operand is in s.
// So a training step that tracks its input batch frees every activation,
// loss and intermediate gradient handle of the step when its scope closes:
//
//	for step := range steps {
//		s := torch.NewScope()
//		x := s.Track(torch.FromFloat32(batch, 64, 784))
//		loss := torch.NLLLoss(model.Forward(x), s.Track(labels), torch.ReduceMean)
//		…
//		s.Close()
//	}
//
// Parameters and other long-lived tensors are simply unscoped. Values needed
// after the step leave the scope with s.Keep(t) (or are copied out as Go
// values). Freeing a Go handle never invalidates the autograd graph: libtorch
// keeps what the graph needs alive by reference counting. A benchmark (bench/,
// "leak") trains for 10,000 steps and checks resident memory stays flat.
//
// # Threads and grad mode
//
// Tensors may be used from any goroutine, but not concurrently with their own
// Free. libtorch keeps the grad-mode switch per OS thread, so NoGrad pins the
// calling goroutine to its thread while its function runs.
//
// # Devices
//
// Tensors live on the CPU unless created WithDevice(CUDA(i)) or moved with
// To; CUDAIsAvailable reports whether the linked libtorch can use a GPU.
// Build against another libtorch (a CUDA build) with LIBTORCH=/path (see the
// README).
package torch
