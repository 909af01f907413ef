package neuron

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/opentensor/bittensor-go/neuron/axon"
	"github.com/opentensor/bittensor-go/neuron/dendrite"
	"github.com/opentensor/bittensor-go/neuron/keys"
	"github.com/opentensor/bittensor-go/neuron/synapse"
	"github.com/opentensor/bittensor-go/neuron/trainer"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/stats"

	"github.com/opentensor/bittensor-go/neuron/metagraph"
	"github.com/opentensor/bittensor-go/neuron/observe"
	"github.com/opentensor/bittensor-go/torch"
)

// stopTimeout bounds how long Close waits for the Axon's requests in flight.
const stopTimeout = 5 * time.Second

// Neuron is a running node of the network, the seed's soma: its key, an Axon
// serving its local synapses, a Metagraph announcing them and finding peers,
// a Dendrite calling peers' synapses, and an Observer making it visible.
type Neuron struct {
	Key       *keys.Key
	Axon      *axon.Axon
	Metagraph metagraph.Metagraph
	Dendrite  *dendrite.Dendrite
	// Conns is the one connection pool the Dendrite and the Metagraph's
	// gossip dial through.
	Conns *dendrite.ConnPool
	// Observer keeps the neuron's metrics; unless Config.MetricsPort is -1
	// it serves them, with the live page, on MetricsAddr.
	Observer    *observe.Observer
	MetricsAddr net.Addr
}

// StartNeuron brings a neuron up from cfg: it loads (or creates) the neuron
// key (see LoadIdentityFlag), serves synapses on the Axon, subscribes them to the Metagraph and
// starts gossiping, and prepares a Dendrite whose calls answer outputDim
// features per example on device. Each synapse's definition announces that
// it answers outputDim features per example, and the modality and inputs it
// serves when it says them (see Announce). A port already in use or a bad key file is
// a *UsageError. The neuron runs until Close; ctx bounds only the start.
func StartNeuron(ctx context.Context, cfg Config, outputDim int64, device torch.Device, synapses ...synapse.Synapse) (*Neuron, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := resolveBootstrap(ctx, cfg.Bootstrap); err != nil {
		return nil, err
	}
	n := &Neuron{Observer: observe.New(observe.DefaultConfig())}
	var err error
	if n.Key, err = loadNeuronKey(cfg.NeuronKey); err != nil {
		return nil, err
	}
	dcfg := dendrite.DefaultConfig()
	n.Conns = dendrite.NewConnPool(dcfg.MaxConns, dcfg.IdleTimeout)
	if err := n.startAxon(cfg, synapses); err != nil {
		n.Close()
		return nil, err
	}
	if err := n.startMetagraph(ctx, cfg, outputDim, synapses); err != nil {
		n.Close()
		return nil, err
	}
	dcfg.OutputDim, dcfg.Device, dcfg.Pool, dcfg.OnCall = outputDim, device, n.Conns, n.observeCall
	if n.Dendrite, err = dendrite.New(n.Key, dcfg); err != nil {
		n.Close()
		return nil, err
	}
	served := make([]string, len(synapses))
	for i, s := range synapses {
		n.Dendrite.CallInProcess(s)
		served[i] = s.Key()
	}
	if err := n.startObserver(cfg); err != nil {
		n.Close()
		return nil, err
	}
	cfg.Log.Info().Str("neuron_key", n.Key.PublicHex()).Strs("synapse_keys", served).Str("axon", n.Axon.Addr().String()).
		Str("metagraph", n.Metagraph.Addr()).Str("bootstrap", cfg.Bootstrap).Msg("neuron started")
	if n.MetricsAddr != nil {
		page := "http://" + net.JoinHostPort(cfg.RemoteIP, strconv.Itoa(n.MetricsAddr.(*net.TCPAddr).Port)) + "/"
		cfg.Log.Info().Str("page", page).Str("metrics", page+"metrics").Msg("live page and metrics")
	}
	return n, nil
}

// trainer.Network returns what a Trainer of the neuron's synapse uses of it:
// its Dendrite, its Metagraph, its Axon's counters, and the neuron itself
// as the observer of the steps.
func (n *Neuron) TrainerNetwork() trainer.Network {
	return trainer.Network{Dendrite: n.Dendrite, Metagraph: n.Metagraph, Served: n.served, Observer: n}
}

// served returns the requests the Axon received and those it refused as
// not fitting its synapse (UNIMPLEMENTED: another modality;
// INVALID_ARGUMENT: other inputs).
func (n *Neuron) served() (requests, unfit uint64) {
	s := n.Axon.Stats()
	return s.Requests, s.Codes[codes.Unimplemented] + s.Codes[codes.InvalidArgument]
}

// resolveTimeout bounds the look-up of the bootstrap peer's host.
const resolveTimeout = 5 * time.Second

