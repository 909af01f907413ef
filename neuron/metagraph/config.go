package metagraph

import (
	"fmt"
	"net"
	"strconv"
	"time"
)

// Config holds every knob of the Metagraph. Start from
// DefaultConfig (a network of real neurons) or LocalConfig
// (fast settings for tests on one machine) and change what you need.
//
// All members of one network must agree on PoWBits (a definition with less
// work is refused) and should agree on TTL.
type Config struct {
	// ListenHost is the interface the gossip service binds to ("" = all).
	ListenHost string
	// Port is the gossip service port (--metagraph_port); 0 picks a free one,
	// readable from Metagraph.Addr after Start.
	Port int
	// RemoteIP is the host other neurons reach this one at (--remote_ip); it is
	// advertised to peers as RemoteIP:port.
	RemoteIP string
	// Bootstrap seeds the peer list with "host:port" metagraph addresses
	// (--bootstrap). Bootstrap peers are retried with backoff but never dropped.
	// Without any, the metagraph waits to be found.
	Bootstrap []string

	// Size caps the number of stored synapse definitions (--metagraph_size).
	// When full, the remote definition with the oldest refresh is evicted;
	// local ones never are.
	Size int
	// MaxPeers caps the peer table: bootstrap peers and addresses that answered
	// an exchange (the live peers are among them).
	MaxPeers int
	// MaxCandidates caps the unverified addresses learned from gossip, kept
	// until they are tried. When full, a new address replaces a random one, so
	// a flood cannot pin the set; after a flood stops, an honest address
	// announced once is tried within about 2·MaxCandidates gossip rounds.
	MaxCandidates int

	// Period is the gossip interval: every period the metagraph refreshes its
	// local definitions and exchanges a GossipBatch with one random peer.
	Period time.Duration
	// Refresh is how often local definitions are signed again with a new nonce
	// (their heartbeat). Every refresh costs each member one verification per
	// definition, so on large networks a Refresh of several periods saves CPU;
	// it must stay well below TTL.
	Refresh time.Duration
	// TTL is how long a definition lives after its owner's last refresh, and how
	// long a peer lives after it was last heard from.
	TTL time.Duration
	// MaxClockSkew is how far in the future a definition's refresh time may lie
	// (owners stamp their nonce with their own clock).
	MaxClockSkew time.Duration
	// PoWBits is the number of leading zero bits the proof of work of every
	// definition must have. Each bit doubles the cost of a refresh.
	PoWBits int

	// GossipTimeout is the deadline of one exchange with a peer.
	GossipTimeout time.Duration
	// MaxPeerFailures is the number of consecutive failed exchanges after which
	// a (non-bootstrap) peer is dropped.
	MaxPeerFailures int
	// MaxBackoff caps the wait before retrying a failing peer; the wait starts
	// at Period and doubles with every failure.
	MaxBackoff time.Duration

	// MaxMessageBytes caps a GossipBatch on the wire, in both directions.
	MaxMessageBytes int
	// MaxBatchPeers caps the peer addresses in one GossipBatch.
	MaxBatchPeers int
	// MaxBatchSynapses caps the synapse definitions in one GossipBatch.
	MaxBatchSynapses int
}

// DefaultConfig returns the settings of a neuron on a real network:
// port 8092, cache of 10 000 synapses, gossip and refresh every 10 s, TTL 300 s, 16 bits of
// proof of work (about 65 000 SHA-256 hashes, a few milliseconds per refresh).
func DefaultConfig() Config {
	return Config{
		Port:             8092,
		RemoteIP:         "127.0.0.1",
		Size:             10000,
		MaxPeers:         1000,
		MaxCandidates:    256,
		Period:           10 * time.Second,
		Refresh:          10 * time.Second,
		TTL:              300 * time.Second,
		MaxClockSkew:     60 * time.Second,
		PoWBits:          16,
		GossipTimeout:    5 * time.Second,
		MaxPeerFailures:  5,
		MaxBackoff:       5 * time.Minute,
		MaxMessageBytes:  4 << 20,
		MaxBatchPeers:    256,
		MaxBatchSynapses: 10000,
	}
}

