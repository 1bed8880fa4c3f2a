package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// hashicorpNodes is the cluster size of the hashicorp/raft runs.
const hashicorpNodes = 3

// logCacheSize is the number of newest entries raft.LogCache keeps in
// memory in front of raft-boltdb.
const logCacheSize = 512

// kvFSM is a key-value state machine for hashicorp/raft whose commands are
// puts encoded by encodePut.
type kvFSM struct {
	mu   sync.Mutex
	data map[string][]byte
}

func newKVFSM() *kvFSM { return &kvFSM{data: make(map[string][]byte)} }

// encodePut returns a command that sets key to value: the key's length as
// a uvarint, the key, then the value.
func encodePut(key string, value []byte) []byte {
	cmd := make([]byte, 0, binary.MaxVarintLen64+len(key)+len(value))
	cmd = binary.AppendUvarint(cmd, uint64(len(key)))
	cmd = append(cmd, key...)
	return append(cmd, value...)
}

func decodePut(cmd []byte) (string, []byte, error) {
	n, size := binary.Uvarint(cmd)
	if size <= 0 || uint64(len(cmd)-size) < n {
		return "", nil, fmt.Errorf("invalid put command of %d bytes: the key length prefix exceeds the command", len(cmd))
	}
	key := string(cmd[size : size+int(n)])
	return key, cmd[size+int(n):], nil
}

// Apply stores a copy of the value, as the natsraft key-value state
// machine does.
func (f *kvFSM) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	key, value, err := decodePut(l.Data)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.data[key] = slices.Clone(value)
	f.mu.Unlock()
	return nil
}

// digest returns the SHA-256 of the keys and values in key order.
func (f *kvFSM) digest() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	keys := make([]string, 0, len(f.data))
	for k := range f.data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	h := sha256.New()
	for _, k := range keys {
		_, _ = h.Write(encodePut(k, f.data[k]))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Snapshot fails: runs of the default length end before hashicorp/raft's
// first snapshot check (SnapshotInterval, 120s to 240s by default).
//
// NOTE: in a run longer than that, the failed snapshot is logged and the
// log keeps growing, as it does in natsraft, which takes no snapshots on
// its own.
func (f *kvFSM) Snapshot() (raft.FSMSnapshot, error) {
	return nil, errors.New("kvFSM: snapshots are not supported by this benchmark")
}

func (f *kvFSM) Restore(io.ReadCloser) error {
	return errors.New("kvFSM: snapshots are not supported by this benchmark")
}

// hashicorpNode is one node of a hashicorp/raft cluster.
type hashicorpNode struct {
	raft    *raft.Raft
	fsm     *kvFSM
	closers []io.Closer
}

// hashicorpCluster is a hashicorp/raft cluster in this process.
type hashicorpCluster struct {
	nodes []*hashicorpNode
}

// nodeSetup is the transport and stores of one hashicorp/raft node.
type nodeSetup struct {
	id      string
	trans   raft.Transport
	logs    raft.LogStore
	stable  raft.StableStore
	snaps   raft.SnapshotStore
	closers []io.Closer
}

// startHashicorp starts a three-node cluster. For systemHashicorpBolt the
// nodes talk over the TCP transport on 127.0.0.1 and keep their logs in
// raft-boltdb files under dir, synced on every write. For
// systemHashicorpInmem they use the in-memory transport and stores. The
// configuration is raft.DefaultConfig apart from the node id and logger.
func startHashicorp(system, dir string, logOutput io.Writer) (*hashicorpCluster, error) {
	setups, err := hashicorpSetups(system, dir)
	if err != nil {
		closeSetups(setups)
		return nil, err
	}
	var servers []raft.Server
	for _, s := range setups {
		servers = append(servers, raft.Server{ID: raft.ServerID(s.id), Address: s.trans.LocalAddr()})
	}
	c := &hashicorpCluster{}
	for i, s := range setups {
		conf := raft.DefaultConfig()
		conf.LocalID = raft.ServerID(s.id)
		conf.Logger = hclog.New(&hclog.LoggerOptions{Name: "raft-" + s.id, Level: hclog.Error, Output: logOutput})
		if err := raft.BootstrapCluster(conf, s.logs, s.stable, s.snaps, s.trans, raft.Configuration{Servers: servers}); err != nil {
			c.stop()
			closeSetups(setups[i:])
			return nil, fmt.Errorf("bootstrap %s: %w", s.id, err)
		}
		fsm := newKVFSM()
		r, err := raft.NewRaft(conf, fsm, s.logs, s.stable, s.snaps, s.trans)
		if err != nil {
			c.stop()
			closeSetups(setups[i:])
			return nil, fmt.Errorf("start %s: %w", s.id, err)
		}
		c.nodes = append(c.nodes, &hashicorpNode{raft: r, fsm: fsm, closers: s.closers})
	}
	return c, nil
}

// hashicorpSetups creates the transports and stores of the nodes. On error
// it returns those it created, for closeSetups.
func hashicorpSetups(system, dir string) ([]nodeSetup, error) {
	var setups []nodeSetup
	for i := range hashicorpNodes {
		s := nodeSetup{id: fmt.Sprintf("n%d", i+1)}
		if system == systemHashicorpInmem {
			_, trans := raft.NewInmemTransport("")
			store := raft.NewInmemStore()
			s.trans, s.logs, s.stable, s.snaps = trans, store, store, raft.NewInmemSnapshotStore()
			s.closers = append(s.closers, trans)
			setups = append(setups, s)
			continue
		}
		trans, err := raft.NewTCPTransport("127.0.0.1:0", nil, 3, 10*time.Second, io.Discard)
		if err != nil {
			return setups, err
		}
		s.trans = trans
		s.closers = append(s.closers, trans)
		setups = append(setups, s)
		// bbolt creates the file but not its directory.
		if err := os.MkdirAll(filepath.Join(dir, s.id), 0o700); err != nil {
			return setups, err
		}
		store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, s.id, "raft.db")})
		if err != nil {
			return setups, err
		}
		setups[i].closers = append(setups[i].closers, store)
		cache, err := raft.NewLogCache(logCacheSize, store)
		if err != nil {
			return setups, err
		}
		snaps, err := raft.NewFileSnapshotStore(filepath.Join(dir, s.id), 1, io.Discard)
		if err != nil {
			return setups, err
		}
		setups[i].logs, setups[i].stable, setups[i].snaps = cache, store, snaps
	}
	if system == systemHashicorpInmem {
		for _, a := range setups {
			for _, b := range setups {
				if a.id != b.id {
					a.trans.(*raft.InmemTransport).Connect(b.trans.LocalAddr(), b.trans)
				}
			}
		}
	}
	return setups, nil
}

