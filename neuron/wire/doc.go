// Package wire owns the bytes of the Bittensor service: the TensorMessage
// and its tensors as they cross the network.
//
//   - The codec (Codec, codec.go) is the gRPC codec of the Axon and the
//     Dendrite. Encoding (EncodeTorch, EncodeWire, EncodeMessage) copies each
//     tensor's values once, from libtorch's memory into the buffer gRPC sends,
//     hashing them for the signature on the way. Decoding (an Incoming made
//     by NewIncoming) checks every tensor's metadata against the Limits
//     before anything sized by it is allocated, then copies and hashes the
//     values and checks them against a bound (BadValues) in the same pass.
//     The bytes are those of proto.Marshal, so stock protobuf peers
//     interoperate.
//   - Signing (signing.go): SignMessage and VerifyMessage over a domain tag,
//     the keys, the nonce and a digest of the tensors (errors wrap
//     keys.ErrBadSignature), and Nonces, a caller's clock of strictly
//     increasing nonces.
//   - Limits and TEXT (tensor.go): Limits, EncodeText and DecodeText
//     (length-prefixed UTF-8, never pickle), and the dtype tables.
//   - Values (finite.go): the wire bytes' values are checked as they are
//     decoded, and CheckTensor checks a tensor in this process; errors wrap
//     ErrBadNumbers.
//
// SerializeTensor writes a tensor as a proto object, for tests and
// benchmarks that build raw requests by hand; the proto-object decoders the
// codec is tested against live in its tests (oracle_test.go). The neuron
// itself has one path, the codec.
//
// A decoder of peers' bytes never panics and never trusts a size it has not
// checked: every malformed message is an error wrapping ErrMalformed (fuzz
// targets in fuzz_test.go and codec_test.go).
//
// It imports torch, proto and neuron/keys only.
package wire
