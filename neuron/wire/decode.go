package wire

import (
	"errors"
	"fmt"
	"runtime"
	"sort"
	"unicode/utf8"

	"github.com/opentensor/bittensor-go/neuron/keys"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
)

// maxEnvelopeBytes bounds each string and the signature of a TensorMessage's
// envelope (a key is 64 hex characters, a signature 64 bytes), so that no
// envelope field costs memory sized by an attacker's input.
const maxEnvelopeBytes = 4096

// Incoming is a TensorMessage decoded by Codec: its envelope, and
// each tensor's metadata with its values in a fresh libtorch tensor (numeric
// dtypes) or Go bytes (TEXT), their bufferDigest and the outcome of their
// value check, all from one pass over the received bytes.
//
// A message that is valid protobuf but breaks the Limits, or that admit
// refuses, decodes without error but with err set and no values: nothing
// sized by its tensors is allocated, copied or hashed.
type Incoming struct {
	// lim bounds the message (MaxTensors, then validateTensor for each).
	lim Limits
	// maxAbs bounds the magnitude of float values (math.Inf(1) for finite);
	// a tensor holding a value beyond it gets badValues.
	maxAbs float64
	// admit, when set, sees the envelope and the valid metadata of every
	// tensor before anything sized by them is allocated; its error stops
	// the decoding and becomes err.
	admit func(*Incoming) error

	Header  Header
	version string
	Tensors []IncomingTensor
	// Err is why a well-formed message is refused: it breaks the Limits
	// (wrapping ErrMalformed), or admit's error.
	Err error
}

// NewIncoming returns the decoding target of one message: lim bounds it,
// maxAbs bounds the magnitude of its float values (math.Inf(1) checks
// finiteness only), and admit, when set, may refuse it from its envelope and
// its tensors' metadata before anything sized by them is allocated.
func NewIncoming(lim Limits, maxAbs float64, admit func(*Incoming) error) *Incoming {
	return &Incoming{lim: lim, maxAbs: maxAbs, admit: admit}
}

// IncomingTensor is one decoded tensor of an Incoming.
type IncomingTensor struct {
	Header  TensorHeader // with its bufferDigest
	version string
	values  *torch.Tensor // the values of a numeric tensor, nil for TEXT
	text    []byte        // the buffer of a TEXT tensor
	// BadValues is the first value beyond maxAbs, wrapping ErrBadNumbers;
	// nil when there is none.
	BadValues error
	bufAt     int // where its buffer's bytes start in the message
}

// wire returns t as a wire Tensor for the checks written for one (its
// metadata, and the buffer of a TEXT tensor); the values of a numeric tensor
// are not in it.
func (t *IncomingTensor) Wire() *bittensorpb.Tensor {
	return &bittensorpb.Tensor{Version: t.version, Buffer: t.text, Shape: t.Header.Shape,
		Dtype: t.Header.DType, Modality: t.Header.Modality, RequiresGrad: t.Header.RequiresGrad}
}

// take returns t's values and leaves t without them: the caller frees them.
func (t *IncomingTensor) Take() *torch.Tensor {
	v := t.values
	t.values = nil
	return v
}

// headers returns what a signature covers of each tensor.
func (m *Incoming) headers() []TensorHeader {
	hs := make([]TensorHeader, len(m.Tensors))
	for i := range m.Tensors {
		hs[i] = m.Tensors[i].Header
	}
	return hs
}

// verify checks the message's signature (see VerifyMessage) over the
// digests computed while decoding.
func (m *Incoming) Verify() error {
	h := m.Header
	if _, err := keys.ParsePublicKey(h.NeuronKey); err != nil {
		return fmt.Errorf("%w: neuron_key: %v", keys.ErrBadSignature, err)
	}
	return verifySigned(h.NeuronKey, h.Signature, signingBytes(h.NeuronKey, h.SynapseKey, h.Nonce, tensorsDigest(m.headers())))
}

// free releases the values of every tensor that still holds them.
func (m *Incoming) Free() {
	for i := range m.Tensors {
		if v := m.Tensors[i].values; v != nil {
			v.Free()
		}
	}
}

