package wire

import (
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/opentensor/bittensor-go/neuron/internal/fixture"
	"github.com/opentensor/bittensor-go/neuron/keys"

	"github.com/zeebo/blake3"
	"google.golang.org/protobuf/proto"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

func signedMessage(t *testing.T, key *keys.Key) *bittensorpb.TensorMessage {
	t.Helper()
	m := &bittensorpb.TensorMessage{
		SynapseKey: fixture.Key(t, 9).PublicHex(),
		Tensors: []*bittensorpb.Tensor{
			{Buffer: []byte{1, 2, 3, 4}, Shape: []int64{1}, Dtype: bittensorpb.DataType_FLOAT32},
			{Buffer: []byte{5, 6, 7, 8, 9, 10, 11, 12}, Shape: []int64{2}, Dtype: bittensorpb.DataType_INT32, Modality: bittensorpb.Modality_IMAGE},
		},
	}
	SignMessage(m, key, 42)
	return m
}

func TestSignVerify(t *testing.T) {
	key := fixture.Key(t, 1)
	m := signedMessage(t, key)
	if m.GetNeuronKey() != key.PublicHex() || m.GetNonce() != 42 {
		t.Fatalf("SignMessage set neuron_key %q nonce %d", m.GetNeuronKey(), m.GetNonce())
	}
	if err := VerifyMessage(m); err != nil {
		t.Fatalf("VerifyMessage(signed) = %v", err)
	}
	// The version field is not covered: relabelling it keeps the signature valid.
	m.Version = "other"
	if err := VerifyMessage(m); err != nil {
		t.Fatalf("VerifyMessage after a version change = %v", err)
	}
	// Every covered part, changed alone, breaks the signature.
	for name, tamper := range map[string]func(m *bittensorpb.TensorMessage){
		"synapse_key":   func(m *bittensorpb.TensorMessage) { m.SynapseKey = fixture.Key(t, 8).PublicHex() },
		"nonce":         func(m *bittensorpb.TensorMessage) { m.Nonce++ },
		"buffer":        func(m *bittensorpb.TensorMessage) { m.Tensors[0].Buffer[0] ^= 1 },
		"shape":         func(m *bittensorpb.TensorMessage) { m.Tensors[1].Shape = []int64{1, 2} },
		"dtype":         func(m *bittensorpb.TensorMessage) { m.Tensors[1].Dtype = bittensorpb.DataType_FLOAT32 },
		"modality":      func(m *bittensorpb.TensorMessage) { m.Tensors[1].Modality = bittensorpb.Modality_TENSOR },
		"requires_grad": func(m *bittensorpb.TensorMessage) { m.Tensors[0].RequiresGrad = true },
		"tensor moved": func(m *bittensorpb.TensorMessage) {
			// Same bytes overall, split differently between the two buffers.
			m.Tensors[0].Buffer = append(m.Tensors[0].Buffer, m.Tensors[1].Buffer[0])
			m.Tensors[1].Buffer = m.Tensors[1].Buffer[1:]
		},
		"dropped tensor": func(m *bittensorpb.TensorMessage) { m.Tensors = m.Tensors[:1] },
		"other signer":   func(m *bittensorpb.TensorMessage) { m.NeuronKey = fixture.Key(t, 2).PublicHex() },
		"signature":      func(m *bittensorpb.TensorMessage) { m.Signature[0] ^= 1 },
		"no signature":   func(m *bittensorpb.TensorMessage) { m.Signature = nil },
		"bad key":        func(m *bittensorpb.TensorMessage) { m.NeuronKey = "zz" },
	} {
		t.Run(name, func(t *testing.T) {
			m := signedMessage(t, key)
			tamper(m)
			if err := VerifyMessage(m); !errors.Is(err, keys.ErrBadSignature) {
				t.Fatalf("VerifyMessage after changing %s = %v, want keys.ErrBadSignature", name, err)
			}
		})
	}
}

func TestSignatureSurvivesTheWire(t *testing.T) {
	m := signedMessage(t, fixture.Key(t, 1))
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var got bittensorpb.TensorMessage
	if err := proto.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if err := VerifyMessage(&got); err != nil {
		t.Fatalf("VerifyMessage after a proto round trip = %v", err)
	}
}

func TestNoncesIncrease(t *testing.T) {
	clock := time.Unix(100, 0)
	n := NewNonces(func() time.Time { return clock })
	first := n.Next()
	if first != clock.UnixNano() {
		t.Fatalf("first nonce %d, want the clock %d", first, clock.UnixNano())
	}
	if second := n.Next(); second != first+1 {
		t.Fatalf("second nonce at a frozen clock = %d, want %d", second, first+1)
	}
	clock = clock.Add(-time.Hour) // the clock steps back: nonces still increase
	if third := n.Next(); third != first+2 {
		t.Fatalf("nonce after the clock stepped back = %d, want %d", third, first+2)
	}
	clock = clock.Add(2 * time.Hour)
	if fourth := n.Next(); fourth != clock.UnixNano() {
		t.Fatalf("nonce after the clock moved on = %d, want %d", fourth, clock.UnixNano())
	}
}

func TestNoncesConcurrentAreDistinct(t *testing.T) {
	n := NewNonces(nil)
	const workers, each = 4, 500
	var mu sync.Mutex
	seen := make(map[int64]bool, workers*each)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			local := make([]int64, 0, each)
			for range each {
				local = append(local, n.Next())
			}
			mu.Lock()
			defer mu.Unlock()
			for _, v := range local {
				if seen[v] {
					t.Errorf("nonce %d issued twice", v)
				}
				seen[v] = true
			}
		})
	}
	wg.Wait()
}

func TestBufferDigestPieces(t *testing.T) {
	// The digest of a multi-piece buffer is the SHA-256 of its pieces'
	// BLAKE3 hashes, in order, whatever the parallelism.
	buf := make([]byte, 2*digestChunk+5)
	for i := range buf {
		buf[i] = byte(i / digestChunk) // pieces differ
	}
	var cat []byte
	for off := 0; off < len(buf); off += digestChunk {
		s := blake3.Sum256(buf[off:min(len(buf), off+digestChunk)])
		cat = append(cat, s[:]...)
	}
	if got, want := bufferDigest(buf), sha256.Sum256(cat); got != want {
		t.Fatalf("bufferDigest = %x, want %x", got, want)
	}
	empty := blake3.Sum256(nil)
	if got, want := bufferDigest(nil), sha256.Sum256(empty[:]); got != want {
		t.Fatalf("bufferDigest(nil) = %x, want %x", got, want)
	}
	// Swapping two pieces changes the digest.
	swapped := append(append(append([]byte{}, buf[digestChunk:2*digestChunk]...), buf[:digestChunk]...), buf[2*digestChunk:]...)
	if bufferDigest(swapped) == bufferDigest(buf) {
		t.Fatal("swapping two pieces kept the digest")
	}
}

// BenchmarkBufferDigest hashes a 16 MiB payload as signing and verifying do.
func BenchmarkBufferDigest(b *testing.B) {
	buf := make([]byte, 16<<20)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		bufferDigest(buf)
	}
}
