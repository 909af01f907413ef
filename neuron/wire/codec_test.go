package wire

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/opentensor/bittensor-go/neuron/internal/fixture"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
)

// materialize returns the bytes of an outgoing message as gRPC sends them.
func materialize(m *Outgoing) []byte {
	b := m.bufs.Materialize()
	m.Free()
	return b
}

// splitPieces cuts b into pieces at the given offsets (taken modulo
// len(b)+1), as gRPC hands a message over in frames.
func splitPieces(b []byte, cuts []byte) mem.BufferSlice {
	at := []int{0, len(b)}
	for _, c := range cuts {
		at = append(at, int(c)%(len(b)+1))
	}
	slices.Sort(at)
	var s mem.BufferSlice
	for i := 1; i < len(at); i++ {
		s = append(s, mem.SliceBuffer(b[at[i-1]:at[i]]))
	}
	return s
}

// TestWireEncodingIsProtoMarshal checks that the encoder writes the bytes
// proto.Marshal writes for the same signed TensorMessage (so a stock peer
// reads them), and that the signature verifies there.
func TestWireEncodingIsProtoMarshal(t *testing.T) {
	key := fixture.Key(t, 5)
	pool := new(BufferPool)
	x := torch.Randn([]int64{3, 70000}) // over one digest piece
	text, err := EncodeText([]string{"hello", "wörld"})
	if err != nil {
		t.Fatal(err)
	}
	ex, err := EncodeTorch(pool, x, bittensorpb.Modality_IMAGE, true, true)
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Free()
	scalar, err := EncodeTorch(pool, torch.FromInt64([]int64{7}), bittensorpb.Modality_TENSOR, false, true)
	if err != nil {
		t.Fatal(err)
	}
	defer scalar.Free()
	et := EncodeWire(pool, text, true)
	defer et.Free()
	got := materialize(EncodeMessage(Header{SynapseKey: "syn"}, []Encoded{ex, et, scalar}, key, 42))

	wx, err := SerializeTensor(x.SetRequiresGrad(true), bittensorpb.Modality_IMAGE)
	if err != nil {
		t.Fatal(err)
	}
	ws, _ := SerializeTensor(torch.FromInt64([]int64{7}), bittensorpb.Modality_TENSOR)
	want := &bittensorpb.TensorMessage{Version: ProtocolVersion, SynapseKey: "syn", Tensors: []*bittensorpb.Tensor{wx, text, ws}}
	SignMessage(want, key, 42)
	wantBytes, err := proto.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, wantBytes) {
		t.Fatalf("encoded %d bytes differ from proto.Marshal's %d", len(got), len(wantBytes))
	}
	var m bittensorpb.TensorMessage
	if err := proto.Unmarshal(got, &m); err != nil {
		t.Fatal(err)
	}
	if err := VerifyMessage(&m); err != nil {
		t.Fatalf("a stock decoder's copy of the message does not verify: %v", err)
	}
	// An unsigned answer with no tensor is the envelope alone.
	bare := materialize(EncodeMessage(Header{SynapseKey: "syn"}, nil, nil, 0))
	if wantBare, _ := proto.Marshal(&bittensorpb.TensorMessage{Version: ProtocolVersion, SynapseKey: "syn"}); !bytes.Equal(bare, wantBare) {
		t.Fatalf("bare answer %x, want %x", bare, wantBare)
	}
}

