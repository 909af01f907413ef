package wire

import (
	"fmt"
	"math/bits"
	"sync"

	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // registers the codec Codec hands other messages to
	"google.golang.org/grpc/mem"
)

// The wire codec moves a TensorMessage's tensor values between libtorch's
// memory and gRPC's buffers with one copy each way, where grpc-go's proto
// codec makes two on the way in (gathering the frames, then unmarshaling)
// and the tensor conversions two more (wire bytes to tensor, tensor to wire
// bytes):
//
//   - encoding (Outgoing, built by EncodeMessage) copies each
//     tensor's values from its memory straight into the buffer gRPC sends,
//     hashing each piece for the signature as it is copied;
//   - decoding (Incoming) reads the message's fields from the frames
//     gRPC received, checks every tensor's metadata against the Limits
//     before anything sized by it is allocated, and then copies each
//     tensor's values from the frames into a fresh libtorch tensor, hashing
//     and checking the values of each piece in the same pass.
//
// The bytes on the wire are those of proto.Marshal (TensorMessage, fields in
// number order), so stock protobuf peers on either side interoperate; any
// valid encoding, fields in any order, packed or not, is decoded. Messages
// of other types go to grpc-go's proto codec.

// Codec is the gRPC codec of the Axon's server and the Dendrite's calls.
type Codec struct{ proto encoding.CodecV2 }

// NewCodec returns the wire codec, handing other messages to grpc-go's
// proto codec.
func NewCodec() Codec { return Codec{proto: encoding.GetCodecV2("proto")} }

// Name is the content-subtype of the messages: they are protobuf.
func (Codec) Name() string { return "proto" }

// Marshal hands gRPC the buffers of an Outgoing, or marshals any other
// message with the proto codec.
func (c Codec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(*Outgoing)
	if !ok {
		return c.proto.Marshal(v)
	}
	if m.sent {
		return nil, fmt.Errorf("wire: outgoing message marshaled twice")
	}
	m.sent = true
	return m.bufs, nil // gRPC frees them once written
}

// Unmarshal decodes into an Incoming, or into any other message with
// the proto codec.
func (c Codec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(*Incoming)
	if !ok {
		return c.proto.Unmarshal(data, v)
	}
	return m.decode(data)
}

// BufferPool is a mem.BufferPool of byte slices in power-of-two classes that,
// unlike gRPC's default pool, does not zero a buffer it hands out: for the
// encoder, which writes every byte of a buffer before gRPC reads it.
type BufferPool struct{ classes [dirtyPoolClasses]sync.Pool }

// The pool's classes hold buffers of 2^minDirtyClass (4 KiB) to
// 2^(minDirtyClass+dirtyPoolClasses-1) (128 MiB) bytes; larger ones are
// allocated afresh.
const (
	minDirtyClass    = 12
	dirtyPoolClasses = 16
)

// class returns the class of a buffer of size bytes, or -1 when it is too large.
func (*BufferPool) class(size int) int {
	c := 0
	if size > 1<<minDirtyClass {
		c = bits.Len(uint(size-1)) - minDirtyClass
	}
	if c >= dirtyPoolClasses {
		return -1
	}
	return c
}

// Get returns a buffer of length size whose bytes are undefined.
func (p *BufferPool) Get(size int) *[]byte {
	c := p.class(size)
	if c < 0 {
		b := make([]byte, size)
		return &b
	}
	if b, ok := p.classes[c].Get().(*[]byte); ok {
		*b = (*b)[:size]
		return b
	}
	b := make([]byte, size, 1<<(minDirtyClass+c))
	return &b
}

// Put returns a buffer that Get handed out.
func (p *BufferPool) Put(b *[]byte) {
	if c := p.class(cap(*b)); c >= 0 && cap(*b) == 1<<(minDirtyClass+c) {
		p.classes[c].Put(b)
	}
}
