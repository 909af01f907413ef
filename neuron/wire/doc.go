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
//   - Signing (signing.go): TensorsDigest, SigningBytes, SignMessage and
//     VerifyMessage (errors wrap keys.ErrBadSignature), and Nonces, a
//     caller's clock of strictly increasing nonces.
//   - Limits and TEXT (tensor.go): Limits and ValidateTensor, EncodeText and
//     DecodeText (length-prefixed UTF-8, never pickle), and the dtype tables.
//   - Values (finite.go): CheckValues on wire bytes and CheckTensor on a
//     tensor in this process; errors wrap ErrBadNumbers.
//
// SerializeTensor, DeserializeTensor and DecodeMessage are the same format
// over proto objects: the reference the codec is tested against (and what a
// benchmark uses to build raw requests), not a second path of the neuron.
//
// A decoder of peers' bytes never panics and never trusts a size it has not
// checked: every malformed message is an error wrapping ErrMalformed (fuzz
// targets in fuzz_test.go and codec_test.go).
//
// It imports torch, proto and neuron/keys only.
package wire
