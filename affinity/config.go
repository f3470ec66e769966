package affinity

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Config is the affinity table's configuration. The appliance mounts it
// in the file's "affinity:" section (beside the router's down_grace).
type Config struct {
	// Expire is how long an entry lives after its last Place (default
	// 8h); tombstones live as long after their Delete.
	Expire time.Duration `mapstructure:"expire"`
	// FlushInterval is the persistence window (default 100ms): changes
	// are written and fsynced in one batch per interval; a SIGKILL or a
	// power loss loses at most the changes of the last window.
	FlushInterval time.Duration `mapstructure:"flush_interval"`
	// PruneInterval is how often expired entries and tombstones are
	// removed from memory and disk (default 1m).
	PruneInterval time.Duration `mapstructure:"prune_interval"`
	// RefreshAfter: a Place of the server already recorded is a no-op
	// until this long after the entry was last written (default 0 =
	// Expire/64, 7.5 min with the default Expire), so reconnect storms
	// cause no writes and no replication traffic.
	RefreshAfter time.Duration `mapstructure:"refresh_after"`
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		Expire:        8 * time.Hour,
		FlushInterval: 100 * time.Millisecond,
		PruneInterval: time.Minute,
	}
}

// Validate reports every invalid setting, each with its YAML key.
func (c Config) Validate() error {
	var errs []error
	pos := func(key string, d time.Duration) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be > 0", key))
		}
	}
	pos("expire", c.Expire)
	pos("flush_interval", c.FlushInterval)
	pos("prune_interval", c.PruneInterval)
	if c.RefreshAfter < 0 {
		errs = append(errs, errors.New("refresh_after: must be >= 0"))
	} else if c.Expire > 0 && c.RefreshAfter >= c.Expire {
		errs = append(errs, errors.New("refresh_after: must be < expire"))
	}
	return errors.Join(errs...)
}

func (c Config) refreshAfter() time.Duration {
	if c.RefreshAfter > 0 {
		return c.RefreshAfter
	}
	return c.Expire / 64
}

// PeersConfig is the replication configuration (YAML section
// "peers"). Leave Listen and Members empty for a single node.
type PeersConfig struct {
	// Node is this node's unique id (default: the host name); it breaks
	// version ties, so two nodes must never share it.
	Node string `mapstructure:"node"`
	// Listen is the host:port for peer traffic, TCP and UDP on the same
	// port (e.g. 10.0.0.1:7946). A 0.0.0.0 host needs Advertise.
	Listen string `mapstructure:"listen"`
	// Advertise is the host:port peers should use, when not Listen.
	Advertise string `mapstructure:"advertise"`
	// Members are the peers to join (host:port); this node's own address
	// may be listed too, so every node can share one list.
	Members []string `mapstructure:"members"`
	// SecretFile holds the shared key that encrypts and authenticates peer
	// traffic: 16, 24 or 32 bytes (AES-128/192/256), given as base64 or hex
	// text (surrounding white space ignored) or as the raw bytes. Required
	// when Listen or Members is set; the file should be mode 0600.
	SecretFile string `mapstructure:"secret_file"`
	// PushPullInterval is the period of the full anti-entropy exchange
	// with one random peer (default 15s).
	PushPullInterval time.Duration `mapstructure:"push_pull_interval"`
	// GossipInterval is the period of the gossip that carries queued
	// broadcasts (default 100ms; memberlist's own default is 200ms).
	GossipInterval time.Duration `mapstructure:"gossip_interval"`
	// JoinRetryInterval: while no peer is reachable, Members are joined
	// again at this period (default 10s).
	JoinRetryInterval time.Duration `mapstructure:"join_retry_interval"`
	// MaxPeerQueue bounds the changes waiting for one peer (default
	// 100000); beyond it they are dropped and the peer is resynchronised
	// by anti-entropy instead.
	MaxPeerQueue int `mapstructure:"max_peer_queue"`
	// Allow lists more sources (addresses or CIDR prefixes) accepted on
	// the peer port besides the addresses of Members (host names are
	// resolved at start). Datagrams and connections from anywhere else
	// are dropped, counted and summarised in one log line per 10s. With
	// neither Members nor Allow, any source is accepted. Default none.
	Allow []string `mapstructure:"allow"`
	// MaxConnections caps the inbound peer connections held at once
	// (each a descriptor for up to memberlist's 10s TCP timeout); more
	// are closed at once. Default 16: inside the descriptors the broker
	// keeps back from sessions.
	MaxConnections int `mapstructure:"max_connections"`
}

// DefaultPeersConfig returns the defaults documented on PeersConfig
// (Node stays empty: it defaults to the host name at start).
func DefaultPeersConfig() PeersConfig {
	return PeersConfig{
		PushPullInterval:  15 * time.Second,
		GossipInterval:    100 * time.Millisecond,
		JoinRetryInterval: 10 * time.Second,
		MaxPeerQueue:      100000,
		MaxConnections:    16,
	}
}

// Enabled reports whether replication is configured.
func (p PeersConfig) Enabled() bool { return p.Listen != "" || len(p.Members) > 0 }

// Validate reports every invalid setting, each with its YAML key.
func (p PeersConfig) Validate() error {
	var errs []error
	if len(p.Node) > maxNameLen {
		errs = append(errs, fmt.Errorf("node: longer than %d bytes", maxNameLen))
	}
	if p.Enabled() {
		if p.Listen == "" {
			errs = append(errs, errors.New("listen: required when members is set"))
		}
		if p.SecretFile == "" {
			errs = append(errs, errors.New("secret_file: required when replication is configured"))
		}
	}
	pos := func(key string, d time.Duration) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be > 0", key))
		}
	}
	pos("push_pull_interval", p.PushPullInterval)
	pos("gossip_interval", p.GossipInterval)
	pos("join_retry_interval", p.JoinRetryInterval)
	if p.MaxPeerQueue <= 0 {
		errs = append(errs, errors.New("max_peer_queue: must be > 0"))
	}
	if p.MaxConnections <= 0 {
		errs = append(errs, errors.New("max_connections: must be > 0"))
	}
	for i, a := range p.Allow {
		if _, err := parseAllow(a); err != nil {
			errs = append(errs, fmt.Errorf("allow[%d]: %q: must be an address or a CIDR prefix", i, a))
		}
	}
	return errors.Join(errs...)
}

// parseAllow parses an allow entry: a CIDR prefix, or one address.
func parseAllow(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}
