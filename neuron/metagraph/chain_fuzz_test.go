package metagraph

import (
	"testing"
	"time"
)

// FuzzWeightsRecord feeds arbitrary bytes to the weights record decoder: it
// returns a record or an error, never panics, and a record it returns stays
// within the entry limit and names a well-formed neuron key.
func FuzzWeightsRecord(f *testing.F) {
	k := labelKey(f, "fuzz weights")
	n, s := labelKey(f, "fuzz n").PublicHex(), labelKey(f, "fuzz s").PublicHex()
	good, err := encodeWeights(k, 7, []SynapseWeight{{n, s, 0.5}}, 4)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := decodeWeights(b, 4)
		if err != nil {
			return
		}
		if len(rec.Weights) > 4 || rec.Nonce <= 0 || !isKeyHex(rec.Neuron) {
			t.Fatalf("accepted a record out of bounds: %+v", rec)
		}
	})
}

// FuzzChainValue feeds arbitrary keys and values to what a member does with
// a value read from etcd: no panic, nothing stored that breaks the
// definition rules, the cache within its size.
func FuzzChainValue(f *testing.F) {
	cfg := fuzzConfig()
	owner := labelKey(f, "fuzz chain owner")
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	def := signedDef(f, owner, "fuzz chain synapse", now, cfg.PoWBits)
	b, err := marshalSynapse(def)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(synapseKeyPath("/p/", idOf(def)), b)
	f.Add("/p/synapses/x/y", b)
	f.Add(weightsKeyPath("/p/", owner.PublicHex()), []byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, key string, value []byte) {
		st := newMetagraphState(cfg, now)
		kind, id := parseChainKey("/p/", key)
		if kind != chainKeySynapse {
			return
		}
		d, err := decodeChainSynapse(id, value, 4096)
		if err != nil {
			return
		}
		if idOf(d) != id {
			t.Fatalf("decoded a definition of %v under the key of %v", idOf(d), id)
		}
		if st.accept(d, now) == nil {
			if err := VerifySynapse(d, cfg.PoWBits); err != nil {
				t.Fatalf("stored a definition that does not verify: %v", err)
			}
		}
		if len(st.synapses) > cfg.Size {
			t.Fatal("cache over its size")
		}
	})
}
