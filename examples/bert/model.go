package bert

import (
	"fmt"
	"strings"

	"github.com/opentensor/bittensor-go/examples/bert/wordpiece"
	"github.com/opentensor/bittensor-go/neuron/synapse"
	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
)

// Config sizes the model.
type Config struct {
	// Vocab is the number of token ids; MaxLen the longest sequence
	// (position embeddings), pair and special tokens included.
	Vocab, MaxLen int64
	// Hidden, Heads, Intermediate and Layers size both encoders.
	Hidden, Heads, Intermediate int64
	Layers                      int
	// Dropout is the dropout probability of the training path.
	Dropout float64
}

// DefaultConfig is the seed's BERT neuron: hidden 256, 2 heads,
// intermediate 512, 2 layers, over the bert-base-uncased vocabulary, with
// sequences of at most 64 tokens.
func DefaultConfig() Config {
	return Config{Vocab: 30522, MaxLen: 64, Hidden: 256, Heads: 2, Intermediate: 512, Layers: 2, Dropout: 0.1}
}

// The model's constants: BERT's layer-norm epsilon and initialisation
// scale, the segment vocabulary, and the NSP classes.
const (
	normEps   = 1e-12
	initStd   = 0.02
	segments  = 2
	nspLabels = 2
)

// NSP labels, as BERT numbers them.
const (
	// IsNext labels a pair whose second text follows the first.
	IsNext = 0
	// NotNext labels a pair whose second text was drawn at random.
	NotNext = 1
)

// Model is the BERT synapse. Its inputs are token ids and segment ids,
// [batch, 2, seq] int64 (Tokenize makes them from strings); padding ([PAD],
// id 0) is masked out of attention.
//
// Embeddings (token + position + segment, layer norm, dropout) feed an
// encoder whose [CLS] state, through a pooler (linear, tanh), is the
// synapse's answer: Encode returns it, [batch, Hidden]. A student encoder
// of the same shape reads the detached embeddings and learns to imitate
// the network's context. A joiner (linear, tanh) combines the pooled vector
// with a context (the student's, or the network's), and a
// next-sentence-prediction head (linear, log-softmax) classifies the pair.
type Model struct {
	nn.Base
	cfg       Config
	tokenizer *wordpiece.Tokenizer

	tokens, positions, segments *nn.Embedding
	embedNorm                   *nn.LayerNorm
	encoder, student            *nn.TransformerEncoder
	pooler, studentPooler       *nn.Linear
	joiner, nsp                 *nn.Linear
}

// NewModel returns a model sized by cfg over tok's vocabulary, initialised
// from the torch random generator as BERT is (weights N(0, 0.02), biases
// 0, layer norms 1 and 0).
func NewModel(cfg Config, tok *wordpiece.Tokenizer) (*Model, error) {
	if cfg.Vocab < int64(tok.Size()) {
		return nil, fmt.Errorf("bert: a vocabulary of %d, the tokenizer has %d pieces", cfg.Vocab, tok.Size())
	}
	if cfg.MaxLen < 3 {
		return nil, fmt.Errorf("bert: sequences of at most %d tokens, want at least 3", cfg.MaxLen)
	}
	enc := nn.EncoderConfig{Dim: cfg.Hidden, Heads: cfg.Heads, Intermediate: cfg.Intermediate,
		Layers: cfg.Layers, Dropout: cfg.Dropout, NormEps: normEps}
	m := &Model{cfg: cfg, tokenizer: tok}
	m.tokens = nn.Register(m, "tokens", nn.NewEmbedding(cfg.Vocab, cfg.Hidden))
	m.positions = nn.Register(m, "positions", nn.NewEmbedding(cfg.MaxLen, cfg.Hidden))
	m.segments = nn.Register(m, "segments", nn.NewEmbedding(segments, cfg.Hidden))
	m.embedNorm = nn.Register(m, "embed_norm", nn.NewLayerNorm(cfg.Hidden))
	m.embedNorm.Eps = normEps
	var err error
	if m.encoder, err = nn.NewTransformerEncoder(enc); err != nil {
		return nil, fmt.Errorf("bert: %w", err)
	}
	nn.Register(m, "encoder", m.encoder)
	m.pooler = nn.Register(m, "pooler", nn.NewLinear(cfg.Hidden, cfg.Hidden, true))
	if m.student, err = nn.NewTransformerEncoder(enc); err != nil {
		return nil, fmt.Errorf("bert: %w", err)
	}
	nn.Register(m, "student", m.student)
	m.studentPooler = nn.Register(m, "student_pooler", nn.NewLinear(cfg.Hidden, cfg.Hidden, true))
	m.joiner = nn.Register(m, "joiner", nn.NewLinear(2*cfg.Hidden, cfg.Hidden, true))
	m.nsp = nn.Register(m, "nsp", nn.NewLinear(cfg.Hidden, nspLabels, true))
	if err := m.initialise(); err != nil {
		return nil, err
	}
	return m, nil
}

