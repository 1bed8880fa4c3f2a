package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// jetStreamServers is the size of the JetStream cluster and the replica
// count of the key-value bucket.
const jetStreamServers = 3

// jetStreamBucket is the key-value bucket the writers put to.
const jetStreamBucket = "bench"

// jetStreamCluster is three nats-servers with JetStream, clustered over
// routes on 127.0.0.1, in this process.
type jetStreamCluster struct {
	servers []*server.Server
}

// freePorts returns n TCP ports on 127.0.0.1 that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// startJetStream starts the cluster with each server's JetStream store in
// its own directory under dir. syncAlways sets the servers' SyncAlways
// option ("sync_interval: always" in a configuration file), which syncs the
// store on every write. Otherwise the servers sync on their default
// interval, 2 minutes in nats-server v2.15.3.
func startJetStream(dir string, syncAlways bool) (*jetStreamCluster, error) {
	ports, err := freePorts(jetStreamServers)
	if err != nil {
		return nil, err
	}
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	c := &jetStreamCluster{}
	for i, port := range ports {
		name := fmt.Sprintf("js%d", i+1)
		opts := &server.Options{
			ServerName: name,
			Host:       "127.0.0.1",
			Port:       server.RANDOM_PORT,
			NoLog:      true,
			NoSigs:     true,
			JetStream:  true,
			StoreDir:   filepath.Join(dir, name),
			SyncAlways: syncAlways,
			Cluster:    server.ClusterOpts{Name: "bench", Host: "127.0.0.1", Port: port},
			Routes:     server.RoutesFromStr(strings.Join(routes, ",")),
		}
		s, err := server.NewServer(opts)
		if err != nil {
			c.stop()
			return nil, fmt.Errorf("configure %s: %w", name, err)
		}
		s.Start()
		c.servers = append(c.servers, s)
	}
	for _, s := range c.servers {
		if !s.ReadyForConnections(10 * time.Second) {
			c.stop()
			return nil, fmt.Errorf("nats-server %s not ready after 10s", s.Name())
		}
	}
	return c, nil
}

func (c *jetStreamCluster) stop() {
	for _, s := range c.servers {
		s.Shutdown()
	}
	for _, s := range c.servers {
		s.WaitForShutdown()
	}
}

// connect opens an in-process connection to server i, as the natsraft
// nodes and clients connect to their embedded server.
func (c *jetStreamCluster) connect(i int) (*nats.Conn, error) {
	return nats.Connect(c.servers[i].ClientURL(), nats.InProcessServer(c.servers[i]), nats.Name("compare jetstream client"))
}

// createBucket creates the bucket with 3 replicas, retrying while the
// cluster elects its meta leader, and returns the name of the server that
// leads the bucket's stream.
func (c *jetStreamCluster) createBucket(ctx context.Context) (string, error) {
	nc, err := c.connect(0)
	if err != nil {
		return "", err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return "", err
	}
	cfg := jetstream.KeyValueConfig{Bucket: jetStreamBucket, Replicas: jetStreamServers, History: 1, Storage: jetstream.FileStorage}
	for {
		attemptCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = js.CreateKeyValue(attemptCtx, cfg)
		var leader string
		if err == nil {
			leader, err = streamLeader(attemptCtx, js)
		}
		cancel()
		if err == nil {
			return leader, nil
		}
		if !sleepContext(ctx, 200*time.Millisecond) {
			return "", fmt.Errorf("create key-value bucket with %d replicas: %w", jetStreamServers, err)
		}
	}
}

func streamLeader(ctx context.Context, js jetstream.JetStream) (string, error) {
	stream, err := js.Stream(ctx, "KV_"+jetStreamBucket)
	if err != nil {
		return "", err
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return "", err
	}
	if info.Cluster == nil || info.Cluster.Leader == "" {
		return "", errors.New("the bucket's stream has no leader yet")
	}
	return info.Cluster.Leader, nil
}

// benchJetStream runs the workload as kv.Put calls on one connection to the
// server that leads the bucket's stream, so no put takes an extra route
// hop to reach the leader.
func benchJetStream(ctx context.Context, syncAlways bool, dir string, cfg loadConfig, logOutput io.Writer) (runResult, error) {
	c, err := startJetStream(dir, syncAlways)
	if err != nil {
		return runResult{}, err
	}
	defer c.stop()
	setupCtx, cancel := context.WithTimeout(ctx, time.Minute)
	leader, err := c.createBucket(setupCtx)
	cancel()
	if err != nil {
		return runResult{}, err
	}
	index := 0
	for i, s := range c.servers {
		if s.Name() == leader {
			index = i
		}
	}
	fmt.Fprintf(logOutput, "jetstream: bucket %s leader %s\n", jetStreamBucket, leader)

	nc, err := c.connect(index)
	if err != nil {
		return runResult{}, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return runResult{}, err
	}
	kv, err := js.KeyValue(ctx, jetStreamBucket)
	if err != nil {
		return runResult{}, err
	}
	put := func(ctx context.Context, key string, value []byte) error {
		_, err := kv.Put(ctx, key, value)
		return err
	}
	load, err := runLoad(ctx, cfg, func(int) putFunc { return put })
	if err != nil {
		return runResult{}, err
	}
	store := "file, sync default"
	if syncAlways {
		store = "file, sync always"
	}
	return newRunResult(systemJetStream, store, "nats", jetStreamServers, cfg, load), nil
}
