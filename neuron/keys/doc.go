// Package keys holds the ed25519 keys a neuron is known by: a Key signs
// (requests, synapse definitions, published weights), an Identity keeps a
// neuron's key and its synapse's key together in one key file, and Verify
// checks a signature against a hex public key as carried on the wire
// (neuron_key, synapse_key).
//
//	id, err := keys.LoadOrCreateIdentity("neuron.key") // mode 0600, written atomically
//	sig := id.Neuron.Sign(digest)
//	ok := keys.Verify(id.Neuron.PublicHex(), digest, sig)
//
// It sits below every package that signs or verifies (neuron, its metagraph),
// so that none of them has to import another for its keys.
package keys