// initialise sets BERT's initial values: every weight matrix and embedding
// N(0, initStd), every bias 0; layer norms keep their 1 and 0.
func (m *Model) initialise() error {
	for name, p := range nn.NamedParameters(m) {
		if strings.Contains(name, "norm") {
			continue
		}
		var v *torch.Tensor
		if strings.HasSuffix(name, ".bias") {
			v = p.ZerosLike()
		} else {
			v = torch.Randn(p.Shape()).MulScalar(initStd)
		}
		if err := p.CopyFrom(v); err != nil {
			return fmt.Errorf("bert: initialise %s: %w", name, err)
		}
	}
	return nil
}

// Config returns the model's sizes.
func (m *Model) Config() Config { return m.cfg }

// Tokenize turns a batch of strings into the model's inputs, [batch, 2,
// seq] int64, seq the longest encoding in the batch. A string holding a
// newline is a pair: its text up to the first newline is the first
// sentence, the rest the second; any other string is one text. Each is
// truncated to MaxLen tokens. Any strings are accepted.
func (m *Model) Tokenize(batch []string) (*torch.Tensor, error) {
	return tokenize(m.tokenizer, m.cfg.MaxLen, batch)
}

// tokenize is Model.Tokenize for a model whose sequences hold at most
// maxLen tokens; the data loaders use it before a model exists.
func tokenize(tok *wordpiece.Tokenizer, maxLen int64, batch []string) (*torch.Tensor, error) {
	if len(batch) == 0 {
		return nil, fmt.Errorf("bert: tokenize: an empty batch")
	}
	encs := make([]wordpiece.Encoding, len(batch))
	longest := 0
	for i, s := range batch {
		if a, b, ok := strings.Cut(s, "\n"); ok {
			encs[i] = tok.EncodePair(a, b, int(maxLen))
		} else {
			encs[i] = tok.Encode(s, int(maxLen))
		}
		longest = max(longest, encs[i].Length)
	}
	data := make([]int64, 0, 2*longest*len(batch))
	for _, e := range encs {
		data = append(data, e.IDs[:longest]...)
		data = append(data, e.Segments[:longest]...)
	}
	x := torch.FromInt64(data, int64(len(batch)), 2, int64(longest))
	return x, x.Err()
}

// split checks inputs and returns the token ids and segment ids, each
// [batch, seq].
func (m *Model) split(inputs *torch.Tensor) (ids, segs *torch.Tensor, err error) {
	if err := inputs.Err(); err != nil {
		return nil, nil, err
	}
	s := inputs.Shape()
	if inputs.DType() != torch.Int64 || len(s) != 3 || s[0] < 1 || s[1] != 2 || s[2] < 1 || s[2] > m.cfg.MaxLen {
		return nil, nil, fmt.Errorf("bert: inputs %v %v, want int64 [batch 2 seq<=%d]", inputs.DType(), s, m.cfg.MaxLen)
	}
	return inputs.Narrow(1, 0, 1).Squeeze(1), inputs.Narrow(1, 1, 1).Squeeze(1), nil
}

