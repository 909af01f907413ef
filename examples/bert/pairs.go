package bert

import (
	"context"
	"fmt"
	"iter"
	"math/rand/v2"

	"github.com/opentensor/bittensor-go/examples/internal/prefetch"
	"github.com/opentensor/bittensor-go/neuron/trainer"
	"github.com/opentensor/bittensor-go/torch"
)

// heldOutEvery holds out every heldOutEvery-th document of a corpus for
// testing: its sentences never appear in training pairs.
const heldOutEvery = 10

// maxTestPairs bounds the held-out pairs one test pass scores.
const maxTestPairs = 2048

// Split divides the corpus into training and held-out documents: document
// i is held out when i mod 10 is 9.
func (c *Corpus) Split() (train, test *Corpus) {
	train, test = &Corpus{}, &Corpus{}
	for i, d := range c.Docs {
		if i%heldOutEvery == heldOutEvery-1 {
			test.Docs = append(test.Docs, d)
		} else {
			train.Docs = append(train.Docs, d)
		}
	}
	return train, test
}

// Pair is a next-sentence-prediction example.
type Pair struct {
	A, B string
	// Label is IsNext when B follows A in its document, NotNext when B was
	// drawn from another document.
	Label int64
}

// Text returns the pair as the synapse takes it: A, a newline, B.
func (p Pair) Text() string { return p.A + "\n" + p.B }

// sentenceRef names a sentence that has a successor: Docs[doc][sent].
type sentenceRef struct{ doc, sent int }

// Pairs makes next-sentence pairs from a corpus: one per sentence that has
// a successor in its document, which is its second half half the time (as
// drawn from the seed and the epoch) and a random sentence of another
// document otherwise. It is a trainer.Batches: each batch's Text holds the
// pairs as strings, Inputs what the tokenizer makes of them, Targets the
// labels.
type Pairs struct {
	corpus    *Corpus
	refs      []sentenceRef
	tokenize  func([]string) (*torch.Tensor, error)
	batchSize int
	shuffle   bool
	seed      uint64
}

// NewPairs returns the pairs of corpus in batches of batchSize, tokenized
// by tokenize. With shuffle, each epoch visits them in a fresh order and
// draws fresh negatives; without, every epoch gives the same pairs, at most
// limit of them (limit <= 0: all).
func NewPairs(corpus *Corpus, tokenize func([]string) (*torch.Tensor, error), batchSize int, shuffle bool, seed uint64, limit int) (*Pairs, error) {
	if batchSize < 1 {
		return nil, fmt.Errorf("bert: batch size %d, want at least 1", batchSize)
	}
	p := &Pairs{corpus: corpus, tokenize: tokenize, batchSize: batchSize, shuffle: shuffle, seed: seed}
	for d, doc := range corpus.Docs {
		for s := 0; s+1 < len(doc); s++ {
			p.refs = append(p.refs, sentenceRef{d, s})
		}
	}
	if len(p.refs) == 0 {
		return nil, fmt.Errorf("bert: no paragraph of two sentences to make pairs from")
	}
	if !shuffle && limit > 0 && len(p.refs) > limit {
		// An even spread over the corpus, not its first documents.
		picked := make([]sentenceRef, limit)
		for i := range picked {
			picked[i] = p.refs[i*len(p.refs)/limit]
		}
		p.refs = picked
	}
	return p, nil
}

// Len returns the number of batches in an epoch.
func (p *Pairs) Len() int { return (len(p.refs) + p.batchSize - 1) / p.batchSize }

// Examples returns the number of pairs in an epoch.
func (p *Pairs) Examples() int { return len(p.refs) }

// pair returns the pair of ref's sentence: with rng's first draw even, the
// sentence that follows it (IsNext); otherwise a sentence drawn with rng
// from another document, or another sentence of the only one (NotNext).
func (p *Pairs) pair(ref sentenceRef, rng *rand.Rand) Pair {
	doc := p.corpus.Docs[ref.doc]
	pr := Pair{A: doc[ref.sent], B: doc[ref.sent+1], Label: IsNext}
	if rng.IntN(2) == 0 {
		return pr
	}
	n := len(p.corpus.Docs)
	other := rng.IntN(n)
	if n > 1 && other == ref.doc {
		other = (other + 1 + rng.IntN(n-1)) % n
	}
	cand := p.corpus.Docs[other]
	s := rng.IntN(len(cand))
	if other == ref.doc && s == ref.sent+1 { // a one-document corpus
		s = (s + 1) % len(cand)
	}
	pr.B, pr.Label = cand[s], NotNext
	return pr
}

// Epoch returns the batches of epoch e in order, prepared ahead as
// prefetch.Seq does: the sequence ends early when ctx ends, and the range
// waits for the preparing goroutine before it returns, freeing the batches
// prepared but not taken. A batch the tokenizer refuses ends the epoch
// early.
func (p *Pairs) Epoch(ctx context.Context, e int) iter.Seq[trainer.Batch] {
	if !p.shuffle {
		e = 0
	}
	return prefetch.Seq(ctx, func(_ context.Context, send func(trainer.Batch) bool) { p.produce(e, send) }, freeBatch)
}

// freeBatch frees a batch's tensors.
func freeBatch(b trainer.Batch) {
	b.Inputs.Free()
	b.Targets.Free()
}

// produce sends the batches of epoch e until they are done or send refuses one.
func (p *Pairs) produce(e int, send func(trainer.Batch) bool) {
	rng := rand.New(rand.NewPCG(p.seed, uint64(e)))
	order := make([]int, len(p.refs))
	for i := range order {
		order[i] = i
	}
	if p.shuffle {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	for start := 0; start < len(order); start += p.batchSize {
		idx := order[start:min(start+p.batchSize, len(order))]
		text := make([]string, len(idx))
		labels := make([]int64, len(idx))
		for j, k := range idx {
			pr := p.pair(p.refs[k], rng)
			text[j], labels[j] = pr.Text(), pr.Label
		}
		x, err := p.tokenize(text)
		if err != nil {
			return
		}
		if !send(trainer.Batch{Inputs: x, Targets: torch.FromInt64(labels, int64(len(labels))), Text: text}) {
			return
		}
	}
}
