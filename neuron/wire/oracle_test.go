package wire

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
)

// The proto-object path of the wire format: the oracle the codec is tested
// against.

// DecodeMessage parses a wire TensorMessage and validates it with
// validateMessage. gRPC decodes messages itself; this is the same path for
// bytes from elsewhere (files, other transports) and the fuzz target's entry.
func DecodeMessage(b []byte, lim Limits) (*bittensorpb.TensorMessage, error) {
	m := new(bittensorpb.TensorMessage)
	if err := proto.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("serializer: %w", Malformedf("%v", err))
	}
	if err := validateMessage(m, lim); err != nil {
		return nil, fmt.Errorf("serializer: %w", err)
	}
	return m, nil
}

// DeserializeTensor checks w with validateTensor and copies its values into a
// new CPU tensor (one that does not require grad). TEXT tensors are refused:
// use DecodeText for them.
func DeserializeTensor(w *bittensorpb.Tensor, lim Limits) (*torch.Tensor, error) {
	if err := validateTensor(w, lim); err != nil {
		return nil, fmt.Errorf("serializer: %w", err)
	}
	dt, ok := torchDType(w.GetDtype())
	if !ok {
		return nil, fmt.Errorf("serializer: %w", Malformedf("a %v tensor is not numeric (use DecodeText)", w.GetModality()))
	}
	t := torch.FromBytes(w.GetBuffer(), dt, w.GetShape())
	if err := t.Err(); err != nil {
		return nil, fmt.Errorf("serializer: %w", err)
	}
	return t, nil
}
