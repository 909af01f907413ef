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
	// |v| <= limit compares as integers on the bits without the sign: IEEE
	// 754 orders non-negative floats as their bit patterns, and every
	// infinity and NaN lies above the largest finite value.
	switch w.GetDtype() {
	case bittensorpb.DataType_FLOAT32:
		limit := math.Min(maxAbs, math.MaxFloat32)
		if !(limit >= 0) { // a NaN or negative bound: every value is out
			if len(buf) >= 4 {
				return badValue(0, float64(math.Float32frombits(binary.LittleEndian.Uint32(buf))), maxAbs)
			}
			return nil
		}
		f := float32(limit)
		if float64(f) > limit { // the largest float32 within the bound
			f = math.Nextafter32(f, 0)
		}
		lim := math.Float32bits(f)
		i := 0
		for ; i+8 <= len(buf); i += 8 { // two values at a time
			x := binary.LittleEndian.Uint64(buf[i:])
			if uint32(x)&0x7fffffff > lim || uint32(x>>32)&0x7fffffff > lim {
				break
			}
		}
		for ; i+4 <= len(buf); i += 4 { // the last value, or the pair holding a bad one
			if bits := binary.LittleEndian.Uint32(buf[i:]); bits&0x7fffffff > lim {
				return badValue(i/4, float64(math.Float32frombits(bits)), maxAbs)
			}
		}
	case bittensorpb.DataType_FLOAT64:
		limit := math.Min(maxAbs, math.MaxFloat64)
		if !(limit >= 0) {
			if len(buf) >= 8 {
				return badValue(0, math.Float64frombits(binary.LittleEndian.Uint64(buf)), maxAbs)
			}
			return nil
		}
		lim := math.Float64bits(limit)
		for i := 0; i+8 <= len(buf); i += 8 {
			if bits := binary.LittleEndian.Uint64(buf[i:]); bits&(1<<63-1) > lim {
				return badValue(i/8, math.Float64frombits(bits), maxAbs)
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
