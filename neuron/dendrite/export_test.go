package dendrite

import "google.golang.org/grpc/mem"

// SetBufferPool replaces the pool the Dendrite takes its requests' buffers
// from, for the external tests that count them.
func (d *Dendrite) SetBufferPool(p mem.BufferPool) { d.bufs = p }
