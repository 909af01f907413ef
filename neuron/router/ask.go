package router

import (
	"fmt"

	"github.com/opentensor/bittensor-go/neuron/wire"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
)

// Mixed networks. Neurons of different kinds (MNIST images, CIFAR images,
// text, feature tensors of one width or another) gossip in one network. Each
// synapse definition announces what its synapse serves (its modality, the
// inputs it accepts and the width of its answer: metagraph_announce.go), and
// a neuron routes a batch only to the synapses whose announcement fits what
// it asks (an Ask, below): calling any other would only earn a refusal, or an
// answer of the wrong width, and back the peer off for nothing. The filter
// applies to routing only: a neuron's Metagraph keeps and gossips every
// definition, fitting or not, so each kind finds its own through the others.

// Ask is what a neuron asks of the synapses it routes one batch to: the
// batch's modality and inputs, and the width of the answer its Dendrite
// expects per example.
type Ask struct {
	// Modality is the batch's modality.
	Modality bittensorpb.Modality
	// DType is the wire dtype of the inputs (UTF8 for TEXT).
	DType bittensorpb.DataType
	// Shape is the shape of one example, the batch dimension left out
	// (empty for TEXT).
	Shape []int64
	// OutputDim is the width of the answer per example.
	OutputDim int64
}

// AskFor returns what a neuron asks when it sends the batch x, a tensor of
// modality, and expects outputDim values per example back.
// A TEXT batch asks for strings: its x (the model's own encoding of them,
// token ids for instance) never crosses the wire.
func AskFor(modality bittensorpb.Modality, x *torch.Tensor, outputDim int64) (Ask, error) {
	if modality == bittensorpb.Modality_TEXT {
		return Ask{Modality: modality, DType: bittensorpb.DataType_UTF8, OutputDim: outputDim}, nil
	}
	if err := x.Err(); err != nil {
		return Ask{}, fmt.Errorf("ask: %w", err)
	}
	dt, err := wire.DTypeOf(x.DType())
	if err != nil {
		return Ask{}, fmt.Errorf("ask: %w", err)
	}
	shape := x.Shape()
	if len(shape) == 0 {
		return Ask{}, fmt.Errorf("ask: inputs are a scalar, want a batch")
	}
	return Ask{Modality: modality, DType: dt, Shape: shape[1:], OutputDim: outputDim}, nil
}

// String writes the ask as, e.g., "IMAGE FLOAT32 [1 28 28] → 1024".
func (a Ask) String() string {
	return fmt.Sprintf("%v %v %v → %d", a.Modality, a.DType, a.Shape, a.OutputDim)
}

// Fits reports whether def's synapse takes this batch and answers OutputDim
// values per example, by what def announces:
//
//   - the same modality;
//   - an output shape of [OutputDim] (a definition that announces no output
//     shape never fits: nothing says its answers would);
//   - an input dtype that is undeclared (UNKNOWN) or DType;
//   - an input shape that is undeclared (empty) or of Shape's rank, each
//     dimension -1 (any size) or Shape's.
//
// It reads the definition only, so it is safe for GetSynapsesWhere.
func (a Ask) Fits(def *bittensorpb.Synapse) bool {
	if def.GetModality() != a.Modality {
		return false
	}
	if out := def.GetOutputShape(); len(out) != 1 || out[0] != a.OutputDim {
		return false
	}
	if dt := def.GetInputDtype(); dt != bittensorpb.DataType_UNKNOWN && dt != a.DType {
		return false
	}
	in := def.GetInputShape()
	if len(in) == 0 {
		return true
	}
	if len(in) != len(a.Shape) {
		return false
	}
	for i, d := range in {
		if d != -1 && d != a.Shape[i] {
			return false
		}
	}
	return true
}