// errLimit marks a scan stopped by the Limits rather than by bad protobuf.
type errLimit struct{ error }

// decode reads a TensorMessage from data (see Incoming). It fails for
// bytes that are not a valid TensorMessage, as proto.Unmarshal would.
func (m *Incoming) decode(data mem.BufferSlice) error {
	r := newWireReader(data)
	if err := m.scan(r); err != nil {
		var lim errLimit
		if errors.As(err, &lim) {
			m.Err, m.Tensors = lim.error, nil
			return nil
		}
		return fmt.Errorf("wire: %w", err)
	}
	for i := range m.Tensors {
		if err := validateHeader(m.Tensors[i].Header, m.lim); err != nil {
			m.Err, m.Tensors = fmt.Errorf("tensor %d: %w", i, err), nil
			return nil
		}
	}
	if m.admit != nil {
		if err := m.admit(m); err != nil {
			m.Err = err
			return nil
		}
	}
	for i := range m.Tensors {
		if err := m.fill(r, &m.Tensors[i]); err != nil {
			m.Free()
			return fmt.Errorf("wire: tensor %d: %w", i, err)
		}
	}
	return nil
}

// fill copies t's values from the message into fresh memory (a libtorch
// tensor, or Go bytes for TEXT), hashing and checking each piece as it is
// copied.
func (m *Incoming) fill(r *wireReader, t *IncomingTensor) error {
	n := t.Header.BufLen
	var dst []byte
	if t.Header.DType == bittensorpb.DataType_UTF8 {
		t.text = make([]byte, n)
		dst = t.text
	} else {
		dt, _ := torchDType(t.Header.DType)
		t.values = torch.Empty(t.Header.Shape, torch.WithDType(dt))
		var err error
		if dst, err = t.values.UnsafeBytes(); err != nil {
			return err
		}
		if len(dst) != n { // validateHeader checked the size against the shape
			return fmt.Errorf("tensor of %d bytes for a buffer of %d", len(dst), n)
		}
	}
	bad := make([]int, max(1, (n+digestChunk-1)/digestChunk))
	t.Header.Digest = chunkedDigest(n, func(i int, _ []byte) []byte {
		lo, hi := i*digestChunk, min(n, (i+1)*digestChunk)
		piece := dst[lo:hi]
		r.copyAt(t.bufAt+lo, piece)
		if j, ok := firstBadValue(piece, t.Header.DType, m.maxAbs); ok {
			bad[i] = j
		} else {
			bad[i] = -1
		}
		return piece
	})
	if size, ok := dtypeSize(t.Header.DType); ok {
		for i, j := range bad {
			if j >= 0 {
				t.BadValues = badValueAt(dst[i*digestChunk:], t.Header.DType, j, i*digestChunk/int(size)+j, m.maxAbs)
				break
			}
		}
	}
	runtime.KeepAlive(t.values) // dst is its memory
	return nil
}