// embed returns the embeddings of inputs and the attention mask that hides
// the padding.
func (m *Model) embed(ids, segs *torch.Tensor, train bool) (emb, ignore *torch.Tensor) {
	// Every intermediate is freed on return (see torch.Free).
	var tmp []*torch.Tensor
	defer func() { torch.Free(tmp...) }()
	t := func(r *torch.Tensor) *torch.Tensor { tmp = append(tmp, r); return r }
	// The position embeddings [seq, Hidden] of 0, 1, …, broadcast over the
	// batch (as PyTorch's BERT adds them); the sum joins the scope of ids.
	pos := t(torch.Arange(0, float64(ids.Size(1)), 1, torch.WithDevice(ids.Device())))
	sum := t(t(t(m.tokens.Forward(ids)).Add(t(m.positions.Forward(pos)))).Add(t(m.segments.Forward(segs))))
	emb = torch.Dropout(t(m.embedNorm.Forward(sum)), m.cfg.Dropout, train)
	return emb, nn.PaddingMask(t(ids.NeScalar(float64(m.tokenizer.Pad))))
}

// pool returns the pooled [CLS] state of an encoder's output.
func pool(pooler *nn.Linear, hidden *torch.Tensor) *torch.Tensor {
	first := hidden.Narrow(1, 0, 1)
	cls := first.Squeeze(1)
	h := pooler.Forward(cls)
	defer torch.Free(first, cls, h)
	return h.Tanh()
}

// Encode returns the pooled [CLS] vector of inputs, [batch, Hidden]: what
// the synapse serves. It never applies dropout, so that a Backward's
// recomputation of a peer's Forward gives the very answer the peer got.
func (m *Model) Encode(inputs *torch.Tensor) *torch.Tensor {
	ids, segs, err := m.split(inputs)
	if err != nil {
		return torch.Errorf("bert: encode: %w", err)
	}
	emb, ignore := m.embed(ids, segs, false)
	hidden := m.encoder.Forward(emb, ignore, false)
	defer torch.Free(emb, ignore, hidden)
	return pool(m.pooler, hidden)
}

// target classifies a pair from its pooled vector and a context.
func (m *Model) target(pooled, context *torch.Tensor) (output, target *torch.Tensor) {
	joined := torch.Cat([]*torch.Tensor{pooled, context}, 1)
	h := m.joiner.Forward(joined)
	defer torch.Free(joined, h)
	output = h.Tanh()
	return output, m.nsp.Forward(output).LogSoftmax(1)
}

// Forward computes the seed's outputs: the local path (the NSP prediction
// from the pooled vector with the student's context), and, when network is
// given, the network path (with the network's context) and the
// distillation loss (mean squared error of the student's context against
// the detached network context). With labels (IsNext or NotNext per pair)
// it computes the NLL losses and their sum. Dropout applies while the model
// is in training mode (nn.Train, the default) and autograd is on: a test
// pass under torch.NoGrad runs without it.
func (m *Model) Forward(inputs, network, labels *torch.Tensor) *synapse.Output {
	out := &synapse.Output{}
	ids, segs, err := m.split(inputs)
	if err != nil {
		bad := torch.Errorf("bert: forward: %w", err)
		out.LocalOutput, out.LocalTarget, out.LocalTargetLoss, out.Loss = bad, bad, bad, bad
		return out
	}
	train := m.IsTraining() && torch.GradEnabled()
	emb, ignore := m.embed(ids, segs, train)
	hidden := m.encoder.Forward(emb, ignore, train)
	detached := emb.Detach()
	studentHidden := m.student.Forward(detached, ignore, train)
	defer torch.Free(emb, ignore, hidden, detached, studentHidden)
	pooled := pool(m.pooler, hidden)
	student := pool(m.studentPooler, studentHidden)
	out.LocalOutput, out.LocalTarget = m.target(pooled, student)
	if network != nil {
		out.NetworkOutput, out.NetworkTarget = m.target(pooled, network)
		out.DistillationLoss = torch.MSELoss(student, network.Detach(), torch.ReduceMean)
	}
	return out.WithLosses(labels)
}
