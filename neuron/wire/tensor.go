package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
)

// ProtocolVersion is written into the version field of every message this
// package sends. Receivers do not reject other versions: the field is for
// diagnostics and future negotiation.
const ProtocolVersion = "bittensor-go/1"

// ErrMalformed is wrapped by every error a decoder returns for bytes that do not
// form a valid message, so a server can tell bad input from its own failures.
var ErrMalformed = errors.New("malformed")

// Limits bound what the decoders accept from the network. Every decoder checks
// them before it allocates anything sized by the input.
type Limits struct {
	// MaxTensors is the largest number of tensors in one TensorMessage.
	MaxTensors int
	// MaxRank is the largest number of dimensions of one tensor.
	MaxRank int
	// MaxElements is the largest number of elements of one tensor (and the
	// largest single dimension).
	MaxElements int64
	// MaxStrings is the largest number of strings in one TEXT tensor.
	MaxStrings int
	// MaxStringBytes is the largest UTF-8 length of one string in a TEXT tensor.
	MaxStringBytes int
}

// DefaultLimits returns limits that admit any tensor a 2020-style network
// sends (a few hundred MiB at most) and nothing absurd.
func DefaultLimits() Limits {
	return Limits{
		MaxTensors:     16,
		MaxRank:        8,
		MaxElements:    1 << 28,
		MaxStrings:     1 << 16,
		MaxStringBytes: 1 << 20,
	}
}

// Malformedf returns an error wrapping ErrMalformed.
func Malformedf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// dtypeSize returns the size in bytes of one element of a numeric DataType.
func dtypeSize(dt bittensorpb.DataType) (int64, bool) {
	switch dt {
	case bittensorpb.DataType_FLOAT32, bittensorpb.DataType_INT32:
		return 4, true
	case bittensorpb.DataType_FLOAT64, bittensorpb.DataType_INT64:
		return 8, true
	}
	return 0, false
}

// validateTensor checks a wire Tensor against lim without allocating: a known
// modality and dtype that fit each other, bounded rank, no negative or huge
// dimension, a bounded element count, and (for numeric tensors) a buffer of
// exactly product(shape) × size(dtype) bytes. TEXT tensors must be rank 1 and
// UTF8; their buffer is checked by DecodeText.
func validateTensor(t *bittensorpb.Tensor, lim Limits) error {
	if t == nil {
		return Malformedf("nil tensor")
	}
	return validateHeader(headerOf(t, [32]byte{}), lim)
}

// validateHeader is validateTensor of a tensor's metadata and buffer length.
func validateHeader(t TensorHeader, lim Limits) error {
	switch t.Modality {
	case bittensorpb.Modality_TENSOR, bittensorpb.Modality_IMAGE, bittensorpb.Modality_TEXT:
	default:
		return Malformedf("unknown modality %d", int32(t.Modality))
	}
	switch t.DType {
	case bittensorpb.DataType_FLOAT32, bittensorpb.DataType_FLOAT64, bittensorpb.DataType_INT32, bittensorpb.DataType_INT64, bittensorpb.DataType_UTF8:
	default:
		return Malformedf("unknown dtype %d", int32(t.DType))
	}
	if (t.Modality == bittensorpb.Modality_TEXT) != (t.DType == bittensorpb.DataType_UTF8) {
		return Malformedf("modality %v does not carry dtype %v", t.Modality, t.DType)
	}
	shape := t.Shape
	if len(shape) > lim.MaxRank {
		return Malformedf("rank %d exceeds the limit %d", len(shape), lim.MaxRank)
	}
	n := int64(1)
	for i, d := range shape {
		if d < 0 {
			return Malformedf("dimension %d is negative (%d)", i, d)
		}
		if d > lim.MaxElements {
			return Malformedf("dimension %d is %d, over the limit of %d elements", i, d, lim.MaxElements)
		}
		if n > 0 && d > lim.MaxElements/n { // n×d > MaxElements, checked without overflow
			return Malformedf("shape %v has more than %d elements", shape, lim.MaxElements)
		}
		n *= d
	}
	if t.DType == bittensorpb.DataType_UTF8 {
		if len(shape) != 1 {
			return Malformedf("TEXT tensor has shape %v, want [number of strings]", shape)
		}
		if shape[0] > int64(lim.MaxStrings) {
			return Malformedf("TEXT tensor holds %d strings, over the limit of %d", shape[0], lim.MaxStrings)
		}
		return nil
	}
	size, _ := dtypeSize(t.DType)
	if want := n * size; int64(t.BufLen) != want {
		return Malformedf("buffer is %d bytes, want %d (shape %v × %d bytes of %v)",
			t.BufLen, want, shape, size, t.DType)
	}
	return nil
}

// textPrefixBytes is the size of the little-endian uint32 length that precedes
// each string in a TEXT buffer.
const textPrefixBytes = 4

// EncodeText serializes a batch of strings as a TEXT tensor: shape [len(batch)],
// dtype UTF8, and a buffer holding, for each string in order, its byte length
// as a little-endian uint32 followed by its UTF-8 bytes. Strings must be valid
// UTF-8 and shorter than 4 GiB.
func EncodeText(batch []string) (*bittensorpb.Tensor, error) {
	size := 0
	for i, s := range batch {
		if !utf8.ValidString(s) {
			return nil, fmt.Errorf("serializer: text %d is not valid UTF-8", i)
		}
		if uint64(len(s)) > math.MaxUint32 {
			return nil, fmt.Errorf("serializer: text %d is %d bytes, too long to encode", i, len(s))
		}
		size += textPrefixBytes + len(s)
	}
	buf := make([]byte, 0, size)
	for _, s := range batch {
		buf = binary.LittleEndian.AppendUint32(buf, uint32(len(s)))
		buf = append(buf, s...)
	}
	return &bittensorpb.Tensor{
		Version:  ProtocolVersion,
		Buffer:   buf,
		Shape:    []int64{int64(len(batch))},
		Dtype:    bittensorpb.DataType_UTF8,
		Modality: bittensorpb.Modality_TEXT,
	}, nil
}

