// Package observe makes a running neuron visible: Prometheus metrics of its
// Axon, Dendrite, Metagraph and training, and a live web page that shows its
// peers, synapses, weights and training curves.
//
// An Observer belongs to one neuron and keeps its own Prometheus registry
// (never the global one). The neuron feeds it from three places:
//
//   - the Axon's gRPC server runs with AxonHandler, a gRPC stats.Handler that
//     counts requests by method and status code, bytes in and out, and
//     latency;
//   - the Dendrite reports every call with DendriteCall (peer, direction,
//     outcome, latency);
//   - the trainer reports every step with Step and every test with Test.
//
// What the neuron knows of its network (synapses, standing, weights, the
// Metagraph's sizes) is read when asked for, from the Network function given
// to Start. Start serves, on one port:
//
//	/            the live page (HTML, SVG and JavaScript embedded in the binary)
//	/api/state   the page's data as JSON, polled by the page every second
//	/metrics     the Prometheus metrics
//
// Use:
//
//	obs := observe.New(observe.DefaultConfig())
//	axonOpts := grpc.StatsHandler(obs.AxonHandler())
//	addr, err := obs.Start(":9100", neuronNetwork)
//	defer obs.Close()
//	obs.Step(observe.Step{Epoch: 0, Examples: 32, Elapsed: d, LocalLoss: 0.5})
//
// The page's history is bounded: the training curves keep at most
// Config.MaxPoints points over the whole run (thinned evenly as it grows),
// the test results and the throughput samples the most recent ones.
package observe
