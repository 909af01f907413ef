package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
)

// ErrBadNumbers is wrapped by the error of a tensor from the network whose
// values are not finite or whose magnitude is absurd. A Dendrite treats such
// an answer as a failed call; an Axon refuses such a request with
// INVALID_ARGUMENT.
var ErrBadNumbers = errors.New("bad numbers")

// checkValues reports, as an error wrapping ErrBadNumbers, the first value of
// the float tensor w that is NaN, infinite, or larger than maxAbs in
// magnitude (pass math.Inf(1) to check finiteness only). It reads the wire
// bytes themselves, before anything is decoded or allocated, and accepts
// integer and text tensors as they are. w must already have passed
// validateTensor, so that its buffer holds exactly its elements.
func checkValues(w *bittensorpb.Tensor, maxAbs float64) error {
	if i, bad := firstBadValue(w.GetBuffer(), w.GetDtype(), maxAbs); bad {
		return badValueAt(w.GetBuffer(), w.GetDtype(), i, i, maxAbs)
	}
	return nil
}

// firstBadValue returns the index of the first value of buf, little-endian
// values of dtype, that is NaN, infinite or larger than maxAbs in magnitude,
// and whether there is one; integer and text buffers have none. A value is
// bad when the bits of its magnitude compare above those of the bound as
// integers: IEEE 754 orders non-negative floats as their bit patterns, and
// every infinity and NaN lies above the largest finite value. Four words at
// a time, each lane's magnitude is added to the distance from the bound to
// the lane's top bit, which carries into it exactly when the value is bad.
func firstBadValue(buf []byte, dtype bittensorpb.DataType, maxAbs float64) (int, bool) {
	switch dtype {
	case bittensorpb.DataType_FLOAT32:
		limit := math.Min(maxAbs, math.MaxFloat32)
		if !(limit >= 0) { // a NaN or negative bound: every value is out
			return 0, len(buf) >= 4
		}
		f := float32(limit)
		if float64(f) > limit { // the largest float32 within the bound
			f = math.Nextafter32(f, 0)
		}
		lim := uint64(math.Float32bits(f))
		const mag, tops = 0x7fffffff_7fffffff, 0x80000000_80000000
		add := (0x7fffffff - lim) * 0x00000001_00000001
		i := 0
		for ; i+32 <= len(buf); i += 32 {
			a := binary.LittleEndian.Uint64(buf[i:])&mag + add
			b := binary.LittleEndian.Uint64(buf[i+8:])&mag + add
			c := binary.LittleEndian.Uint64(buf[i+16:])&mag + add
			d := binary.LittleEndian.Uint64(buf[i+24:])&mag + add
			if (a|b|c|d)&tops != 0 {
				break
			}
		}
		for ; i+4 <= len(buf); i += 4 { // the tail, or the words holding a bad value
			if uint64(binary.LittleEndian.Uint32(buf[i:])&0x7fffffff) > lim {
				return i / 4, true
			}
		}
	case bittensorpb.DataType_FLOAT64:
		limit := math.Min(maxAbs, math.MaxFloat64)
		if !(limit >= 0) {
			return 0, len(buf) >= 8
		}
		lim := math.Float64bits(limit)
		const mag, top = 1<<63 - 1, 1 << 63
		add := mag - lim
		i := 0
		for ; i+32 <= len(buf); i += 32 {
			a := binary.LittleEndian.Uint64(buf[i:])&mag + add
			b := binary.LittleEndian.Uint64(buf[i+8:])&mag + add
			c := binary.LittleEndian.Uint64(buf[i+16:])&mag + add
			d := binary.LittleEndian.Uint64(buf[i+24:])&mag + add
			if (a|b|c|d)&top != 0 {
				break
			}
		}
		for ; i+8 <= len(buf); i += 8 {
			if binary.LittleEndian.Uint64(buf[i:])&mag > lim {
				return i / 8, true
			}
		}
	}
	return 0, false
}

// badValueAt describes value i of buf (little-endian values of dtype), a
// bad one, as element index of its tensor.
func badValueAt(buf []byte, dtype bittensorpb.DataType, i, index int, maxAbs float64) error {
	if dtype == bittensorpb.DataType_FLOAT32 {
		return badValue(index, float64(math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))), maxAbs)
	}
	return badValue(index, math.Float64frombits(binary.LittleEndian.Uint64(buf[8*i:])), maxAbs)
}

// badValue describes the bad value v at element i.
func badValue(i int, v, maxAbs float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("%w: element %d is %v", ErrBadNumbers, i, v)
	}
	return fmt.Errorf("%w: element %d is %g, beyond the bound %g", ErrBadNumbers, i, v, maxAbs)
}

// CheckTensor is checkValues for a tensor in this process: it reports,
// wrapping ErrBadNumbers, a float tensor t holding a NaN, an infinity, or a
// value larger than maxAbs in magnitude.
func CheckTensor(t *torch.Tensor, maxAbs float64) error {
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
