package metagraph

import (
	"context"
	"fmt"
	"testing"
	"time"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

// BenchmarkVerifySynapse is the cost of checking one received definition at
// the default difficulty (proof of work, then signature).
func BenchmarkVerifySynapse(b *testing.B) {
	bits := DefaultConfig().PoWBits
	defs := make([]*bittensorpb.Synapse, 16)
	for i := range defs {
		defs[i] = signedDef(b, labelKey(b, fmt.Sprint("owner ", i)), fmt.Sprint("syn ", i), time.Unix(1700000000, 0), bits)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := VerifySynapse(defs[i%len(defs)], bits); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignSynapse is the cost of one refresh of a local definition at the
// default difficulty (proof of work search and signature).
func BenchmarkSignSynapse(b *testing.B) {
	bits := DefaultConfig().PoWBits
	owner := labelKey(b, "owner")
	d := NewSynapseDefinition(labelKey(b, "syn").PublicHex(), "10.0.0.1", 8091)
	for i := int64(1); b.Loop(); i++ {
		if err := SignSynapse(d, owner, i, bits); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGossipConverge reports the rounds an in-memory network needs until
// every member knows every synapse (see bench/gossip for the reported line).
func BenchmarkGossipConverge(b *testing.B) {
	for _, n := range []int{16, 64} {
		b.Run(fmt.Sprint("n=", n), func(b *testing.B) {
			total, runs := 0, 0
			for b.Loop() {
				b.StopTimer()
				nw := newMemberNetwork(b, n, networkConfig(), uint64(runs+1))
				b.StartTimer()
				r := nw.roundsToConverge(context.Background(), 10*convergenceBound(n))
				if r > 10*convergenceBound(n) {
					b.Fatalf("n=%d did not converge", n)
				}
				total += r
				runs++
			}
			b.ReportMetric(float64(total)/float64(runs), "rounds")
		})
	}
}
