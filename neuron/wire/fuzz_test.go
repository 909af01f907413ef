package wire

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/opentensor/bittensor-go/neuron/internal/fixture"

	"google.golang.org/protobuf/proto"

	"github.com/opentensor/bittensor-go/neuron/keys"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

// FuzzDecodeText feeds arbitrary TEXT buffers and string counts to DecodeText:
// it must never panic, must fail only with ErrMalformed, and whatever it accepts
// must re-encode to the same bytes.
func FuzzDecodeText(f *testing.F) {
	good, _ := EncodeText([]string{"hello", "", "wörld"})
	f.Add(good.GetBuffer(), int64(3))
	f.Add([]byte{}, int64(0))
	f.Add([]byte{1, 0, 0, 0}, int64(1))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 'a'}, int64(1))
	f.Add([]byte{1, 0, 0, 0, 0xc3}, int64(1))
	f.Fuzz(func(t *testing.T, buf []byte, n int64) {
		lim := fuzzLimits()
		got, err := DecodeText(textTensor(n, buf), lim)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("DecodeText error %v does not wrap ErrMalformed", err)
			}
			return
		}
		again, err := EncodeText(got)
		if err != nil {
			t.Fatalf("EncodeText of decoded strings: %v", err)
		}
		if string(again.GetBuffer()) != string(buf) {
			t.Fatalf("re-encoding %q gave a different buffer", got)
		}
	})
}

// FuzzValidateTensor feeds arbitrary wire Tensors (as protobuf bytes) to
// validateTensor and DeserializeTensor: neither may panic, an accepted numeric
// tensor's buffer must hold exactly its elements, and it must come back
// unchanged from a trip through torch.
func FuzzValidateTensor(f *testing.F) {
	for _, t := range []*bittensorpb.Tensor{
		{Shape: []int64{2, 2}, Buffer: make([]byte, 16), Dtype: bittensorpb.DataType_FLOAT32},
		{Shape: []int64{-1}, Dtype: bittensorpb.DataType_INT64},
		{Shape: []int64{1 << 40, 1 << 40}, Dtype: bittensorpb.DataType_FLOAT64},
		{Shape: []int64{1}, Dtype: bittensorpb.DataType_UTF8, Modality: bittensorpb.Modality_TEXT},
		{Dtype: 99, Modality: 99},
	} {
		b, _ := proto.Marshal(t)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var tensor bittensorpb.Tensor
		if proto.Unmarshal(b, &tensor) != nil {
			return
		}
		lim := fuzzLimits()
		if err := validateTensor(&tensor, lim); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("validateTensor error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if tensor.GetDtype() == bittensorpb.DataType_UTF8 {
			return
		}
		n := int64(1)
		for _, d := range tensor.GetShape() {
			n *= d
		}
		size, _ := dtypeSize(tensor.GetDtype())
		if n < 0 || n > lim.MaxElements || int64(len(tensor.GetBuffer())) != n*size {
			t.Fatalf("accepted shape %v dtype %v with %d buffer bytes", tensor.GetShape(), tensor.GetDtype(), len(tensor.GetBuffer()))
		}
		// What validates deserializes, and serializes back to the same bytes.
		x, err := DeserializeTensor(&tensor, lim)
		if err != nil {
			t.Fatalf("DeserializeTensor of a valid tensor: %v", err)
		}
		defer x.Free()
		back, err := SerializeTensor(x, tensor.GetModality())
		if err != nil {
			t.Fatalf("SerializeTensor: %v", err)
		}
		if back.GetDtype() != tensor.GetDtype() || !slices.Equal(back.GetShape(), tensor.GetShape()) ||
			!bytes.Equal(back.GetBuffer(), tensor.GetBuffer()) {
			t.Fatalf("round trip changed the tensor: %v %v → %v %v", tensor.GetDtype(), tensor.GetShape(), back.GetDtype(), back.GetShape())
		}
	})
}

// FuzzDecodeMessage feeds arbitrary bytes to DecodeMessage and checks the
// signature of what it accepts: neither may panic, and a decoded message always
// has between one and MaxTensors valid tensors.
func FuzzDecodeMessage(f *testing.F) {
	key := fixture.Key(f, 3)
	text, _ := EncodeText([]string{"a", "bc"})
	m := &bittensorpb.TensorMessage{SynapseKey: "s", Tensors: []*bittensorpb.Tensor{
		text,
		{Shape: []int64{1, 2}, Buffer: make([]byte, 8), Dtype: bittensorpb.DataType_FLOAT32},
	}}
	SignMessage(m, key, 7)
	b, _ := proto.Marshal(m)
	f.Add(b)
	f.Add([]byte{})
	f.Add([]byte{0x32, 0x02, 0x18, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		lim := fuzzLimits()
		m, err := DecodeMessage(b, lim)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("DecodeMessage error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if n := len(m.GetTensors()); n < 1 || n > lim.MaxTensors {
			t.Fatalf("accepted %d tensors", n)
		}
		if err := VerifyMessage(m); err != nil && !errors.Is(err, keys.ErrBadSignature) {
			t.Fatalf("VerifyMessage error %v does not wrap keys.ErrBadSignature", err)
		}
		for _, tensor := range m.GetTensors() {
			if tensor.GetModality() == bittensorpb.Modality_TEXT {
				if _, err := DecodeText(tensor, lim); err != nil && !errors.Is(err, ErrMalformed) {
					t.Fatalf("DecodeText error %v does not wrap ErrMalformed", err)
				}
			}
		}
	})
}

// fuzzLimits are small so the fuzzer reaches the limit checks quickly.
func fuzzLimits() Limits {
	return Limits{MaxTensors: 4, MaxRank: 4, MaxElements: 1 << 12, MaxStrings: 64, MaxStringBytes: 256}
}
