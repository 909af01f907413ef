package neuron

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/opentensor/bittensor-go/neuron/keys"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
)

// fuzzLimits are small so the fuzzer reaches the limit checks quickly.
func fuzzLimits() Limits {
	return Limits{MaxTensors: 4, MaxRank: 4, MaxElements: 1 << 12, MaxStrings: 64, MaxStringBytes: 256}
}

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
// ValidateTensor and DeserializeTensor: neither may panic, an accepted numeric
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
		if err := ValidateTensor(&tensor, lim); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ValidateTensor error %v does not wrap ErrMalformed", err)
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
	key := testKey(f, 3)
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

// FuzzAxonRequest feeds arbitrary TensorMessages for a served synapse
// straight to the Axon's Forward and Backward handlers, past the network and
// authentication: they must never panic, must answer every request either with a
// result or with a gRPC status of an expected code, and must keep answering a
// valid request afterwards.
func FuzzAxonRequest(f *testing.F) {
	syn := newLinearSynapse(f, 1)
	cfg := testConfig()
	cfg.Limits = fuzzLimits()
	a, err := NewAxon(cfg)
	if err != nil {
		f.Fatal(err)
	}
	if err := a.Serve(syn); err != nil {
		f.Fatal(err)
	}
	svc := axonService{a: a}
	x, _ := SerializeTensor(torch.Zeros([]int64{2, testIn}), bittensorpb.Modality_TENSOR)
	g, _ := SerializeTensor(torch.Ones([]int64{2, testOut}), bittensorpb.Modality_TENSOR)
	text, _ := EncodeText([]string{"ab", "c"})
	for _, ts := range [][]*bittensorpb.Tensor{{x}, {x, g}, {text}, {text, g}, {g}} {
		b, _ := proto.Marshal(&bittensorpb.TensorMessage{Tensors: ts})
		f.Add(b, false)
		f.Add(b, true)
	}
	valid := &bittensorpb.TensorMessage{SynapseKey: syn.Key(), Tensors: []*bittensorpb.Tensor{x}}
	validBytes, _ := proto.Marshal(valid)
	call := func(b []byte, backward bool) (*Outgoing, error) {
		req := a.newRequest()
		if err := req.decode(mem.BufferSlice{mem.SliceBuffer(b)}); err != nil {
			return nil, fmt.Errorf("the wire codec refused a valid TensorMessage: %w", err)
		}
		defer req.Free()
		if req.Err != nil { // the interceptor refuses it with INVALID_ARGUMENT
			if !errors.Is(req.Err, ErrMalformed) {
				return nil, fmt.Errorf("a refused request's error %w does not wrap ErrMalformed", req.Err)
			}
			return nil, status.Error(codes.InvalidArgument, req.Err.Error())
		}
		if backward {
			return svc.backward(context.Background(), req)
		}
		return svc.forward(context.Background(), req)
	}
	f.Fuzz(func(t *testing.T, b []byte, backward bool) {
		var m bittensorpb.TensorMessage
		if proto.Unmarshal(b, &m) != nil {
			return
		}
		m.SynapseKey = syn.Key()
		b, err := proto.Marshal(&m)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := call(b, backward)
		switch status.Code(err) {
		case codes.OK, codes.InvalidArgument, codes.Unimplemented, codes.Internal:
		default:
			t.Fatalf("request answered %v", err)
		}
		if resp != nil {
			resp.Free()
		}
		resp, err = call(validBytes, false)
		if err != nil {
			t.Fatalf("valid request after a fuzzed one: %v", err)
		}
		resp.Free()
	})
}
