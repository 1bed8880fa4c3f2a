package statemachine

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/statemachine/sessionwire"
)

// sessionLog builds a stream of log commands with increasing indexes.
type sessionLog struct {
	index uint64
}

// next returns the log command at the next index with the given time and
// data.
func (l *sessionLog) next(when int64, data []byte) raft.Command {
	l.index++
	return raft.Command{Index: l.index, Term: 1, Data: data, Time: when}
}

// applySessions applies cmds in one batch and decodes the results.
func applySessions(t *testing.T, s *Sessions, cmds ...raft.Command) []sessionwire.SessionResult {
	t.Helper()
	raw, err := s.Apply(cmds)
	require.NoError(t, err)
	require.Len(t, raw, len(cmds))
	results := make([]sessionwire.SessionResult, len(raw))
	for i, b := range raw {
		res, err := DecodeSessionResult(b)
		require.NoError(t, err)
		results[i] = res
	}
	return results
}

// kvResult decodes the inner key-value result of a session result.
func kvResult(t *testing.T, res sessionwire.SessionResult) string {
	t.Helper()
	r, err := DecodeResult(res.Result)
	require.NoError(t, err)
	require.Empty(t, r.Error)
	return string(r.Value)
}

// counterValue reads key from the KV inside s.
func counterValue(t *testing.T, s *Sessions, key string) (string, uint64) {
	t.Helper()
	out, err := s.Read(EncodeGet(key))
	require.NoError(t, err)
	res, err := DecodeResult(out)
	require.NoError(t, err)
	return string(res.Value), res.Revision
}

func incr(client string, seq, ack uint64) []byte {
	return EncodeSessionCommand(client, seq, ack, EncodeIncrement("counter", 1))
}

func TestSessionsRetryAppliedOnce(t *testing.T) {
	s := WithSessions(NewKV(), SessionOptions{})
	var l sessionLog

	first := applySessions(t, s, l.next(1, incr("c1", 1, 0)))
	// The reply was lost, and the client sends the same sequence again.
	retry := applySessions(t, s, l.next(2, incr("c1", 1, 0)))

	assert.Equal(t, sessionwire.StatusApplied, first[0].Status)
	assert.Equal(t, "1", kvResult(t, first[0]))
	assert.Equal(t, uint64(1), first[0].Index)
	assert.Equal(t, sessionwire.StatusDuplicate, retry[0].Status)
	assert.Equal(t, "1", kvResult(t, retry[0]), "a retry returns the recorded result")
	assert.Equal(t, uint64(1), retry[0].Index, "a retry reports the first application's index")
	value, revision := counterValue(t, s, "counter")
	assert.Equal(t, "1", value, "the counter after a retried increment")
	assert.Equal(t, uint64(1), revision)
}

func TestSessionsDuplicateInSameBatch(t *testing.T) {
	s := WithSessions(NewKV(), SessionOptions{})
	var l sessionLog

	results := applySessions(t, s,
		l.next(1, incr("c1", 1, 0)),
		l.next(1, incr("c1", 1, 0)),
		l.next(1, incr("c1", 2, 0)),
	)

	assert.Equal(t, sessionwire.StatusApplied, results[0].Status)
	assert.Equal(t, sessionwire.StatusDuplicate, results[1].Status)
	assert.Equal(t, "1", kvResult(t, results[1]))
	assert.Equal(t, sessionwire.StatusApplied, results[2].Status)
	assert.Equal(t, "2", kvResult(t, results[2]))
	value, _ := counterValue(t, s, "counter")
	assert.Equal(t, "2", value)
}

func TestSessionsWithoutClientIDApplyEveryTime(t *testing.T) {
	s := WithSessions(NewKV(), SessionOptions{})
	var l sessionLog
	cmd := EncodeSessionCommand("", 0, 0, EncodeIncrement("counter", 1))

	results := applySessions(t, s, l.next(1, cmd), l.next(1, cmd))

	assert.Equal(t, sessionwire.StatusApplied, results[0].Status)
	assert.Equal(t, sessionwire.StatusApplied, results[1].Status)
	assert.Equal(t, "2", kvResult(t, results[1]))
	assert.Equal(t, uint64(2), results[1].Index)
	assert.Zero(t, s.Len(), "commands without a client id create no session")
}

