package synapse

import (
	"slices"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

// Announcer is a Synapse that says which modality it serves, so that its
// definition can announce it. A Local is one; so is any synapse with
// a Modality method.
type Announcer interface {
	Synapse
	// Modality returns the modality the synapse serves.
	Modality() bittensorpb.Modality
}

// Announce sets the announcement of def, the definition of s: the modality
// s serves, the inputs it declares for it (when s is an InputDeclarer), and
// an answer of outputDim values per example. A synapse that is not an
// Announcer, or an outputDim < 1, announces nothing: such a definition is
// gossiped but never routed to.
func Announce(def *bittensorpb.Synapse, s Synapse, outputDim int64) {
	a, ok := s.(Announcer)
	if !ok || outputDim < 1 {
		return
	}
	def.Modality = a.Modality()
	def.OutputShape = []int64{outputDim}
	def.InputDtype, def.InputShape = bittensorpb.DataType_UNKNOWN, nil
	if d, ok := s.(InputDeclarer); ok {
		if spec, ok := d.Inputs(def.Modality); ok && len(spec.Shape) > 0 {
			def.InputDtype = spec.DType
			def.InputShape = slices.Clone(spec.Shape[1:])
		}
	}
}