func closeSetups(setups []nodeSetup) {
	for _, s := range setups {
		for _, c := range s.closers {
			_ = c.Close()
		}
	}
}

// stop shuts the nodes down and closes their transports and stores.
func (c *hashicorpCluster) stop() {
	for _, n := range c.nodes {
		_ = n.raft.Shutdown().Error()
		for _, cl := range n.closers {
			_ = cl.Close()
		}
	}
}

func (c *hashicorpCluster) leader() *raft.Raft {
	for _, n := range c.nodes {
		if n.raft.State() == raft.Leader {
			return n.raft
		}
	}
	return nil
}

func (c *hashicorpCluster) waitLeader(ctx context.Context) (*raft.Raft, error) {
	for {
		if r := c.leader(); r != nil {
			return r, nil
		}
		if !sleepContext(ctx, 10*time.Millisecond) {
			return nil, fmt.Errorf("no leader elected: %w", ctx.Err())
		}
	}
}

// converge waits until every node has applied the leader's commit index and
// holds the same digest. hashicorp/raft advances AppliedIndex when it hands
// entries to the FSM goroutine, before they are applied, so the digests are
// compared until they match or ctx ends.
func (c *hashicorpCluster) converge(ctx context.Context) (uint64, bool, error) {
	leader := c.leader()
	if leader == nil {
		return 0, false, errors.New("no leader after the load")
	}
	target := leader.CommitIndex()
	for {
		applied := true
		for _, n := range c.nodes {
			applied = applied && n.raft.AppliedIndex() >= target
		}
		if applied {
			first := c.nodes[0].fsm.digest()
			same := true
			for _, n := range c.nodes[1:] {
				same = same && n.fsm.digest() == first
			}
			if same {
				return target, true, nil
			}
		}
		if !sleepContext(ctx, 20*time.Millisecond) {
			return target, false, nil
		}
	}
}

// benchHashicorp runs the workload on a hashicorp/raft cluster, with
// clients calling raft.Apply on the leader in this process.
func benchHashicorp(ctx context.Context, system, dir string, cfg loadConfig, logOutput io.Writer) (runResult, error) {
	c, err := startHashicorp(system, dir, logOutput)
	if err != nil {
		return runResult{}, err
	}
	defer c.stop()
	leaderCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	_, err = c.waitLeader(leaderCtx)
	cancel()
	if err != nil {
		return runResult{}, err
	}

	load, err := runLoad(ctx, cfg, func(int) putFunc {
		leader := c.leader()
		return func(ctx context.Context, key string, value []byte) error {
			if leader == nil {
				if leader = c.leader(); leader == nil {
					return raft.ErrNotLeader
				}
			}
			err := leader.Apply(encodePut(key, value), 0).Error()
			if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
				leader = nil
			}
			return err
		}
	})
	if err != nil {
		return runResult{}, err
	}

	convergeCtx, cancel := context.WithTimeout(ctx, time.Minute)
	applied, same, err := c.converge(convergeCtx)
	cancel()
	if err != nil {
		return runResult{}, err
	}
	store := "boltdb"
	if system == systemHashicorpInmem {
		store = "inmem"
	}
	res := newRunResult(system, store, "local", hashicorpNodes, cfg, load)
	res.AppliedIndex = applied
	res.DigestsMatch = &same
	return res, nil
}