func TestSessionsAckDiscardsResults(t *testing.T) {
	s := WithSessions(NewKV(), SessionOptions{})
	var l sessionLog

	applySessions(t, s, l.next(1, incr("c1", 1, 0)), l.next(1, incr("c1", 2, 1)))
	_, table := s.Table()
	require.Len(t, table, 1)
	assert.Equal(t, []uint64{2}, table[0].Recorded, "ack 1 discards the result of sequence 1")
	assert.Equal(t, uint64(1), table[0].Acked)

	late := applySessions(t, s, l.next(1, incr("c1", 1, 0)))
	assert.Equal(t, sessionwire.StatusDiscarded, late[0].Status)
	assert.Contains(t, late[0].Message, "sequence 1 of client \"c1\"")
	assert.Empty(t, late[0].Result)
	value, _ := counterValue(t, s, "counter")
	assert.Equal(t, "2", value, "a discarded sequence is not applied again")
}

func TestSessionsRejectInvalidCommands(t *testing.T) {
	tests := []struct {
		name    string
		data    []byte
		message string
	}{
		{"not a session command", []byte{0xc1}, "invalid session command"},
		{"raw key-value command", EncodePut("k", []byte("v")), "invalid session command"},
		{"sequence zero", EncodeSessionCommand("c1", 0, 0, EncodeIncrement("counter", 1)), "sequence numbers start at 1"},
		{"ack not below sequence", EncodeSessionCommand("c1", 3, 3, EncodeIncrement("counter", 1)), "ack 3 is not below sequence 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := WithSessions(NewKV(), SessionOptions{})
			var l sessionLog
			results := applySessions(t, s, l.next(1, tt.data))
			assert.Equal(t, sessionwire.StatusInvalid, results[0].Status)
			assert.Contains(t, results[0].Message, tt.message)
			assert.Zero(t, s.Len(), "sessions after an invalid command")
			assert.Zero(t, s.Inner().(*KV).Len(), "keys after an invalid command")
		})
	}
}

func TestSessionsExpireAfterTTL(t *testing.T) {
	const ttl = time.Minute
	s := WithSessions(NewKV(), SessionOptions{TTL: ttl})
	var l sessionLog
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()

	applySessions(t, s, l.next(start, incr("old", 1, 0)), l.next(start+int64(ttl)/2, incr("young", 1, 0)))
	require.Equal(t, 2, s.Len())

	// Exactly TTL after its last command, a session still lives.
	applySessions(t, s, l.next(start+int64(ttl), EncodeSessionCommand("", 0, 0, EncodeGet("x"))))
	assert.Equal(t, 2, s.Len(), "sessions at exactly TTL")

	applySessions(t, s, l.next(start+int64(ttl)+1, EncodeSessionCommand("", 0, 0, EncodeGet("x"))))
	clock, table := s.Table()
	require.Len(t, table, 1, "sessions after the oldest expired")
	assert.Equal(t, "young", table[0].ClientID)
	assert.Equal(t, start+int64(ttl)+1, clock)

	// The expired client's next command acknowledges a reply, so the state
	// machine knows a session existed and rejects it.
	results := applySessions(t, s, l.next(start+int64(ttl)+2, incr("old", 2, 1)))
	assert.Equal(t, sessionwire.StatusSessionExpired, results[0].Status)
	assert.Contains(t, results[0].Message, `session of client "old" expired`)
	value, _ := counterValue(t, s, "counter")
	assert.Equal(t, "2", value, "a command of an expired session is not applied")
}

func TestSessionsClockNeverMovesBack(t *testing.T) {
	const ttl = time.Minute
	s := WithSessions(NewKV(), SessionOptions{TTL: ttl})
	var l sessionLog
	start := int64(1_000_000_000_000)

	applySessions(t, s, l.next(start, incr("a", 1, 0)), l.next(start+int64(ttl), incr("b", 1, 0)))
	// A new leader whose clock is two TTLs behind appends a command.
	applySessions(t, s, l.next(start-int64(ttl), incr("c", 1, 0)))

	clock, table := s.Table()
	assert.Equal(t, start+int64(ttl), clock, "the session clock after a command from a slower clock")
	require.Len(t, table, 3)
	assert.Equal(t, []string{"a", "b", "c"}, []string{table[0].ClientID, table[1].ClientID, table[2].ClientID})
	assert.Equal(t, clock, table[2].LastUsed, "a session used by the slower leader is stamped with the session clock")

	applySessions(t, s, l.next(start+int64(ttl)+1, EncodeSessionCommand("", 0, 0, EncodeGet("x"))))
	_, table = s.Table()
	assert.Len(t, table, 2, "only session a is older than TTL on the session clock")
}

