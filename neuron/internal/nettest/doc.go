// Package nettest starts the tests' networks: an Axon on a free loopback
// port and a Dendrite, both ended with the test. Test code only; the Axon's
// and the Dendrite's internal tests cannot import it.
package nettest