// LocalConfig returns fast settings for tests and local experiments:
// a free port on 127.0.0.1, gossip and refresh every 50 ms, TTL 2 s, 4 bits of
// proof of work.
func LocalConfig() Config {
	c := DefaultConfig()
	c.ListenHost = "127.0.0.1"
	c.Port = 0
	c.Size = 1000
	c.Period = 50 * time.Millisecond
	c.Refresh = 50 * time.Millisecond
	c.TTL = 2 * time.Second
	c.MaxClockSkew = time.Second
	c.PoWBits = 4
	c.GossipTimeout = time.Second
	c.MaxPeerFailures = 3
	c.MaxBackoff = time.Second
	c.MaxBatchSynapses = 1000
	return c
}

// maxPoWBits bounds the configurable difficulty: more would make a refresh take
// longer than any sensible gossip period.
const maxPoWBits = 40

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Port < 0 || c.Port > 65535:
		return fmt.Errorf("metagraph: config: port %d out of range 0..65535", c.Port)
	case c.RemoteIP != "" && !validHost(c.RemoteIP):
		return fmt.Errorf("metagraph: config: remote ip %q is not a host name or IP address", c.RemoteIP)
	case c.Size < 1:
		return fmt.Errorf("metagraph: config: size %d, want at least 1", c.Size)
	case c.MaxPeers < 1:
		return fmt.Errorf("metagraph: config: max peers %d, want at least 1", c.MaxPeers)
	case c.MaxCandidates < 1:
		return fmt.Errorf("metagraph: config: max candidates %d, want at least 1", c.MaxCandidates)
	case c.Period <= 0:
		return fmt.Errorf("metagraph: config: period %v, want > 0", c.Period)
	case c.Refresh < c.Period:
		return fmt.Errorf("metagraph: config: refresh %v shorter than the gossip period %v", c.Refresh, c.Period)
	case c.TTL <= c.Refresh:
		return fmt.Errorf("metagraph: config: ttl %v must exceed the refresh interval %v", c.TTL, c.Refresh)
	case c.MaxClockSkew < 0:
		return fmt.Errorf("metagraph: config: max clock skew %v, want >= 0", c.MaxClockSkew)
	case c.PoWBits < 0 || c.PoWBits > maxPoWBits:
		return fmt.Errorf("metagraph: config: proof-of-work bits %d out of range 0..%d", c.PoWBits, maxPoWBits)
	case c.GossipTimeout <= 0:
		return fmt.Errorf("metagraph: config: gossip timeout %v, want > 0", c.GossipTimeout)
	case c.MaxPeerFailures < 1:
		return fmt.Errorf("metagraph: config: max peer failures %d, want at least 1", c.MaxPeerFailures)
	case c.MaxBackoff < c.Period:
		return fmt.Errorf("metagraph: config: max backoff %v shorter than the period %v", c.MaxBackoff, c.Period)
	case c.MaxMessageBytes < 1024:
		return fmt.Errorf("metagraph: config: max message bytes %d, want at least 1024", c.MaxMessageBytes)
	case c.MaxBatchPeers < 1:
		return fmt.Errorf("metagraph: config: max batch peers %d, want at least 1", c.MaxBatchPeers)
	case c.MaxBatchSynapses < 1:
		return fmt.Errorf("metagraph: config: max batch synapses %d, want at least 1", c.MaxBatchSynapses)
	}
	for _, b := range c.Bootstrap {
		if err := validateHostPort(b); err != nil {
			return fmt.Errorf("metagraph: config: bootstrap: %w", err)
		}
	}
	return nil
}

// listenAddress is where the gossip service binds.
func (c Config) listenAddress() string {
	return net.JoinHostPort(c.ListenHost, strconv.Itoa(c.Port))
}
