package wire

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

func TestTextRoundTrip(t *testing.T) {
	for _, batch := range [][]string{
		{},
		{""},
		{"hello", "", "wörld ✓", strings.Repeat("x", 1000)},
	} {
		enc, err := EncodeText(batch)
		if err != nil {
			t.Fatalf("EncodeText(%q): %v", batch, err)
		}
		if enc.GetDtype() != bittensorpb.DataType_UTF8 || enc.GetModality() != bittensorpb.Modality_TEXT {
			t.Errorf("EncodeText: dtype %v modality %v, want UTF8 TEXT", enc.GetDtype(), enc.GetModality())
		}
		got, err := DecodeText(enc, DefaultLimits())
		if err != nil {
			t.Fatalf("DecodeText(EncodeText(%q)): %v", batch, err)
		}
		if len(got) != len(batch) {
			t.Fatalf("round trip of %q gave %q", batch, got)
		}
		for i := range got {
			if got[i] != batch[i] {
				t.Errorf("string %d: got %q, want %q", i, got[i], batch[i])
			}
		}
	}
}

func TestEncodeTextRefusesInvalidUTF8(t *testing.T) {
	if _, err := EncodeText([]string{"ok", "\xff"}); err == nil || !strings.Contains(err.Error(), "text 1 is not valid UTF-8") {
		t.Fatalf("EncodeText(invalid UTF-8) error = %v", err)
	}
}

// textTensor builds a TEXT tensor from raw parts, bypassing EncodeText.
func textTensor(n int64, buf []byte) *bittensorpb.Tensor {
	return &bittensorpb.Tensor{Buffer: buf, Shape: []int64{n}, Dtype: bittensorpb.DataType_UTF8, Modality: bittensorpb.Modality_TEXT}
}

func prefixed(parts ...string) []byte {
	var b []byte
	for _, p := range parts {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	return b
}

func TestDecodeTextRefusesMalformed(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxStringBytes = 8
	lim.MaxStrings = 4
	for _, tc := range []struct {
		name string
		t    *bittensorpb.Tensor
		want string
	}{
		{"fewer strings than shape", textTensor(2, prefixed("a")), "ends inside the length of string 1"},
		{"trailing bytes", textTensor(1, append(prefixed("a"), 0)), "1 bytes after 1 strings"},
		{"length past end", textTensor(1, binary.LittleEndian.AppendUint32(nil, 5)), "string 0 is 5 bytes but only 0 remain"},
		{"huge length", textTensor(1, binary.LittleEndian.AppendUint32(nil, 0xffffffff)), "string 0 is 4294967295 bytes, over the limit of 8"},
		{"too many strings", textTensor(5, nil), "holds 5 strings, over the limit of 4"},
		{"invalid UTF-8", textTensor(1, prefixed("\xc3")), "string 0 is not valid UTF-8"},
		{"rank 2", &bittensorpb.Tensor{Shape: []int64{1, 1}, Dtype: bittensorpb.DataType_UTF8, Modality: bittensorpb.Modality_TEXT}, "want [number of strings]"},
		{"not TEXT", &bittensorpb.Tensor{Shape: []int64{1}, Buffer: make([]byte, 4), Dtype: bittensorpb.DataType_FLOAT32}, "modality TENSOR is not TEXT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeText(tc.t, lim)
			if err == nil || !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("DecodeText error = %v, want ErrMalformed containing %q", err, tc.want)
			}
		})
	}
}

func TestValidateTensor(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxElements = 1000
	lim.MaxRank = 3
	ok := []*bittensorpb.Tensor{
		{Shape: []int64{2, 3}, Buffer: make([]byte, 24), Dtype: bittensorpb.DataType_FLOAT32},
		{Shape: []int64{2}, Buffer: make([]byte, 16), Dtype: bittensorpb.DataType_INT64, Modality: bittensorpb.Modality_IMAGE},
		{Shape: []int64{0, 5}, Dtype: bittensorpb.DataType_FLOAT64},
		{Shape: nil, Buffer: make([]byte, 4), Dtype: bittensorpb.DataType_INT32}, // a scalar
	}
	for i, tt := range ok {
		if err := validateTensor(tt, lim); err != nil {
			t.Errorf("valid tensor %d: %v", i, err)
		}
	}
	for _, tc := range []struct {
		name string
		t    *bittensorpb.Tensor
		want string
	}{
		{"nil", nil, "nil tensor"},
		{"short buffer", &bittensorpb.Tensor{Shape: []int64{2, 3}, Buffer: make([]byte, 20), Dtype: bittensorpb.DataType_FLOAT32}, "buffer is 20 bytes, want 24"},
		{"negative dim", &bittensorpb.Tensor{Shape: []int64{2, -3}, Dtype: bittensorpb.DataType_FLOAT32}, "dimension 1 is negative (-3)"},
		{"huge dim", &bittensorpb.Tensor{Shape: []int64{1 << 62}, Dtype: bittensorpb.DataType_FLOAT32}, "over the limit of 1000 elements"},
		{"too many elements", &bittensorpb.Tensor{Shape: []int64{100, 100}, Dtype: bittensorpb.DataType_FLOAT32}, "more than 1000 elements"},
		{"overflowing product", &bittensorpb.Tensor{Shape: []int64{1000, 1000, 1000}, Dtype: bittensorpb.DataType_FLOAT32}, "more than 1000 elements"},
		{"rank", &bittensorpb.Tensor{Shape: []int64{1, 1, 1, 1}, Buffer: make([]byte, 4), Dtype: bittensorpb.DataType_FLOAT32}, "rank 4 exceeds the limit 3"},
		{"unknown dtype", &bittensorpb.Tensor{Dtype: bittensorpb.DataType_UNKNOWN}, "unknown dtype 0"},
		{"dtype out of range", &bittensorpb.Tensor{Dtype: bittensorpb.DataType(42)}, "unknown dtype 42"},
		{"unknown modality", &bittensorpb.Tensor{Dtype: bittensorpb.DataType_FLOAT32, Modality: bittensorpb.Modality(7)}, "unknown modality 7"},
		{"UTF8 image", &bittensorpb.Tensor{Shape: []int64{1}, Dtype: bittensorpb.DataType_UTF8, Modality: bittensorpb.Modality_IMAGE}, "modality IMAGE does not carry dtype UTF8"},
		{"float text", &bittensorpb.Tensor{Shape: []int64{1}, Dtype: bittensorpb.DataType_FLOAT32, Modality: bittensorpb.Modality_TEXT}, "modality TEXT does not carry dtype FLOAT32"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := validateTensor(tc.t, lim)
			if err == nil || !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("validateTensor error = %v, want ErrMalformed containing %q", err, tc.want)
			}
		})
	}
}

func TestDecodeMessage(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxTensors = 2
	text, err := EncodeText([]string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	good, err := proto.Marshal(&bittensorpb.TensorMessage{SynapseKey: "s", Tensors: []*bittensorpb.Tensor{text}})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := DecodeMessage(good, lim); err != nil || m.GetSynapseKey() != "s" {
		t.Fatalf("DecodeMessage(valid) = %v, %v", m, err)
	}
	three, _ := proto.Marshal(&bittensorpb.TensorMessage{Tensors: []*bittensorpb.Tensor{text, text, text}})
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"garbage", []byte{0xff, 0xff, 0xff}, "malformed: proto"},
		{"empty", nil, "malformed: no tensors"},
		{"too many tensors", three, "3 tensors, over the limit of 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeMessage(tc.b, lim)
			if err == nil || !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("DecodeMessage error = %v, want ErrMalformed containing %q", err, tc.want)
			}
		})
	}
}
