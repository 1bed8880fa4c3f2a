package natstransport

import (
	"fmt"
	"log/slog"
	"strings"
)

// DefaultPrefix is the first subject token when Config.Prefix is empty.
const DefaultPrefix = "natsraft"

// clientToken is the subject token that marks client-facing subjects. It is
// reserved: a node named "client" would receive the cluster's client requests.
const clientToken = "client"

// broadcastToken is the subject token of messages to every node of the
// cluster, "<prefix>.<cluster>.all.<suffix>", which NATS fans out. It is
// reserved like clientToken.
const broadcastToken = "all"

// Default pending limits of the peer subscription. They bound the messages
// NATS buffers in this process while the handler is busy. Beyond them the
// subscription drops messages as a slow consumer, and Stats counts them.
const (
	DefaultPendingMessages = 1 << 20
	DefaultPendingBytes    = 256 << 20
)

// Config identifies a node on the bus. The same Config serves the Transport
// and the ClientServer of one node.
type Config struct {
	// Prefix is the first part of every subject: one or more dot-separated
	// tokens of letters, digits, '_' and '-'. Empty means DefaultPrefix.
	Prefix string
	// Cluster is the cluster id, one subject token. Required.
	Cluster string
	// Node is this node's id, one subject token other than "client".
	// Required.
	Node string
	// Peers are the node ids this node accepts peer messages from. Change
	// them with Transport.SetPeers when the membership changes.
	Peers []string
	// Logger receives dropped-message reports and errors. Nil means
	// slog.Default().
	Logger *slog.Logger
	// MaxPayload is the largest encoded peer message Send accepts, in bytes.
	// Zero means the connected server's max payload. The server's limit
	// applies in any case.
	MaxPayload int
	// PendingMessages and PendingBytes are the peer subscription's pending
	// limits (messages received but not yet handled). Zero means
	// DefaultPendingMessages and DefaultPendingBytes; -1 means no limit.
	PendingMessages int
	PendingBytes    int
}

// Validate reports the first invalid field of c, with the value and the
// fix. New and NewClientServer run it too; call it to check a
// configuration before connecting.
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}

// withDefaults returns a validated copy of c with defaults filled in.
func (c Config) withDefaults() (Config, error) {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}

	if err := validatePrefix(c.Prefix); err != nil {
		return c, err
	}
	if err := validateToken("cluster", c.Cluster); err != nil {
		return c, err
	}
	if err := validateNodeID("node", c.Node); err != nil {
		return c, err
	}
	for _, p := range c.Peers {
		if err := validateNodeID("peer", p); err != nil {
			return c, err
		}
	}
	c.Peers = append([]string(nil), c.Peers...)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}

	if c.MaxPayload < 0 {
		return c, fmt.Errorf("natstransport: invalid max payload %d: use 0 for the server's limit or a positive size in bytes", c.MaxPayload)
	}
	if c.PendingMessages == 0 {
		c.PendingMessages = DefaultPendingMessages
	}
	if c.PendingBytes == 0 {
		c.PendingBytes = DefaultPendingBytes
	}
	if c.PendingMessages < -1 || c.PendingBytes < -1 {
		return c, fmt.Errorf("natstransport: invalid pending limits %d messages, %d bytes: use 0 for the default, -1 for no limit, or a positive number", c.PendingMessages, c.PendingBytes)
	}
	return c, nil
}

// validateToken checks that value is one subject token made of letters,
// digits, '_' and '-'. Dots and the wildcards '*' and '>' would change which
// subscriptions a subject matches.
func validateToken(what, value string) error {
	if value == "" {
		return fmt.Errorf("natstransport: missing %s id: set it to a name of letters, digits, '_' or '-'", what)
	}
	if !isToken(value) {
		return fmt.Errorf("natstransport: invalid %s id %q: use only letters, digits, '_' and '-'", what, value)
	}
	return nil
}

// validateNodeID checks a node id: a subject token other than "client" and
// "all".
func validateNodeID(what, value string) error {
	if err := validateToken(what, value); err != nil {
		return err
	}
	if value == clientToken {
		return fmt.Errorf("natstransport: invalid %s id %q: the name is reserved for client subjects, choose another", what, value)
	}
	if value == broadcastToken {
		return fmt.Errorf("natstransport: invalid %s id %q: the name is reserved for messages to every node, choose another", what, value)
	}
	return nil
}

// validatePrefix checks a subject prefix: dot-separated tokens.
func validatePrefix(prefix string) error {
	for tok := range strings.SplitSeq(prefix, ".") {
		if !isToken(tok) {
			return fmt.Errorf("natstransport: invalid subject prefix %q: use dot-separated names of letters, digits, '_' and '-', such as %q", prefix, "acme.raft")
		}
	}
	return nil
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// Subjects. A cluster's traffic lives under "<prefix>.<cluster>.", so one
// wildcard subscription or permission covers it.

// nodeBase returns "<prefix>.<cluster>.<node>", the root of a node's peer
// subjects.
func nodeBase(prefix, cluster, node string) string {
	return prefix + "." + cluster + "." + node
}

// clusterClientBase returns "<prefix>.<cluster>.client", the root of the
// subjects that address the cluster as a whole.
func clusterClientBase(prefix, cluster string) string {
	return prefix + "." + cluster + "." + clientToken
}

// nodeClientBase returns "<prefix>.<cluster>.<node>.client", the root of the
// client subjects that address one node.
func nodeClientBase(prefix, cluster, node string) string {
	return nodeBase(prefix, cluster, node) + "." + clientToken
}
