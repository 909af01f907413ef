package metagraph

import (
	"encoding/binary"
	"fmt"
	"hash"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

// A synapse definition may announce what its synapse serves (proto fields
// 12-15, which the 2020 protocol does not have):
//
//   - modality: what the synapse takes (TENSOR, IMAGE or TEXT);
//   - input_dtype and input_shape: the inputs it accepts, per example (the
//     batch dimension left out); a dimension of -1 accepts any size, an empty
//     shape and UNKNOWN dtype declare nothing;
//   - output_shape: what it answers per example, [width] for a context vector.
//
// The announcement is an output_shape: a definition whose output_shape is
// empty announces nothing, and then its other announcement fields must be
// left at their defaults. Such a definition (a 2020 one, or one of a synapse
// that does not say what it serves) is stored and gossiped like any other,
// but no neuron routes to it, since none can know whether its answers fit.
//
// The announcement is covered by the signature and the proof of work. So
// that definitions signed before the fields existed still verify, a
// definition that announces nothing is hashed exactly as before, and one
// that announces something appends, after the nonce:
//
//	announceDomain ‖ modality, input_dtype as int32 BE
//	               ‖ for input_shape, output_shape: uint32 BE length ‖ each dim as int64 BE

// Limits of an announcement.
const (
	// maxAnnouncedDims bounds the dimensions of an announced shape.
	maxAnnouncedDims = 8
	// maxAnnouncedDim bounds one announced dimension.
	maxAnnouncedDim = 1 << 24
	// maxAnnouncedOutput bounds the values of an announced output per example.
	maxAnnouncedOutput = 1 << 24
)

// announceDomain separates the announcement from the 2020 fields in the
// digest of a definition.
const announceDomain = "announce v1\x00"

// announces reports whether def carries any announcement field.
func announces(def *bittensorpb.Synapse) bool {
	return def.GetModality() != 0 || def.GetInputDtype() != 0 || len(def.GetInputShape()) > 0 || len(def.GetOutputShape()) > 0
}

// hashAnnouncement appends def's announcement to the fields digest h, when
// it has one.
func hashAnnouncement(h hash.Hash, def *bittensorpb.Synapse) {
	if !announces(def) {
		return
	}
	h.Write([]byte(announceDomain))
	var n [8]byte
	binary.BigEndian.PutUint32(n[:4], uint32(def.GetModality()))
	h.Write(n[:4])
	binary.BigEndian.PutUint32(n[:4], uint32(def.GetInputDtype()))
	h.Write(n[:4])
	for _, shape := range [][]int64{def.GetInputShape(), def.GetOutputShape()} {
		binary.BigEndian.PutUint32(n[:4], uint32(len(shape)))
		h.Write(n[:4])
		for _, d := range shape {
			binary.BigEndian.PutUint64(n[:], uint64(d))
			h.Write(n[:])
		}
	}
}

// checkAnnouncement returns what is wrong with def's announcement, "" if
// nothing: known enums, bounded shapes, an output_shape whenever anything
// is announced.
func checkAnnouncement(def *bittensorpb.Synapse) string {
	if !announces(def) {
		return ""
	}
	if _, ok := bittensorpb.Modality_name[int32(def.GetModality())]; !ok {
		return fmt.Sprintf("unknown modality %d", int32(def.GetModality()))
	}
	if _, ok := bittensorpb.DataType_name[int32(def.GetInputDtype())]; !ok {
		return fmt.Sprintf("unknown input dtype %d", int32(def.GetInputDtype()))
	}
	out := def.GetOutputShape()
	if len(out) == 0 {
		return "announces a modality or inputs but no output shape"
	}
	if len(out) > maxAnnouncedDims || len(def.GetInputShape()) > maxAnnouncedDims {
		return fmt.Sprintf("announced shape of more than %d dimensions", maxAnnouncedDims)
	}
	for _, d := range def.GetInputShape() {
		if d != -1 && (d < 1 || d > maxAnnouncedDim) {
			return fmt.Sprintf("input dimension %d, want -1 or 1..%d", d, maxAnnouncedDim)
		}
	}
	size := int64(1)
	for _, d := range out {
		if d < 1 || d > maxAnnouncedDim {
			return fmt.Sprintf("output dimension %d, want 1..%d", d, maxAnnouncedDim)
		}
		if size *= d; size > maxAnnouncedOutput {
			return fmt.Sprintf("output of more than %d values per example", maxAnnouncedOutput)
		}
	}
	return ""
}

// copyAnnouncement copies the announcement fields of src into dst.
func copyAnnouncement(dst, src *bittensorpb.Synapse) {
	dst.Modality = src.GetModality()
	dst.InputDtype = src.GetInputDtype()
	if s := src.GetInputShape(); len(s) > 0 {
		dst.InputShape = append([]int64(nil), s...)
	}
	if s := src.GetOutputShape(); len(s) > 0 {
		dst.OutputShape = append([]int64(nil), s...)
	}
}
