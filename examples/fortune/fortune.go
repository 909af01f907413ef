// Package fortune is a neuron of one's own, written in one file: everything
// a user writes to take part in the network with a model of their own. It
// tells the topic of a fortune cookie (computers, politics, science or art,
// from Debian's fortunes package) from a bag of its character trigrams and
// words, and serves its context to peers that ask the same: TENSOR inputs of
// Features values, answers of ContextDim values. An MNIST neuron in the same
// network asks IMAGE inputs and 1024 values, so neither ever calls the other;
// both gossip each other's definitions.
//
// The parts, in the order a user writes them:
//
//  1. the model (Model): a student, an encoder and a classifier, whose
//     Encode is what the synapse serves and whose Forward computes the
//     seed's three losses;
//  2. the data (Load, FeaturesOf, Tensors): examples as tensors, cut into
//     batches by trainer.NewTensorBatches;
//  3. the Spec: name, modality, width, model and data for neuron.Run, which
//     does the rest (keys, Axon, Metagraph, Dendrite, router, trainer,
//     checkpoints, the seed's log lines).
//
// Run it with `bittensor run fortune`, a second with `bittensor run fortune
// --bootstrap 127.0.0.1:PORT`, where PORT is the first one's metagraph port.
package fortune

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/opentensor/bittensor-go/neuron"
	"github.com/opentensor/bittensor-go/neuron/synapse"
	"github.com/opentensor/bittensor-go/neuron/trainer"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
)

// Sizes of the model and of its inputs.
const (
	// Features is the length of a fortune's feature vector: hashed
	// character trigrams and words.
	Features = 1024
	// ContextDim is the width of the context the synapse serves.
	ContextDim = 256
)

// Topics are the fortune files the neuron learns to tell apart, in label order.
var Topics = []string{"computers", "politics", "science", "art"}

// DefaultDataDir is where Debian's fortunes package puts its files.
const DefaultDataDir = "/usr/share/games/fortunes"

// Run trains a fortune neuron with its peers until cfg.Epochs are done or
// ctx ends.
func Run(ctx context.Context, cfg neuron.Config) error { return neuron.Run(ctx, cfg, Spec()) }

// Spec is the fortune neuron for neuron.Run.
func Spec() neuron.Spec {
	return neuron.Spec{
		Name:      "fortune",
		Modality:  bittensorpb.Modality_TENSOR,
		OutputDim: ContextDim,
		NewModel:  func() (synapse.Model, error) { return NewModel(), nil },
		Data:      data,
	}
}

// ---- 1. The model ----

// Model encodes a fortune's features together with a context (the
// student's, or the network's), and classifies the encoding.
type Model struct {
	nn.Base
	student, encoder, classifier *nn.Linear
}

// NewModel returns a Model initialised from the torch random generator.
func NewModel() *Model {
	m := &Model{}
	m.student = nn.Register(m, "student", nn.NewLinear(Features, ContextDim, true))
	m.encoder = nn.Register(m, "encoder", nn.NewLinear(Features+ContextDim, ContextDim, true))
	m.classifier = nn.Register(m, "classifier", nn.NewLinear(ContextDim, int64(len(Topics)), true))
	return m
}

func (m *Model) encode(x, context *torch.Tensor) *torch.Tensor {
	return m.encoder.Forward(torch.Cat([]*torch.Tensor{x, context}, 1)).Relu()
}

// Encode is what the synapse serves: [batch, ContextDim].
func (m *Model) Encode(x *torch.Tensor) *torch.Tensor {
	return m.encode(x, m.student.Forward(x).Relu())
}

// Inputs declares what Encode takes from peers: float32 [batch, Features].
// The Axon refuses anything else, and the definition announces it.
func (m *Model) Inputs() synapse.InputSpec {
	return synapse.InputSpec{DType: bittensorpb.DataType_FLOAT32, Shape: []int64{-1, Features}}
}

// Forward computes the seed's losses: the local path (student context), the
// network path (the peers' joined answer) and the student's distillation of
// the network's context.
func (m *Model) Forward(x, network, targets *torch.Tensor) *synapse.Output {
	student := m.student.Forward(x).Relu()
	out := &synapse.Output{LocalOutput: m.encode(x, student)}
	out.LocalTarget = m.classifier.Forward(out.LocalOutput).LogSoftmax(1)
	if network != nil {
		out.NetworkOutput = m.encode(x, network)
		out.NetworkTarget = m.classifier.Forward(out.NetworkOutput).LogSoftmax(1)
		out.DistillationLoss = torch.MSELoss(student, network.Detach(), torch.ReduceMean)
	}
	return out.WithLosses(targets)
}

