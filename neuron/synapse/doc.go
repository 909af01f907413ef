// Package synapse owns what a model must be to be served on the network,
// and how it learns from its callers.
//
//   - Synapse (synapse.go) is the seed's Synapse class: a key and any subset
//     of ForwardText, ForwardImage and ForwardTensor (embed Base for the
//     rest). The optional interfaces say more: Trainable (steps on callers'
//     gradients at once), Guarded (parameters change only outside Guard),
//     NetworkLearner (collects callers' gradients for its owner's next step),
//     InputDeclarer (declares its inputs; see InputSpec). CallForward
//     dispatches a batch by modality.
//   - Model and Output (model.go) are what a Trainer trains: Encode (the
//     answer served and the router's context) and Forward (the seed's three
//     losses, see Output.WithLosses); SharedEncodingModel, StatefulModel and
//     TextModel refine it.
//   - Local (local.go) serves a Model while its Trainer trains it: requests
//     run under a read lock, the Trainer changes parameters only in Update.
//   - RemoteGrads (remote_grads.go) collects callers' parameter gradients,
//     clipped per caller and bounded in age and callers, until the owner's
//     step applies their weighted mean.
//   - The backward math (learn.go): Backward, LearnFrom, TrainStep,
//     recompute, Guard: one implementation shared by the Axon's Backward and
//     the Dendrite's in-process call, so both give the same gradients.
//     Their errors are gRPC statuses, the Axon's answer.
//   - Announce (announce.go) writes what a synapse serves into its signed
//     definition, so that peers route to it only batches that fit.
//
// It imports torch, proto and neuron/keys (and grpc's status codes); the
// Axon, the Dendrite and the Trainer import it.
package synapse
