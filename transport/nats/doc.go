// Package natstransport carries a Raft cluster's traffic over core NATS: the
// peer messages between nodes (Transport), the client requests a node serves
// (ClientServer, ServeNode) and the client that sends them (Client). Messages
// are encoded by the generated codecs of package wire.
//
// # Subjects
//
// Every subject starts with a configurable prefix (default "natsraft") and
// the cluster id, so one wildcard subscription or one NATS permission on
// "<prefix>.<cluster>.>" covers a cluster:
//
//	<prefix>.<cluster>.<node>.vote                  VoteRequest
//	<prefix>.<cluster>.<node>.vote.resp             VoteResponse
//	<prefix>.<cluster>.<node>.append                AppendEntriesRequest
//	<prefix>.<cluster>.<node>.append.resp           AppendEntriesResponse
//	<prefix>.<cluster>.<node>.snapshot              InstallSnapshotRequest
//	<prefix>.<cluster>.<node>.snapshot.resp         InstallSnapshotResponse
//	<prefix>.<cluster>.<node>.timeout_now           TimeoutNowRequest
//	<prefix>.<cluster>.all.append                   AppendEntriesRequest to every node
//	<prefix>.<cluster>.<node>.client.propose        ProposeRequest to one node
//	<prefix>.<cluster>.<node>.client.propose_batch  ProposeBatchRequest to one node
//	<prefix>.<cluster>.<node>.client.read           ReadRequest to one node
//	<prefix>.<cluster>.<node>.client.status         StatusRequest to one node
//	<prefix>.<cluster>.client.propose               ProposeRequest to the leader (queue group "leader")
//	<prefix>.<cluster>.client.propose_batch         ProposeBatchRequest to the leader (queue group "leader")
//	<prefix>.<cluster>.client.read                  ReadRequest to the leader (queue group "leader")
//	<prefix>.<cluster>.client.status                StatusRequest to every node
//
// <node> is the recipient: a peer message goes to the receiver's subjects,
// and a response goes back to the original sender's subjects. Peer messages
// are published without reply subjects; client requests use NATS
// request/reply. With raft.Config.Broadcast set, a leader whose followers
// are all in step publishes new entries once on the "all" subject, which
// every node subscribes to and NATS fans out; the message's recipient is
// empty, and each follower answers on the leader's own subject. The tokens "client" and "all" are reserved and
// cannot be node ids.
//
// # What the package does not do
//
// It never opens or closes a NATS connection: every constructor takes the
// application's *nats.Conn, so authentication, TLS and reconnect settings
// stay the application's, and Close releases only the subscriptions it made.
// Package embedded starts an in-process server for tests and demos.
//
// It implements no Raft rule. It checks only that a peer message is for this
// cluster and node and comes from a known peer, and delivers at most once,
// like core NATS: Raft itself tolerates lost, duplicated and reordered
// messages. Batching, flow control and the split of large batches and
// snapshots into messages that fit the max payload belong to the caller.
package natstransport