// ---- 2. The data ----

// Example is one fortune and its topic (an index into Topics).
type Example struct {
	Text  string
	Topic int
}

// featureNorm is the length of a feature vector: about 1 per hashed
// feature of a short fortune, so that the first layers see inputs of the
// size their initialisation expects.
const featureNorm = 10

// maxFortuneBytes bounds one fortune; longer ones are cut.
const maxFortuneBytes = 4096

// Load reads the Topics' fortune files under dir (plain text, fortunes
// separated by lines holding a single %). Every fifth fortune of a file is
// a test example, the others training examples.
func Load(dir string) (train, test []Example, err error) {
	if dir == "" {
		dir = DefaultDataDir
	}
	for topic, name := range Topics {
		fortunes, err := readFortunes(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, &neuron.UsageError{Flag: "data_dir", Err: fmt.Errorf(
				"%s: no fortune file %q: install Debian's fortunes package (apt-get install fortunes) or point --data_dir at a folder holding %s",
				dir, name, strings.Join(Topics, ", "))}
		}
		if err != nil {
			return nil, nil, err
		}
		if len(fortunes) < 2 {
			return nil, nil, fmt.Errorf("fortune: %s holds %d fortunes, want at least 2", filepath.Join(dir, name), len(fortunes))
		}
		for i, f := range fortunes {
			if i%5 == 4 {
				test = append(test, Example{Text: f, Topic: topic})
			} else {
				train = append(train, Example{Text: f, Topic: topic})
			}
		}
	}
	return train, test, nil
}

// readFortunes returns the non-empty fortunes of a file.
func readFortunes(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("fortune: %w", err)
	}
	defer f.Close()
	var out []string
	var cur strings.Builder
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			out = append(out, s)
		}
		cur.Reset()
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if line := sc.Text(); line == "%" {
			flush()
		} else if cur.Len()+len(line) < maxFortuneBytes {
			cur.WriteString(line)
			cur.WriteByte('\n')
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("fortune: %s: %w", path, err)
	}
	flush()
	return out, nil
}

// FeaturesOf returns the feature vector of a text: counts of its hashed
// character trigrams and lower-case words, log-scaled and normalised to
// length featureNorm. Any string gives a finite vector (an empty one, zeros).
func FeaturesOf(text string) []float32 {
	v := make([]float64, Features)
	add := func(s string) {
		h := fnv.New32a()
		h.Write([]byte(s))
		v[h.Sum32()%Features]++
	}
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	padded := []rune(" " + strings.Join(words, " ") + " ")
	for i := 0; i+3 <= len(padded); i++ {
		add(string(padded[i : i+3]))
	}
	for _, w := range words {
		add("w:" + w)
	}
	var sum float64
	for i, c := range v {
		v[i] = math.Log1p(c)
		sum += v[i] * v[i]
	}
	out := make([]float32, Features)
	if sum > 0 {
		for i, c := range v {
			out[i] = float32(featureNorm * c / math.Sqrt(sum))
		}
	}
	return out
}

// Tensors returns the features [n, Features] and topics [n] of examples.
func Tensors(examples []Example) (x, y *torch.Tensor) {
	features := make([]float32, 0, len(examples)*Features)
	topics := make([]int64, len(examples))
	for i, e := range examples {
		features = append(features, FeaturesOf(e.Text)...)
		topics[i] = int64(e.Topic)
	}
	return torch.FromFloat32(features, int64(len(examples)), Features), torch.FromInt64(topics)
}

// data loads the fortunes and cuts them into batches for neuron.Run.
func data(_ context.Context, cfg neuron.Config, seed uint64) (train, test trainer.Batches, err error) {
	trainSet, testSet, err := Load(cfg.DataDir)
	if err != nil {
		return nil, nil, err
	}
	x, y := Tensors(trainSet)
	if train, err = trainer.NewTensorBatches(x, y, cfg.BatchSize, true, seed); err != nil {
		return nil, nil, err
	}
	x, y = Tensors(testSet)
	if test, err = trainer.NewTensorBatches(x, y, cfg.BatchSize, false, 0); err != nil {
		return nil, nil, err
	}
	cfg.Log.Info().Int("train", len(trainSet)).Int("test", len(testSet)).Strs("topics", Topics).Msg("fortunes loaded")
	return train, test, nil
}