// TestWireDecodesStockEncoding decodes what proto.Marshal writes, cut in
// frames anywhere, into tensors with the sender's values, digests that
// verify, and the first bad value found.
func TestWireDecodesStockEncoding(t *testing.T) {
	key := fixture.Key(t, 6)
	vals := make([]float32, 2*40000)
	for i := range vals {
		vals[i] = float32(i) / 7
	}
	vals[50000] = float32(math.Inf(-1))
	vals[70000] = float32(math.NaN())
	x := torch.FromFloat32(vals, 2, 40000)
	wx, err := SerializeTensor(x, bittensorpb.Modality_TENSOR)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := EncodeText([]string{"a", "bc"})
	m := &bittensorpb.TensorMessage{SynapseKey: "syn", Tensors: []*bittensorpb.Tensor{wx, text}}
	SignMessage(m, key, 9)
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, cuts := range [][]byte{nil, {1}, {3, 200, 17, 99}, {0, 0, 255}} {
		got := &Incoming{lim: DefaultLimits(), maxAbs: math.Inf(1)}
		// Cut at multiples of 4099 too, through the values.
		pieces := splitPieces(b, cuts)
		var fine mem.BufferSlice
		for _, p := range pieces {
			d := p.ReadOnlyData()
			for len(d) > 4099 {
				fine, d = append(fine, mem.SliceBuffer(d[:4099])), d[4099:]
			}
			fine = append(fine, mem.SliceBuffer(d))
		}
		if err := got.decode(fine); err != nil {
			t.Fatalf("cuts %v: %v", cuts, err)
		}
		if got.Err != nil {
			t.Fatalf("cuts %v: refused: %v", cuts, got.Err)
		}
		if err := got.Verify(); err != nil {
			t.Fatalf("cuts %v: %v", cuts, err)
		}
		if len(got.Tensors) != 2 {
			t.Fatalf("cuts %v: %d tensors", cuts, len(got.Tensors))
		}
		values, err := got.Tensors[0].values.Bytes()
		if err != nil || !bytes.Equal(values, wx.GetBuffer()) {
			t.Fatalf("cuts %v: values differ (%v)", cuts, err)
		}
		if !bytes.Equal(got.Tensors[1].text, text.GetBuffer()) {
			t.Fatalf("cuts %v: text differs", cuts)
		}
		if bad := got.Tensors[0].BadValues; !errors.Is(bad, ErrBadNumbers) || bad.Error() != checkValues(wx, math.Inf(1)).Error() {
			t.Fatalf("cuts %v: badValues %v, want %v", cuts, bad, checkValues(wx, math.Inf(1)))
		}
		got.Free()
	}
}