// resolveBootstrap checks that the bootstrap peer's host resolves, so a
// mistyped --bootstrap fails at once instead of being retried forever.
func resolveBootstrap(ctx context.Context, addr string) error {
	if addr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return &UsageError{Flag: "bootstrap", Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	if _, err := net.DefaultResolver.LookupHost(ctx, host); err != nil {
		return &UsageError{Flag: "bootstrap", Err: fmt.Errorf("cannot resolve %q: %w", host, err)}
	}
	return nil
}

func loadNeuronKey(path string) (*keys.Key, error) {
	id, err := LoadIdentityFlag(path)
	if err != nil {
		return nil, err
	}
	return id.Neuron, nil
}

// LoadIdentityFlag is LoadOrCreateIdentity for the --neuron_key setting: the
// neuron's key and its synapse's key, kept together in the file at path (a
// fresh pair for this run when path is empty). A key file that cannot be read,
// parsed or written is a *UsageError. Examples call it for the key of the
// synapse they serve; StartNeuron calls it for the neuron key.
func LoadIdentityFlag(path string) (*keys.Identity, error) {
	id, err := keys.LoadOrCreateIdentity(path)
	if err != nil {
		return nil, &UsageError{Flag: "neuron_key", Err: err}
	}
	return id, nil
}

func (n *Neuron) startAxon(cfg Config, synapses []synapse.Synapse) error {
	acfg := axon.DefaultConfig()
	acfg.Address = net.JoinHostPort("", strconv.Itoa(cfg.AxonPort))
	acfg.StatsHandlers = []stats.Handler{n.Observer.AxonHandler()}
	var err error
	if n.Axon, err = axon.New(acfg); err != nil {
		return err
	}
	for _, s := range synapses {
		if err := n.Axon.Serve(s); err != nil {
			return err
		}
	}
	if err := n.Axon.Start(); err != nil {
		return portError("axon_port", cfg.AxonPort, err)
	}
	return nil
}

// refreshInterval is how often the neuron signs its definitions again: a
// tenth of their time to live, and at least one gossip period. Each refresh
// costs the owner a proof of work and every member a verification, while
// only the TTL decides how soon a dead owner is forgotten; a definition so
// refreshed has nine tenths of its life to reach every member.
func refreshInterval(period, ttl time.Duration) time.Duration {
	return max(period, ttl/10)
}

func (n *Neuron) startMetagraph(ctx context.Context, cfg Config, outputDim int64, synapses []synapse.Synapse) error {
	mcfg := metagraph.DefaultConfig()
	mcfg.Port = cfg.MetagraphPort
	mcfg.RemoteIP = cfg.RemoteIP
	mcfg.Size = cfg.MetagraphSize
	mcfg.Period = cfg.MetagraphPeriod
	mcfg.Refresh = refreshInterval(cfg.MetagraphPeriod, cfg.MetagraphTTL)
	mcfg.TTL = cfg.MetagraphTTL
	mcfg.MaxBackoff = max(mcfg.Period, min(mcfg.MaxBackoff, cfg.MetagraphTTL/2))
	if cfg.Bootstrap != "" {
		mcfg.Bootstrap = []string{cfg.Bootstrap}
	}
	mg, err := newMetagraph(ctx, cfg, mcfg, n)
	if err != nil {
		return err
	}
	n.Metagraph = mg
	port := n.Axon.Addr().(*net.TCPAddr).Port
	for _, s := range synapses {
		def := metagraph.NewSynapseDefinition(s.Key(), cfg.RemoteIP, port)
		synapse.Announce(def, s, outputDim)
		if err := n.Metagraph.Subscribe(def); err != nil {
			return err
		}
	}
	if err := n.Metagraph.Start(context.WithoutCancel(ctx)); err != nil {
		return portError("metagraph_port", cfg.MetagraphPort, err)
	}
	return nil
}

// newMetagraph returns the backend the settings choose: the chain at
// --chain_endpoint (an unreachable one is a *UsageError), else gossip
// through the neuron's connection pool.
func newMetagraph(ctx context.Context, cfg Config, mcfg metagraph.Config, n *Neuron) (metagraph.Metagraph, error) {
	if cfg.ChainEndpoint == "" {
		return metagraph.NewGossip(mcfg, n.Key, metagraph.WithConnPool(n.Conns.Shared()), metagraph.WithGossipErrors(func(err error) {
			cfg.Log.Debug().Err(err).Msg("gossip round failed")
		}))
	}
	endpoints, err := metagraph.ParseChainEndpoint(cfg.ChainEndpoint)
	if err != nil {
		return nil, &UsageError{Flag: "chain_endpoint", Err: err}
	}
	ccfg := metagraph.DefaultChainConfig()
	ccfg.Endpoints = endpoints
	mg, err := metagraph.NewChain(ctx, mcfg, ccfg, n.Key, metagraph.WithChainErrors(func(err error) {
		cfg.Log.Debug().Err(err).Msg("chain")
	}))
	if errors.Is(err, metagraph.ErrChainUnreachable) {
		return nil, &UsageError{Flag: "chain_endpoint", Err: err}
	}
	if err != nil {
		return nil, err
	}
	return mg, nil
}

// portError turns a failure to listen on a port in use into a *UsageError.
func portError(flag string, port int, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return &UsageError{Flag: flag, Err: fmt.Errorf("port %d is in use by another program; "+
			"pick another port, or 0 for a free one", port)}
	}
	return err
}

// Close stops serving the page and the metrics, stops gossiping, cancels
// the Dendrite's calls, closes their connections, and stops the Axon
// (waiting up to stopTimeout for the requests in flight).
func (n *Neuron) Close() error {
	var errs []error
	if n.Observer != nil {
		errs = append(errs, n.Observer.Close())
	}
	if n.Metagraph != nil {
		errs = append(errs, n.Metagraph.Stop())
	}
	if n.Dendrite != nil {
		errs = append(errs, n.Dendrite.Close())
	}
	if n.Conns != nil {
		errs = append(errs, n.Conns.Close())
	}
	if n.Axon != nil {
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		errs = append(errs, n.Axon.Stop(ctx))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("neuron: close: %w", err)
	}
	return nil
}