func TestSessionsEvictLeastRecentlyUsed(t *testing.T) {
	s := WithSessions(NewKV(), SessionOptions{MaxSessions: 2})
	var l sessionLog

	applySessions(t, s, l.next(1, incr("a", 1, 0)), l.next(2, incr("b", 1, 0)), l.next(3, incr("a", 2, 1)))
	applySessions(t, s, l.next(4, incr("c", 1, 0)))

	_, table := s.Table()
	require.Len(t, table, 2)
	assert.Equal(t, "a", table[0].ClientID, "a was used after b")
	assert.Equal(t, "c", table[1].ClientID)
	results := applySessions(t, s, l.next(5, incr("b", 2, 1)))
	assert.Equal(t, sessionwire.StatusSessionExpired, results[0].Status, "a command of an evicted session")
}

func TestSessionsBoundRecordedResults(t *testing.T) {
	s := WithSessions(NewKV(), SessionOptions{MaxResultsPerSession: 2})
	var l sessionLog

	// Three commands in flight at once: none acknowledged yet.
	applySessions(t, s, l.next(1, incr("c1", 1, 0)), l.next(1, incr("c1", 2, 0)), l.next(1, incr("c1", 3, 0)))
	_, table := s.Table()
	require.Len(t, table, 1)
	assert.Equal(t, []uint64{2, 3}, table[0].Recorded)
	assert.Equal(t, uint64(1), table[0].Acked)

	results := applySessions(t, s, l.next(1, incr("c1", 1, 0)), l.next(1, incr("c1", 3, 0)))
	assert.Equal(t, sessionwire.StatusDiscarded, results[0].Status, "the dropped result")
	assert.Equal(t, sessionwire.StatusDuplicate, results[1].Status, "a result still recorded")
	value, _ := counterValue(t, s, "counter")
	assert.Equal(t, "3", value)
}

func TestSessionsReadPassesThrough(t *testing.T) {
	s := WithSessions(NewKV(), SessionOptions{})
	var l sessionLog
	applySessions(t, s, l.next(1, EncodeSessionCommand("c1", 1, 0, EncodePut("k", []byte("v")))))

	value, revision := counterValue(t, s, "k")
	assert.Equal(t, "v", value)
	assert.Equal(t, uint64(1), revision)
}

// failingInner is a state machine whose Apply fails.
type failingInner struct{ *KV }

var errInnerBroken = errors.New("inner state machine broken")

func (f *failingInner) Apply([]raft.Command) ([][]byte, error) { return nil, errInnerBroken }

// shortInner is a state machine whose Apply returns too few results.
type shortInner struct{ *KV }

func (f *shortInner) Apply([]raft.Command) ([][]byte, error) { return nil, nil }

func TestSessionsInnerApplyErrors(t *testing.T) {
	var l sessionLog
	s := WithSessions(&failingInner{KV: NewKV()}, SessionOptions{})
	_, err := s.Apply([]raft.Command{l.next(1, incr("c1", 1, 0))})
	assert.ErrorIs(t, err, errInnerBroken)

	s = WithSessions(&shortInner{KV: NewKV()}, SessionOptions{})
	_, err = s.Apply([]raft.Command{l.next(1, incr("c1", 1, 0))})
	assert.ErrorContains(t, err, "returned 0 results for 1 commands")

	// Commands that the inner state machine does not see never reach it.
	s = WithSessions(&failingInner{KV: NewKV()}, SessionOptions{})
	_, err = s.Apply([]raft.Command{l.next(1, []byte("garbage"))})
	assert.NoError(t, err)
}