// TestWireRefusesBeforeAllocating checks that a message breaking the Limits
// or refused by admit is decoded without its tensors.
func TestWireRefusesBeforeAllocating(t *testing.T) {
	huge := &bittensorpb.Tensor{Shape: []int64{1 << 20, 1 << 20}, Dtype: bittensorpb.DataType_FLOAT32, Buffer: make([]byte, 8)}
	many := make([]*bittensorpb.Tensor, 20)
	for i := range many {
		many[i] = &bittensorpb.Tensor{Shape: []int64{1}, Dtype: bittensorpb.DataType_INT32, Buffer: make([]byte, 4)}
	}
	deep := &bittensorpb.Tensor{Shape: make([]int64, 100), Dtype: bittensorpb.DataType_INT32}
	for name, m := range map[string]*bittensorpb.TensorMessage{
		"huge shape":   {Tensors: []*bittensorpb.Tensor{huge}},
		"many tensors": {Tensors: many},
		"deep shape":   {Tensors: []*bittensorpb.Tensor{deep}},
		"long key":     {NeuronKey: string(bytes.Repeat([]byte{'k'}, 10000)), Tensors: many[:1]},
	} {
		b, _ := proto.Marshal(m)
		got := &Incoming{lim: DefaultLimits(), maxAbs: math.Inf(1)}
		if err := got.decode(mem.BufferSlice{mem.SliceBuffer(b)}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !errors.Is(got.Err, ErrMalformed) || got.Tensors != nil {
			t.Errorf("%s: err %v with %d tensors, want ErrMalformed and none", name, got.Err, len(got.Tensors))
		}
	}
	refused := errors.New("not served")
	b, _ := proto.Marshal(&bittensorpb.TensorMessage{Tensors: many[:1]})
	got := &Incoming{lim: DefaultLimits(), admit: func(*Incoming) error { return refused }}
	if err := got.decode(mem.BufferSlice{mem.SliceBuffer(b)}); err != nil || got.Err != refused || got.Tensors[0].values != nil {
		t.Errorf("admit's refusal: %v, %v", err, got.Err)
	}
}

// FuzzWireDecode feeds arbitrary bytes, cut into arbitrary frames, to the
// wire codec's decoder and to proto.Unmarshal: the decoder must never panic,
// must refuse what proto.Unmarshal refuses, and must decode what it accepts
// to the same message, or refuse it for breaking the Limits.
func FuzzWireDecode(f *testing.F) {
	key := fixture.Key(f, 3)
	text, _ := EncodeText([]string{"a", "bc"})
	m := &bittensorpb.TensorMessage{SynapseKey: "s", Tensors: []*bittensorpb.Tensor{
		text,
		{Shape: []int64{1, 2}, Buffer: make([]byte, 8), Dtype: bittensorpb.DataType_FLOAT32, RequiresGrad: true},
		{Shape: []int64{3}, Buffer: []byte{0, 0, 0xc0, 0x7f, 0, 0, 0, 0, 0, 0, 0x80, 0xff}, Dtype: bittensorpb.DataType_FLOAT32},
	}}
	SignMessage(m, key, 7)
	b, _ := proto.Marshal(m)
	f.Add(b, []byte{5, 60})
	f.Add([]byte{}, []byte{})
	f.Add([]byte{0x32, 0x02, 0x18, 0x01}, []byte{1})
	f.Add([]byte{0x32, 0x05, 0x1a, 0x03, 0x01, 0x02, 0x03}, []byte{3})      // packed shape
	f.Add([]byte{0x32, 0x04, 0x18, 0x01, 0x18, 0x02}, []byte{2})            // unpacked shape
	f.Add([]byte{0x3b, 0x08, 0x01, 0x3c, 0x32, 0x00}, []byte{2})            // a group
	f.Add([]byte{0x0a, 0x02, 0xc3, 0x28}, []byte{})                         // bad UTF-8
	f.Add([]byte{0x32, 0x06, 0x12, 0x04, 0, 0, 0x80, 0x7f, 0x20}, []byte{}) // truncated
	f.Fuzz(func(t *testing.T, b []byte, cuts []byte) {
		lim := fuzzLimits()
		var want bittensorpb.TensorMessage
		wantErr := proto.Unmarshal(b, &want)
		got := &Incoming{lim: lim, maxAbs: 1e6}
		err := got.decode(splitPieces(b, cuts))
		defer got.Free()
		if wantErr != nil { // refused either way; a breach of the Limits may stop the decoder first
			if err == nil && !errors.Is(got.Err, ErrMalformed) {
				t.Fatalf("decoded bytes that proto.Unmarshal refuses (%v)", wantErr)
			}
			return
		}
		if err != nil {
			t.Fatalf("decode error %v for bytes proto.Unmarshal accepts", err)
		}
		if got.Err != nil {
			if !errors.Is(got.Err, ErrMalformed) {
				t.Fatalf("refusal %v does not wrap ErrMalformed", got.Err)
			}
			long := max(len(want.GetVersion()), len(want.GetNeuronKey()), len(want.GetSynapseKey()), len(want.GetSignature())) > maxEnvelopeBytes
			for _, w := range want.GetTensors() {
				long = long || len(w.GetVersion()) > maxEnvelopeBytes
			}
			if validateMessage(&want, lim) == nil && len(want.GetTensors()) > 0 && !long {
				t.Fatalf("refused %v, which validateMessage accepts", got.Err)
			}
			return
		}
		h := got.Header
		if got.version != want.GetVersion() || h.NeuronKey != want.GetNeuronKey() || h.SynapseKey != want.GetSynapseKey() ||
			h.Nonce != want.GetNonce() || !bytes.Equal(h.Signature, want.GetSignature()) || len(got.Tensors) != len(want.GetTensors()) {
			t.Fatalf("envelope or tensor count differs from proto.Unmarshal's")
		}
		for i, w := range want.GetTensors() {
			if err := validateTensor(w, lim); err != nil {
				t.Fatalf("tensor %d accepted, which validateTensor refuses: %v", i, err)
			}
			g := &got.Tensors[i]
			if g.version != w.GetVersion() || g.Header.DType != w.GetDtype() || g.Header.Modality != w.GetModality() ||
				g.Header.RequiresGrad != w.GetRequiresGrad() || !slices.Equal(g.Header.Shape, w.GetShape()) {
				t.Fatalf("tensor %d metadata differs from proto.Unmarshal's", i)
			}
			buf := g.text
			if g.values != nil {
				if buf, err = g.values.Bytes(); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(buf, w.GetBuffer()) && len(buf)+len(w.GetBuffer()) > 0 {
				t.Fatalf("tensor %d values differ", i)
			}
			if g.Header.Digest != bufferDigest(w.GetBuffer()) {
				t.Fatalf("tensor %d digest differs", i)
			}
			if wantBad := checkValues(w, 1e6); (g.BadValues == nil) != (wantBad == nil) || (wantBad != nil && g.BadValues.Error() != wantBad.Error()) {
				t.Fatalf("tensor %d bad values %v, checkValues says %v", i, g.BadValues, wantBad)
			}
		}
	})
}
