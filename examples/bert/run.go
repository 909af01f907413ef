package bert

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"path/filepath"

	"github.com/opentensor/bittensor-go/examples/bert/wordpiece"
	"github.com/opentensor/bittensor-go/neuron"
	"github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
)

// The router, as the seed's MNIST neuron has it: keys of 100 features, 10
// synapses per example.
const (
	routerKeyDim = 100
	routerTopK   = 10
)

// Run trains a BERT neuron with its peers on next-sentence prediction,
// until cfg.Epochs are done or ctx ends (then it checkpoints and returns
// nil). The corpus is cfg.DataDir's plain-text files, or DefaultCorpus.
// Settings the user must change (a port in use, a bad bootstrap peer, a bad
// checkpoint, a missing corpus) fail as *neuron.UsageError, the corpus
// before any port is opened.
func Run(ctx context.Context, cfg neuron.Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	device, err := torch.ParseDevice(cfg.Device)
	if err != nil {
		return &neuron.UsageError{Flag: "device", Err: err}
	}
	if device.Type == torch.DeviceCUDA && device.Index >= torch.CUDADeviceCount() {
		return &neuron.UsageError{Flag: "device", Err: fmt.Errorf("%s: this libtorch sees %d CUDA devices", device, torch.CUDADeviceCount())}
	}
	seed := cfg.Seed
	if seed == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		seed = binary.LittleEndian.Uint64(b[:]) >> 1
	}
	torch.ManualSeed(int64(seed))

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
	model, err := NewModel(DefaultConfig(), wordpiece.Default())
	if err != nil {
		return err
	}
	if err := nn.To(model, device); err != nil {
		return err
	}
	// The synapse key is kept in the --neuron_key file, so that peers'
	// routers (and a resumed one) find the same synapse on every run.
	id, err := neuron.LoadIdentityFlag(cfg.NeuronKey)
	if err != nil {
		return err
	}
	synapse, err := neuron.NewLocalSynapse(id.Synapse, model, bittensorpb.Modality_TEXT)
	if err != nil {
		return err
	}
	n, err := neuron.StartNeuron(ctx, cfg, model.Config().Hidden, device, synapse)
	if err != nil {
		return err
	}
	defer n.Close()
	router, err := neuron.NewRouter(int(model.Config().Hidden), routerKeyDim, routerTopK)
	if err != nil {
		return err
	}
	if err := nn.To(router, device); err != nil {
		return err
	}
	runDir := filepath.Join(cfg.LogDir, "bert-"+n.Key.PublicHex()[:8])
	trainer, err := neuron.NewTrainer(cfg, n, synapse, router, runDir, device)
	if err != nil {
		return err
	}
	defer trainer.Close()
	if cfg.ServeOnly {
		cfg.Log.Info().Str("checkpoints", runDir).Str("device", device.String()).Msg("serving")
		return trainer.Serve(ctx)
	}

	trainSet, testSet := corpus.Split()
	train, err := NewPairs(trainSet, model.Tokenize, cfg.BatchSize, true, seed, 0)
	if err != nil {
		return &neuron.UsageError{Flag: "data_dir", Err: err}
	}
	test, err := NewPairs(testSet, model.Tokenize, cfg.BatchSize, false, 0, maxTestPairs)
	if err != nil {
		return &neuron.UsageError{Flag: "data_dir", Err: fmt.Errorf("held-out documents: %w", err)}
	}
	cfg.Log.Info().Str("checkpoints", runDir).Str("device", device.String()).
		Int("train_pairs", train.Examples()).Int("test_pairs", test.Examples()).Msg("training")
	return trainer.Train(ctx, train, test)
}
