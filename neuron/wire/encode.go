package wire

import (
	"crypto/sha256"
	"runtime"

	"github.com/opentensor/bittensor-go/neuron/keys"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
)

// Outgoing is a TensorMessage encoded for gRPC (see Codec): its
// buffers, each holding one reference that passes to gRPC with Marshal.
type Outgoing struct {
	bufs mem.BufferSlice
	sent bool
}

// free releases the buffers of a message gRPC never took (a call that failed
// before sending it).
func (m *Outgoing) Free() {
	if !m.sent {
		m.sent = true
		m.bufs.Free()
	}
}

// Encoded is one entry of a TensorMessage's tensors field, encoded:
// tag, length and Tensor submessage with its values, and what a signature
// covers of it.
type Encoded struct {
	buf    mem.Buffer // holds one reference, the owner's
	Header TensorHeader
}

// Field numbers of bittensor.proto.
const (
	fieldMsgVersion    protowire.Number = 1
	fieldMsgNeuronKey  protowire.Number = 2
	fieldMsgSynapseKey protowire.Number = 3
	fieldMsgNonce      protowire.Number = 4
	fieldMsgSignature  protowire.Number = 5
	fieldMsgTensors    protowire.Number = 6

	fieldTensorVersion      protowire.Number = 1
	fieldTensorBuffer       protowire.Number = 2
	fieldTensorShape        protowire.Number = 3
	fieldTensorDtype        protowire.Number = 4
	fieldTensorModality     protowire.Number = 5
	fieldTensorRequiresGrad protowire.Number = 6
)

// appendString appends a string field, omitted when empty (proto3).
func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// appendVarintField appends a varint field, omitted when zero (proto3).
func appendVarintField(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

// encodeTensor encodes the tensors entry of h (whose bufLen is len(data))
// with the values data, little-endian in C order, copied from where they
// lie (libtorch's memory, say) into a buffer of pool: once, hashing each
// piece as it is copied when hash is set (h.Digest is then their
// bufferDigest). The fields are in number order, as proto.Marshal writes
// them.
func encodeTensor(pool mem.BufferPool, h TensorHeader, data []byte, hash bool) Encoded {
	packed := 0
	for _, d := range h.Shape {
		packed += protowire.SizeVarint(uint64(d))
	}
	var head, tail []byte // the fields before and after the values' bytes
	head = appendString(head, fieldTensorVersion, ProtocolVersion)
	if len(data) > 0 {
		head = protowire.AppendTag(head, fieldTensorBuffer, protowire.BytesType)
		head = protowire.AppendVarint(head, uint64(len(data)))
	}
	if len(h.Shape) > 0 {
		tail = protowire.AppendTag(tail, fieldTensorShape, protowire.BytesType)
		tail = protowire.AppendVarint(tail, uint64(packed))
		for _, d := range h.Shape {
			tail = protowire.AppendVarint(tail, uint64(d))
		}
	}
	tail = appendVarintField(tail, fieldTensorDtype, uint64(h.DType))
	tail = appendVarintField(tail, fieldTensorModality, uint64(h.Modality))
	if h.RequiresGrad {
		tail = appendVarintField(tail, fieldTensorRequiresGrad, 1)
	}
	sub := len(head) + len(data) + len(tail)
	var entry []byte
	entry = protowire.AppendTag(entry, fieldMsgTensors, protowire.BytesType)
	entry = protowire.AppendVarint(entry, uint64(sub))
	size := len(entry) + sub
	buf := pool.Get(size)
	out := (*buf)[:size]
	n := copy(out, entry)
	n += copy(out[n:], head)
	values := out[n : n+len(data)]
	copy(out[n+len(data):], tail)
	if hash {
		h.Digest = chunkedDigest(len(data), func(i int, _ []byte) []byte {
			lo, hi := i*digestChunk, min(len(data), (i+1)*digestChunk)
			copy(values[lo:hi], data[lo:hi])
			return values[lo:hi]
		})
	} else {
		copy(values, data)
	}
	h.BufLen = len(data)
	return Encoded{buf: mem.NewBuffer(buf, pool), Header: h}
}

// EncodeTorch encodes x, a float32, float64, int32 or int64 tensor on any
// device and in any layout, as a tensors entry of modality (see
// encodeTensor): its values are copied once from libtorch's memory into the
// buffer, from a contiguous CPU copy only when x is neither.
func EncodeTorch(pool mem.BufferPool, x *torch.Tensor, modality bittensorpb.Modality, requiresGrad, hash bool) (Encoded, error) {
	if err := x.Err(); err != nil {
		return Encoded{}, err
	}
	dt, err := DTypeOf(x.DType())
	if err != nil {
		return Encoded{}, err
	}
	src := x
	data, err := x.UnsafeBytes()
	if err != nil { // on another device, or not contiguous
		src = x.Detach().To(torch.CPU).Contiguous()
		defer src.Free()
		if data, err = src.UnsafeBytes(); err != nil {
			return Encoded{}, err
		}
	}
	h := TensorHeader{DType: dt, Modality: modality, RequiresGrad: requiresGrad, Shape: x.Shape()}
	e := encodeTensor(pool, h, data, hash)
	runtime.KeepAlive(src) // the values were read from its memory
	return e, nil
}

// EncodeWire encodes w, a tensor already in wire form (TEXT), as a tensors
// entry (see encodeTensor).
func EncodeWire(pool mem.BufferPool, w *bittensorpb.Tensor, hash bool) Encoded {
	return encodeTensor(pool, headerOf(w, [sha256.Size]byte{}), w.GetBuffer(), hash)
}

// Header is the envelope of a TensorMessage, all but its tensors.
type Header struct {
	NeuronKey, SynapseKey string
	Nonce                 int64
	Signature             []byte
}

// EncodeMessage returns the TensorMessage of header h and tensors ts, in
// order, ready for gRPC: each tensor's buffer gains a reference for gRPC; the
// caller keeps its own. With key set, h is signed by key (neuron_key, nonce
// and signature set), which needs each tensor's digest.
func EncodeMessage(h Header, ts []Encoded, key *keys.Key, nonce int64) *Outgoing {
	if key != nil {
		headers := make([]TensorHeader, len(ts))
		for i, t := range ts {
			headers[i] = t.Header
		}
		h.NeuronKey, h.Nonce = key.PublicHex(), nonce
		h.Signature = key.Sign(signingBytes(h.NeuronKey, h.SynapseKey, h.Nonce, tensorsDigest(headers)))
	}
	var b []byte
	b = appendString(b, fieldMsgVersion, ProtocolVersion)
	b = appendString(b, fieldMsgNeuronKey, h.NeuronKey)
	b = appendString(b, fieldMsgSynapseKey, h.SynapseKey)
	b = appendVarintField(b, fieldMsgNonce, uint64(h.Nonce))
	if len(h.Signature) > 0 {
		b = protowire.AppendTag(b, fieldMsgSignature, protowire.BytesType)
		b = protowire.AppendBytes(b, h.Signature)
	}
	bufs := make(mem.BufferSlice, 0, 1+len(ts))
	bufs = append(bufs, mem.SliceBuffer(b))
	for _, t := range ts {
		t.buf.Ref()
		bufs = append(bufs, t.buf)
	}
	return &Outgoing{bufs: bufs}
}

// Free drops the owner's reference to the encoded bytes.
func (e Encoded) Free() { e.buf.Free() }
