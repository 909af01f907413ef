// Package testing is the folder of the test harnesses: the packages under
// internal/testing exist for tests, the multi-process and Docker runs, and
// the benchmark programs of bench/, never for the libraries or the
// bittensor binary. Production code never imports them; the production
// leaves shared by torch, neuron and cmd stay one level up, at
// internal/<name> (atomicfile, mallocenv, procmem, benchref).
//
//   - byzantine: a synapse that misbehaves on purpose (NaN, ±Inf, huge,
//     wrong shapes, slow, dropped).
//   - cmd/badpeer: a byzantine neuron process built on byzantine.
//   - chaos: the four-process chaos scenario on 127.0.0.1.
//   - etcdlocal: a real etcd cluster on 127.0.0.1.
//   - dockertest: neurons in Docker containers on a private network.
//   - logtest: a neuron's JSON log lines, captured and read back.
//   - eventually: the tests' one poll loop, bounded in time.
//
// This package itself has no code; nothing imports it.
package testing