func TestSessionsSnapshotRoundTrip(t *testing.T) {
	src := WithSessions(NewKV(), SessionOptions{})
	var l sessionLog
	applySessions(t, src,
		l.next(10, incr("a", 1, 0)),
		l.next(20, incr("b", 1, 0)),
		l.next(30, incr("b", 2, 0)),
		l.next(40, incr("a", 2, 1)),
	)
	var snap bytes.Buffer
	require.NoError(t, src.Snapshot(&snap))

	dst := WithSessions(NewKV(), SessionOptions{})
	require.NoError(t, dst.Restore(bytes.NewReader(snap.Bytes())))

	assert.Equal(t, src.Digest(), dst.Digest(), "session digest after restore")
	assert.Equal(t, src.Inner().(*KV).Digest(), dst.Inner().(*KV).Digest(), "key-value digest after restore")
	srcClock, srcTable := src.Table()
	dstClock, dstTable := dst.Table()
	assert.Equal(t, srcClock, dstClock)
	assert.Equal(t, srcTable, dstTable)

	// Both continue identically: a retry is a duplicate on both.
	next := []raft.Command{l.next(50, incr("b", 2, 0)), l.next(60, incr("c", 1, 0))}
	want := applySessions(t, src, next...)
	got := applySessions(t, dst, next...)
	assert.Equal(t, want, got)
	assert.Equal(t, sessionwire.StatusDuplicate, got[0].Status)

	var again bytes.Buffer
	require.NoError(t, dst.Snapshot(&again))
	var original bytes.Buffer
	require.NoError(t, src.Snapshot(&original))
	assert.Equal(t, original.Bytes(), again.Bytes(), "the same state gives the same snapshot bytes")
}

func TestSessionsRestoreRejectsDamage(t *testing.T) {
	src := WithSessions(NewKV(), SessionOptions{})
	var l sessionLog
	applySessions(t, src, l.next(10, incr("a", 1, 0)))
	var snap bytes.Buffer
	require.NoError(t, src.Snapshot(&snap))
	good := snap.Bytes()

	damaged := func(edit func(b []byte) []byte) []byte { return edit(bytes.Clone(good)) }
	tests := []struct {
		name  string
		data  []byte
		error string
	}{
		{"empty", nil, "truncated"},
		{"bad magic", damaged(func(b []byte) []byte { b[0] = 'X'; return b }), "not a snapshot of a state machine with sessions"},
		{"new version", damaged(func(b []byte) []byte { b[5] = 9; return b }), "version 9 is not supported"},
		{"flipped table byte", damaged(func(b []byte) []byte { b[sessionHeaderLen+2] ^= 0x40; return b }), "checksum mismatch"},
		{"truncated table", good[:sessionHeaderLen+3], "truncated"},
		{"damaged inner snapshot", damaged(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), "inner state machine"},
		{"raw key-value snapshot", kvSnapshot(t), "not a snapshot of a state machine with sessions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := WithSessions(NewKV(), SessionOptions{})
			var dl sessionLog
			applySessions(t, dst, dl.next(5, incr("keep", 1, 0)))
			before := dst.Digest()

			err := dst.Restore(bytes.NewReader(tt.data))
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidSnapshot)
			assert.ErrorContains(t, err, tt.error)
			assert.Equal(t, before, dst.Digest(), "sessions after a failed restore")
		})
	}
}

func TestSessionsRestoreReportsReadErrors(t *testing.T) {
	errDisk := errors.New("disk failed")
	dst := WithSessions(NewKV(), SessionOptions{})
	err := dst.Restore(io.MultiReader(bytes.NewReader([]byte("NR")), iotestErrReader{errDisk}))
	assert.ErrorIs(t, err, errDisk)
	assert.NotErrorIs(t, err, ErrInvalidSnapshot, "a read error is not damage")
}

// iotestErrReader returns err from every Read.
type iotestErrReader struct{ err error }

func (r iotestErrReader) Read([]byte) (int, error) { return 0, r.err }

// kvSnapshot returns the snapshot of a KV without sessions.
func kvSnapshot(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, NewKV().Snapshot(&b))
	return b.Bytes()
}

func TestSessionsRecordResultEvenIfUnused(t *testing.T) {
	s := WithSessions(NewKV(), SessionOptions{})
	var l sessionLog

	first := l.next(1, incr("c1", 1, 0))
	first.ResultUnused = true
	raw, err := s.Apply([]raft.Command{first})
	require.NoError(t, err)
	require.Len(t, raw, 1)
	assert.Nil(t, raw[0], "the session result of a command without a waiter")

	// The client retries on a node where it waits for the result.
	retry := applySessions(t, s, l.next(2, incr("c1", 1, 0)))
	assert.Equal(t, sessionwire.StatusDuplicate, retry[0].Status)
	assert.Equal(t, "1", kvResult(t, retry[0]), "a retry returns the result recorded without a waiter")
}
