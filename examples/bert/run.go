package bert

import (
	"context"
	"fmt"

	"github.com/opentensor/bittensor-go/examples/bert/wordpiece"
	"github.com/opentensor/bittensor-go/neuron"
	"github.com/opentensor/bittensor-go/neuron/synapse"
	"github.com/opentensor/bittensor-go/neuron/trainer"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
)

// The router, as the seed's MNIST neuron has it: keys of 100 features, 10
// synapses per example.
const (
	routerKeyDim = 100
	routerTopK   = 10
)

// Run trains a BERT neuron with its peers on next-sentence prediction, as
// the seed's walkthrough does (neuron.Run), until cfg.Epochs are done or ctx
// ends (then it checkpoints and returns nil). The corpus is cfg.DataDir's
// plain-text files, or DefaultCorpus. Settings the user must change (a port
// in use, a bad bootstrap peer, a bad checkpoint, a missing corpus) fail as
// *neuron.UsageError, the corpus before any port is opened.
func Run(ctx context.Context, cfg neuron.Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	var corpus *Corpus
	if !cfg.ServeOnly {
		dir, err := FindCorpus(cfg.DataDir)
		if err != nil {
			return err
		}
		if corpus, err = LoadCorpus(dir); err != nil {
			return err
		}
		cfg.Log.Info().Str("data", dir).Int("documents", len(corpus.Docs)).Int("sentences", corpus.Sentences()).Msg("corpus loaded")
	}
	mcfg, tok := DefaultConfig(), wordpiece.Default()
	return neuron.Run(ctx, cfg, neuron.Spec{
		Name:      "bert",
		Modality:  bittensorpb.Modality_TEXT,
		OutputDim: mcfg.Hidden,
		NewModel:  func() (synapse.Model, error) { return NewModel(mcfg, tok) },
		Data: func(_ context.Context, cfg neuron.Config, seed uint64) (train, test trainer.Batches, err error) {
			return pairs(cfg, corpus, func(b []string) (*torch.Tensor, error) { return tokenize(tok, mcfg.MaxLen, b) }, seed)
		},
		RouterKeyDim: routerKeyDim,
		RouterTopK:   routerTopK,
	})
}

// pairs returns the shuffled training pairs and the held-out test pairs of
// corpus, tokenized by tok.
func pairs(cfg neuron.Config, corpus *Corpus, tok func([]string) (*torch.Tensor, error), seed uint64) (train, test trainer.Batches, err error) {
	trainSet, testSet := corpus.Split()
	tr, err := NewPairs(trainSet, tok, cfg.BatchSize, true, seed, 0)
	if err != nil {
		return nil, nil, &neuron.UsageError{Flag: "data_dir", Err: err}
	}
	te, err := NewPairs(testSet, tok, cfg.BatchSize, false, 0, maxTestPairs)
	if err != nil {
		return nil, nil, &neuron.UsageError{Flag: "data_dir", Err: fmt.Errorf("held-out documents: %w", err)}
	}
	cfg.Log.Info().Int("train_pairs", tr.Examples()).Int("test_pairs", te.Examples()).Msg("pairs made")
	return tr, te, nil
}