// scan reads the envelope and every tensor's metadata, skipping over the
// tensors' values. Errors of type errLimit are breaches of the Limits; the
// others are bytes that are not a TensorMessage.
func (m *Incoming) scan(r *wireReader) error {
	for r.pos < r.end {
		num, typ, err := r.tag()
		if err != nil {
			return err
		}
		switch {
		case num == fieldMsgVersion && typ == protowire.BytesType:
			m.version, err = r.str("version")
		case num == fieldMsgNeuronKey && typ == protowire.BytesType:
			m.Header.NeuronKey, err = r.str("neuron_key")
		case num == fieldMsgSynapseKey && typ == protowire.BytesType:
			m.Header.SynapseKey, err = r.str("synapse_key")
		case num == fieldMsgNonce && typ == protowire.VarintType:
			var v uint64
			v, err = r.varint()
			m.Header.Nonce = int64(v)
		case num == fieldMsgSignature && typ == protowire.BytesType:
			var b []byte
			b, err = r.bytes("signature")
			m.Header.Signature = b
		case num == fieldMsgTensors && typ == protowire.BytesType:
			if len(m.Tensors) == m.lim.MaxTensors {
				return errLimit{Malformedf("more than %d tensors", m.lim.MaxTensors)}
			}
			err = m.scanTensor(r)
		default:
			err = r.skipField(num, typ, protowire.DefaultRecursionLimit)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// scanTensor reads one Tensor submessage's metadata and where its buffer lies.
func (m *Incoming) scanTensor(r *wireReader) error {
	n, err := r.length()
	if err != nil {
		return err
	}
	end := r.end
	r.end = r.pos + n
	defer func() { r.end = end }()
	var t IncomingTensor
	for r.pos < r.end {
		num, typ, err := r.tag()
		if err != nil {
			return err
		}
		var v uint64
		switch {
		case num == fieldTensorVersion && typ == protowire.BytesType:
			t.version, err = r.str("tensor version")
		case num == fieldTensorBuffer && typ == protowire.BytesType:
			var l int
			if l, err = r.length(); err == nil {
				t.bufAt, t.Header.BufLen = r.pos, l
				r.skip(l)
			}
		case num == fieldTensorShape && typ == protowire.BytesType: // packed
			var l int
			if l, err = r.length(); err != nil {
				return err
			}
			outer := r.end
			r.end = r.pos + l
			for err == nil && r.pos < r.end {
				if v, err = r.varint(); err == nil {
					err = t.addDim(int64(v), m.lim)
				}
			}
			r.end = outer
		case num == fieldTensorShape && typ == protowire.VarintType:
			if v, err = r.varint(); err == nil {
				err = t.addDim(int64(v), m.lim)
			}
		case num == fieldTensorDtype && typ == protowire.VarintType:
			v, err = r.varint()
			t.Header.DType = bittensorpb.DataType(int32(v))
		case num == fieldTensorModality && typ == protowire.VarintType:
			v, err = r.varint()
			t.Header.Modality = bittensorpb.Modality(int32(v))
		case num == fieldTensorRequiresGrad && typ == protowire.VarintType:
			v, err = r.varint()
			t.Header.RequiresGrad = protowire.DecodeBool(v)
		default:
			err = r.skipField(num, typ, protowire.DefaultRecursionLimit)
		}
		if err != nil {
			return err
		}
	}
	m.Tensors = append(m.Tensors, t)
	return nil
}

// addDim appends a dimension to t's shape, or fails past lim.MaxRank.
func (t *IncomingTensor) addDim(d int64, lim Limits) error {
	if len(t.Header.Shape) == lim.MaxRank {
		return errLimit{Malformedf("rank exceeds the limit %d", lim.MaxRank)}
	}
	t.Header.Shape = append(t.Header.Shape, d)
	return nil
}

// wireReader reads protobuf from the pieces of a received message without
// gathering them: pos is the position in the whole message, and end the end
// of the (sub)message being read.
type wireReader struct {
	pieces [][]byte
	starts []int // the position of each piece
	size   int   // of the whole message
	pi     int   // the piece holding pos
	pos    int
	end    int
}

func newWireReader(data mem.BufferSlice) *wireReader {
	r := &wireReader{}
	for _, b := range data {
		if p := b.ReadOnlyData(); len(p) > 0 {
			r.pieces = append(r.pieces, p)
			r.starts = append(r.starts, r.end)
			r.end += len(p)
		}
	}
	r.size = r.end
	return r
}

// locate returns the piece and the offset in it of position pos < r.end,
// starting the search at piece from.
func (r *wireReader) locate(pos, from int) (int, int) {
	if from >= len(r.starts) || r.starts[from] > pos {
		from = 0
	}
	i := from + sort.Search(len(r.starts)-from, func(i int) bool { return r.starts[from+i] > pos }) - 1
	return i, pos - r.starts[i]
}

// copyAt fills dst with the message's bytes from position pos on, which
// must lie within the message.
func (r *wireReader) copyAt(pos int, dst []byte) {
	if len(dst) == 0 {
		return
	}
	i, off := r.locate(pos, 0)
	for n := 0; n < len(dst); i, off = i+1, 0 {
		n += copy(dst[n:], r.pieces[i][off:])
	}
}

// skip moves on n bytes, which the caller checked lie before r.end.
func (r *wireReader) skip(n int) {
	r.pos += n
	if r.pos < r.size {
		r.pi, _ = r.locate(r.pos, r.pi)
	}
}

// window returns the bytes from pos on, at most len(scratch) of them and
// none past end: in place when one piece holds them, else gathered into
// scratch.
func (r *wireReader) window(scratch []byte) []byte {
	n := min(len(scratch), r.end-r.pos)
	if n <= 0 {
		return nil
	}
	off := r.pos - r.starts[r.pi]
	if p := r.pieces[r.pi][off:]; len(p) >= n {
		return p[:n]
	}
	r.copyAt(r.pos, scratch[:n])
	return scratch[:n]
}

// tag reads a field's tag.
func (r *wireReader) tag() (protowire.Number, protowire.Type, error) {
	var scratch [binaryMaxVarint]byte
	num, typ, n := protowire.ConsumeTag(r.window(scratch[:]))
	if n < 0 {
		return 0, 0, protowire.ParseError(n)
	}
	if num > protowire.MaxValidNumber { // ConsumeTag lets these through; proto.Unmarshal does not
		return 0, 0, errWireFieldNumber
	}
	r.skip(n)
	return num, typ, nil
}

// The errors of bytes that are not protobuf, as protowire reports them.
var (
	errWireTruncated   = protowire.ParseError(-1)
	errWireFieldNumber = protowire.ParseError(-2)
	errWireReserved    = protowire.ParseError(-4)
	errWireEndGroup    = protowire.ParseError(-5)
	errWireDepth       = errors.New("exceeded maximum recursion depth")
)

// binaryMaxVarint is the longest varint.
const binaryMaxVarint = 10

// varint reads a varint.
func (r *wireReader) varint() (uint64, error) {
	var scratch [binaryMaxVarint]byte
	v, n := protowire.ConsumeVarint(r.window(scratch[:]))
	if n < 0 {
		return 0, protowire.ParseError(n)
	}
	r.skip(n)
	return v, nil
}

// length reads the length of a length-delimited field, which must fit
// before r.end.
func (r *wireReader) length() (int, error) {
	v, err := r.varint()
	if err != nil {
		return 0, err
	}
	if v > uint64(r.end-r.pos) {
		return 0, errWireTruncated
	}
	return int(v), nil
}

// bytes reads a length-delimited field of at most maxEnvelopeBytes.
func (r *wireReader) bytes(what string) ([]byte, error) {
	n, err := r.length()
	if err != nil {
		return nil, err
	}
	if n > maxEnvelopeBytes {
		return nil, errLimit{Malformedf("%s is %d bytes, over the limit of %d", what, n, maxEnvelopeBytes)}
	}
	b := make([]byte, n)
	r.copyAt(r.pos, b)
	r.skip(n)
	return b, nil
}

// str reads a string field, which must be UTF-8 (as proto3 requires).
func (r *wireReader) str(what string) (string, error) {
	b, err := r.bytes(what)
	if err != nil {
		return "", err
	}
	if !utf8.Valid(b) {
		return "", fmt.Errorf("%s: invalid UTF-8", what)
	}
	return string(b), nil
}

// skipField skips the value of an unknown field (or a known one of another
// wire type, as protobuf does), groups nested at most depth deep.
func (r *wireReader) skipField(num protowire.Number, typ protowire.Type, depth int) error {
	switch typ {
	case protowire.VarintType:
		_, err := r.varint()
		return err
	case protowire.Fixed32Type, protowire.Fixed64Type:
		n := 4
		if typ == protowire.Fixed64Type {
			n = 8
		}
		if r.end-r.pos < n {
			return errWireTruncated
		}
		r.skip(n)
		return nil
	case protowire.BytesType:
		n, err := r.length()
		if err == nil {
			r.skip(n)
		}
		return err
	case protowire.StartGroupType:
		if depth < 0 {
			return errWireDepth
		}
		for {
			num2, typ2, err := r.tag()
			if err != nil {
				return err
			}
			if typ2 == protowire.EndGroupType {
				if num2 != num {
					return errWireEndGroup
				}
				return nil
			}
			if err := r.skipField(num2, typ2, depth-1); err != nil {
				return err
			}
		}
	case protowire.EndGroupType:
		return errWireEndGroup
	}
	return errWireReserved
}
