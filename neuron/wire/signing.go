package wire

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opentensor/bittensor-go/neuron/keys"

	"github.com/zeebo/blake3"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

// signingDomain prefixes the bytes a TensorMessage signature covers, so that a
// signature made for this purpose can never be mistaken for one over anything
// else signed with the same key (a Synapse definition, say).
const signingDomain = "bittensor/TensorMessage/v1\x00"

// messageDigest returns the SHA-256 digest of a message's tensors: for each in
// order its dtype, modality, requires_grad, rank, shape, buffer length and
// bufferDigest, so that two different tensor lists never share an encoding.
// The version field is not covered.
func messageDigest(ts []*bittensorpb.Tensor) [sha256.Size]byte {
	hs := make([]TensorHeader, len(ts))
	for i, t := range ts {
		hs[i] = headerOf(t, bufferDigest(t.GetBuffer()))
	}
	return tensorsDigest(hs)
}

// TensorHeader is what a signature covers of one tensor: its metadata and
// the bufferDigest of its values.
type TensorHeader struct {
	DType        bittensorpb.DataType
	Modality     bittensorpb.Modality
	RequiresGrad bool
	Shape        []int64
	BufLen       int
	Digest       [sha256.Size]byte
}

// headerOf returns the TensorHeader of t whose buffer digest is digest.
func headerOf(t *bittensorpb.Tensor, digest [sha256.Size]byte) TensorHeader {
	return TensorHeader{DType: t.GetDtype(), Modality: t.GetModality(), RequiresGrad: t.GetRequiresGrad(),
		Shape: t.GetShape(), BufLen: len(t.GetBuffer()), Digest: digest}
}

