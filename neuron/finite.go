package neuron

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
)

// ErrBadNumbers is wrapped by the error of a tensor from the network whose
// values are not finite or whose magnitude is absurd. A Dendrite treats such
// an answer as a failed call; an Axon refuses such a request with
// INVALID_ARGUMENT.
var ErrBadNumbers = errors.New("bad numbers")

// CheckValues reports, as an error wrapping ErrBadNumbers, the first value of
// the float tensor w that is NaN, infinite, or larger than maxAbs in
// magnitude (pass math.Inf(1) to check finiteness only). It reads the wire
// bytes themselves, before anything is decoded or allocated, and accepts
// integer and text tensors as they are. w must already have passed
// ValidateTensor, so that its buffer holds exactly its elements.
func CheckValues(w *bittensorpb.Tensor, maxAbs float64) error {
	buf := w.GetBuffer()
	switch w.GetDtype() {
	case bittensorpb.DataType_FLOAT32:
		limit := math.Min(maxAbs, math.MaxFloat32)
		for i := 0; i+4 <= len(buf); i += 4 {
			v := float64(math.Float32frombits(binary.LittleEndian.Uint32(buf[i:])))
			// NaN fails every comparison, so it lands here too.
			if !(v <= limit && v >= -limit) {
				return badValue(i/4, v, maxAbs)
			}
		}
	case bittensorpb.DataType_FLOAT64:
		limit := math.Min(maxAbs, math.MaxFloat64)
		for i := 0; i+8 <= len(buf); i += 8 {
			v := math.Float64frombits(binary.LittleEndian.Uint64(buf[i:]))
			if !(v <= limit && v >= -limit) {
				return badValue(i/8, v, maxAbs)
			}
		}
	}
	return nil
}

// badValue describes the bad value v at element i.
func badValue(i int, v, maxAbs float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("%w: element %d is %v", ErrBadNumbers, i, v)
	}
	return fmt.Errorf("%w: element %d is %g, beyond the bound %g", ErrBadNumbers, i, v, maxAbs)
}

// checkTensorValues is CheckValues for a tensor in this process: it reports,
// wrapping ErrBadNumbers, a float tensor t holding a NaN, an infinity, or a
// value larger than maxAbs in magnitude.
func checkTensorValues(t *torch.Tensor, maxAbs float64) error {
	if !t.DType().IsFloat() || t.Numel() == 0 {
		return nil
	}
	m := t.Abs().Max()
	v, err := m.Item()
	m.Free()
	if err != nil {
		return fmt.Errorf("check values: %w", err)
	}
	if !(v <= maxAbs) { // NaN fails every comparison
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: a value is %v", ErrBadNumbers, v)
		}
		return fmt.Errorf("%w: a value is %g in magnitude, beyond the bound %g", ErrBadNumbers, v, maxAbs)
	}
	return nil
}