// DecodeText parses a TEXT tensor written by EncodeText. It walks the buffer
// once to check every length prefix, the string count and the absence of
// trailing bytes before it allocates the result; each string must be valid
// UTF-8 and at most lim.MaxStringBytes long.
func DecodeText(t *bittensorpb.Tensor, lim Limits) ([]string, error) {
	if err := validateTensor(t, lim); err != nil {
		return nil, fmt.Errorf("serializer: %w", err)
	}
	if t.GetModality() != bittensorpb.Modality_TEXT {
		return nil, fmt.Errorf("serializer: %w", Malformedf("modality %v is not TEXT", t.GetModality()))
	}
	n := t.GetShape()[0]
	buf := t.GetBuffer()
	off := 0
	for i := int64(0); i < n; i++ {
		l, err := textLength(buf, off, i, lim)
		if err != nil {
			return nil, fmt.Errorf("serializer: %w", err)
		}
		off += textPrefixBytes + l
	}
	if off != len(buf) {
		return nil, fmt.Errorf("serializer: %w", Malformedf("TEXT buffer has %d bytes after %d strings", len(buf)-off, n))
	}
	out := make([]string, n)
	off = 0
	for i := range out {
		l := int(binary.LittleEndian.Uint32(buf[off:]))
		off += textPrefixBytes
		s := buf[off : off+l]
		if !utf8.Valid(s) {
			return nil, fmt.Errorf("serializer: %w", Malformedf("string %d is not valid UTF-8", i))
		}
		out[i] = string(s)
		off += l
	}
	return out, nil
}

// textLength reads and checks the length prefix of string i at buf[off:].
func textLength(buf []byte, off int, i int64, lim Limits) (int, error) {
	if len(buf)-off < textPrefixBytes {
		return 0, Malformedf("TEXT buffer ends inside the length of string %d", i)
	}
	l := uint64(binary.LittleEndian.Uint32(buf[off:]))
	if l > uint64(lim.MaxStringBytes) {
		return 0, Malformedf("string %d is %d bytes, over the limit of %d", i, l, lim.MaxStringBytes)
	}
	if l > uint64(len(buf)-off-textPrefixBytes) {
		return 0, Malformedf("string %d is %d bytes but only %d remain", i, l, len(buf)-off-textPrefixBytes)
	}
	return int(l), nil
}

// validateMessage checks a TensorMessage's envelope and every tensor in it
// against lim: at least one and at most lim.MaxTensors tensors, each valid
// under validateTensor. It does not check the signature (see VerifyMessage).
func validateMessage(m *bittensorpb.TensorMessage, lim Limits) error {
	if len(m.GetTensors()) == 0 {
		return Malformedf("no tensors")
	}
	if len(m.GetTensors()) > lim.MaxTensors {
		return Malformedf("%d tensors, over the limit of %d", len(m.GetTensors()), lim.MaxTensors)
	}
	for i, t := range m.GetTensors() {
		if err := validateTensor(t, lim); err != nil {
			return fmt.Errorf("tensor %d: %w", i, err)
		}
	}
	return nil
}

// DTypeOf returns the DataType that carries a torch dtype on the wire.
func DTypeOf(d torch.DType) (bittensorpb.DataType, error) {
	switch d {
	case torch.Float32:
		return bittensorpb.DataType_FLOAT32, nil
	case torch.Float64:
		return bittensorpb.DataType_FLOAT64, nil
	case torch.Int32:
		return bittensorpb.DataType_INT32, nil
	case torch.Int64:
		return bittensorpb.DataType_INT64, nil
	}
	return bittensorpb.DataType_UNKNOWN, fmt.Errorf("dtype %v has no wire DataType (convert it to float32, float64, int32 or int64)", d)
}

// torchDType returns the torch dtype of a numeric wire DataType.
func torchDType(d bittensorpb.DataType) (torch.DType, bool) {
	switch d {
	case bittensorpb.DataType_FLOAT32:
		return torch.Float32, true
	case bittensorpb.DataType_FLOAT64:
		return torch.Float64, true
	case bittensorpb.DataType_INT32:
		return torch.Int32, true
	case bittensorpb.DataType_INT64:
		return torch.Int64, true
	}
	return 0, false
}

// SerializeTensor encodes t as a wire Tensor of modality TENSOR or IMAGE: its
// dtype (float32, float64, int32 or int64), shape, whether it requires grad,
// and its values as raw little-endian C-order bytes. A tensor on another
// device or with a non-contiguous layout is copied out as needed.
func SerializeTensor(t *torch.Tensor, modality bittensorpb.Modality) (*bittensorpb.Tensor, error) {
	if modality != bittensorpb.Modality_TENSOR && modality != bittensorpb.Modality_IMAGE {
		return nil, fmt.Errorf("serializer: a torch tensor cannot have modality %v", modality)
	}
	if err := t.Err(); err != nil {
		return nil, fmt.Errorf("serializer: %w", err)
	}
	dt, err := DTypeOf(t.DType())
	if err != nil {
		return nil, fmt.Errorf("serializer: %w", err)
	}
	buf, err := t.Bytes()
	if err != nil {
		return nil, fmt.Errorf("serializer: %w", err)
	}
	return &bittensorpb.Tensor{
		Version:      ProtocolVersion,
		Buffer:       buf,
		Shape:        t.Shape(),
		Dtype:        dt,
		Modality:     modality,
		RequiresGrad: t.RequiresGrad(),
	}, nil
}
