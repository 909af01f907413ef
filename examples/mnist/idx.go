package mnist

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The idx format (LeCun's MNIST files): two zero bytes, a type byte, a rank
// byte, one big-endian uint32 per dimension, then the values in C order.
const (
	idxTypeUint8 = 0x08
	// maxIDXRank bounds the rank a decoder accepts.
	maxIDXRank = 4
	// maxIDXElements bounds the number of values a decoder accepts (the
	// MNIST training images hold 47,040,000).
	maxIDXElements = 1 << 27
)

// ErrCorrupt marks an idx file whose bytes are not a well-formed idx array of
// the expected kind. Errors returned by the decoders wrap it.
var ErrCorrupt = errors.New("corrupt idx data")

// IDX is a decoded idx array of unsigned bytes.
type IDX struct {
	// Dims are the array's dimensions, outermost first.
	Dims []int
	// Data holds product(Dims) values in C order.
	Data []byte
}

// DecodeIDX decodes an idx array of unsigned bytes. It checks the header
// (magic, type, rank, dimensions) and that the buffer holds exactly
// product(Dims) values before it copies anything; any mismatch is an error
// wrapping ErrCorrupt. The returned Data aliases buf.
func DecodeIDX(buf []byte) (IDX, error) {
	if len(buf) < 4 {
		return IDX{}, fmt.Errorf("%w: %d bytes is shorter than the 4-byte header", ErrCorrupt, len(buf))
	}
	if buf[0] != 0 || buf[1] != 0 {
		return IDX{}, fmt.Errorf("%w: bad magic %#02x%02x, want 0000", ErrCorrupt, buf[0], buf[1])
	}
	if buf[2] != idxTypeUint8 {
		return IDX{}, fmt.Errorf("%w: value type %#02x, want %#02x (unsigned byte)", ErrCorrupt, buf[2], idxTypeUint8)
	}
	rank := int(buf[3])
	if rank < 1 || rank > maxIDXRank {
		return IDX{}, fmt.Errorf("%w: rank %d, want 1 to %d", ErrCorrupt, rank, maxIDXRank)
	}
	header := 4 + 4*rank
	if len(buf) < header {
		return IDX{}, fmt.Errorf("%w: %d bytes is shorter than the %d-byte header", ErrCorrupt, len(buf), header)
	}
	dims := make([]int, rank)
	total := 1
	for i := range dims {
		d := binary.BigEndian.Uint32(buf[4+4*i:])
		if d == 0 || d > maxIDXElements {
			return IDX{}, fmt.Errorf("%w: dimension %d is %d, want 1 to %d", ErrCorrupt, i, d, maxIDXElements)
		}
		dims[i] = int(d)
		total *= int(d)
		if total > maxIDXElements {
			return IDX{}, fmt.Errorf("%w: more than %d values", ErrCorrupt, maxIDXElements)
		}
	}
	if got := len(buf) - header; got != total {
		if got < total {
			return IDX{}, fmt.Errorf("%w: truncated: header promises %d values, file holds %d", ErrCorrupt, total, got)
		}
		return IDX{}, fmt.Errorf("%w: %d trailing bytes after %d values", ErrCorrupt, got-total, total)
	}
	return IDX{Dims: dims, Data: buf[header:]}, nil
}

// Encode returns the idx encoding of x; DecodeIDX(x.Encode()) gives x back.
func (x IDX) Encode() []byte {
	buf := make([]byte, 4+4*len(x.Dims), 4+4*len(x.Dims)+len(x.Data))
	buf[2] = idxTypeUint8
	buf[3] = byte(len(x.Dims))
	for i, d := range x.Dims {
		binary.BigEndian.PutUint32(buf[4+4*i:], uint32(d))
	}
	return append(buf, x.Data...)
}

// DecodeImages decodes an idx image file: rank 3, each image Rows×Cols
// pixels. It returns the images as one buffer of n·Rows·Cols bytes.
func DecodeImages(buf []byte) (pixels []byte, n int, err error) {
	x, err := DecodeIDX(buf)
	if err != nil {
		return nil, 0, err
	}
	if len(x.Dims) != 3 || x.Dims[1] != Rows || x.Dims[2] != Cols {
		return nil, 0, fmt.Errorf("%w: image array has dimensions %v, want [n %d %d]", ErrCorrupt, x.Dims, Rows, Cols)
	}
	return x.Data, x.Dims[0], nil
}

// DecodeLabels decodes an idx label file: rank 1, each label a digit 0–9.
func DecodeLabels(buf []byte) ([]byte, error) {
	x, err := DecodeIDX(buf)
	if err != nil {
		return nil, err
	}
	if len(x.Dims) != 1 {
		return nil, fmt.Errorf("%w: label array has dimensions %v, want [n]", ErrCorrupt, x.Dims)
	}
	for i, l := range x.Data {
		if int(l) >= Classes {
			return nil, fmt.Errorf("%w: label %d is %d, want 0 to %d", ErrCorrupt, i, l, Classes-1)
		}
	}
	return x.Data, nil
}