// tensorsDigest is messageDigest over the tensors' headers.
func tensorsDigest(ts []TensorHeader) [sha256.Size]byte {
	h := sha256.New()
	var hdr [8]byte
	put := func(v uint64) {
		binary.BigEndian.PutUint64(hdr[:], v)
		h.Write(hdr[:])
	}
	put(uint64(len(ts)))
	for _, t := range ts {
		put(uint64(t.DType))
		put(uint64(t.Modality))
		if t.RequiresGrad {
			put(1)
		} else {
			put(0)
		}
		put(uint64(len(t.Shape)))
		for _, d := range t.Shape {
			put(uint64(d))
		}
		put(uint64(t.BufLen))
		h.Write(t.Digest[:])
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// digestChunk is the size of the pieces bufferDigest hashes independently.
const digestChunk = 64 << 10

// parallelDigestPieces is the number of pieces (1 MiB) from which a buffer
// is hashed on several goroutines.
const parallelDigestPieces = 16

// bufferDigest returns the SHA-256 of the concatenated BLAKE3-256 digests
// of buf's digestChunk-sized pieces, in order (a buffer of at most one piece
// is hashed twice). The two levels let a large buffer hash on every core: the
// pieces are hashed in parallel, which shortens the time a request waits for
// its signature check (the caller's side hashes the same way). The pieces
// are hashed with BLAKE3, faster per byte than SHA-256 (BenchmarkBufferDigest
// gives both).
func bufferDigest(buf []byte) [sha256.Size]byte {
	return chunkedDigest(len(buf), func(i int, _ []byte) []byte {
		return buf[i*digestChunk : min(len(buf), (i+1)*digestChunk)]
	})
}

// chunkedDigest returns the bufferDigest of a buffer of size bytes whose
// digestChunk-sized piece i is piece(i, scratch): piece returns the piece's
// bytes, which it may first copy into place or check, so that a buffer is
// copied, checked and hashed in one pass, a piece at a time while it is in
// the cache. scratch is a digestChunk-sized buffer of the calling goroutine
// that piece may use. A buffer of parallelDigestPieces pieces or more is
// produced and hashed on up to GOMAXPROCS goroutines at once; a smaller one
// on the caller's, which costs less than waking other threads (on a loaded
// machine, much less).
func chunkedDigest(size int, piece func(i int, scratch []byte) []byte) [sha256.Size]byte {
	n := max(1, (size+digestChunk-1)/digestChunk)
	sums := make([][sha256.Size]byte, n)
	if workers := min(n, runtime.GOMAXPROCS(0)); workers <= 1 || n < parallelDigestPieces {
		var scratch []byte
		for i := range sums {
			if scratch == nil && n > 1 {
				scratch = make([]byte, digestChunk)
			}
			sums[i] = blake3.Sum256(piece(i, scratch))
		}
	} else {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				scratch := make([]byte, digestChunk)
				for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
					sums[i] = blake3.Sum256(piece(i, scratch))
				}
			})
		}
		wg.Wait()
	}
	h := sha256.New()
	for _, s := range sums {
		h.Write(s[:])
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// messageSigningBytes returns what a TensorMessage's signature covers: a domain tag,
// then neuron_key, synapse_key (each preceded by its length), the nonce and
// messageDigest of the tensors.
func messageSigningBytes(m *bittensorpb.TensorMessage) []byte {
	return signingBytes(m.GetNeuronKey(), m.GetSynapseKey(), m.GetNonce(), messageDigest(m.GetTensors()))
}

// signingBytes is messageSigningBytes of a message's fields and its messageDigest.
func signingBytes(neuronKey, synapseKey string, nonce int64, digest [sha256.Size]byte) []byte {
	b := make([]byte, 0, len(signingDomain)+8+len(neuronKey)+8+len(synapseKey)+8+len(digest))
	b = append(b, signingDomain...)
	b = binary.BigEndian.AppendUint64(b, uint64(len(neuronKey)))
	b = append(b, neuronKey...)
	b = binary.BigEndian.AppendUint64(b, uint64(len(synapseKey)))
	b = append(b, synapseKey...)
	b = binary.BigEndian.AppendUint64(b, uint64(nonce))
	return append(b, digest[:]...)
}

// SignMessage stamps m as sent by key with the given nonce: it sets neuron_key
// to the key's hex public key, the nonce, and the signature over messageSigningBytes.
// Tensors and synapse_key must already be in place.
func SignMessage(m *bittensorpb.TensorMessage, key *keys.Key, nonce int64) {
	m.NeuronKey = key.PublicHex()
	m.Nonce = nonce
	m.Signature = key.Sign(messageSigningBytes(m))
}

// VerifyMessage checks that m's signature is neuron_key's signature over
// messageSigningBytes(m). Errors wrap keys.ErrBadSignature.
func VerifyMessage(m *bittensorpb.TensorMessage) error {
	if _, err := keys.ParsePublicKey(m.GetNeuronKey()); err != nil { // before hashing anything
		return fmt.Errorf("%w: neuron_key: %v", keys.ErrBadSignature, err)
	}
	return verifySigned(m.GetNeuronKey(), m.GetSignature(), messageSigningBytes(m))
}

// verifySigned checks that signature is neuronKey's signature over signed.
// Errors wrap keys.ErrBadSignature.
func verifySigned(neuronKey string, signature, signed []byte) error {
	if _, err := keys.ParsePublicKey(neuronKey); err != nil {
		return fmt.Errorf("%w: neuron_key: %v", keys.ErrBadSignature, err)
	}
	if !keys.Verify(neuronKey, signed, signature) {
		return fmt.Errorf("%w from %s", keys.ErrBadSignature, keys.Label(neuronKey))
	}
	return nil
}

// Nonces issues the nonces of one caller (to any number of servers). Each nonce is the
// larger of the previous one plus one and the current time in Unix
// nanoseconds, so nonces strictly increase, also across restarts of the caller,
// and stay close to the clock the server's ReplayGuard compares them with.
// It is safe for concurrent use.
type Nonces struct {
	last atomic.Int64
	now  func() time.Time
}

// NewNonces returns a nonce source that reads the time from now (time.Now when nil).
func NewNonces(now func() time.Time) *Nonces {
	if now == nil {
		now = time.Now
	}
	return &Nonces{now: now}
}

// Next returns a nonce greater than every nonce this source returned before.
func (n *Nonces) Next() int64 {
	for {
		last := n.last.Load()
		next := max(last+1, n.now().UnixNano())
		if n.last.CompareAndSwap(last, next) {
			return next
		}
	}
}
