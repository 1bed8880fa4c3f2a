package kvwire_test

import (
	"testing"

	"github.com/natsraft/natsraft/raft/wire/msgp/msgptest"
	"github.com/natsraft/natsraft/statemachine/kvwire"
)

// FuzzUnmarshal decodes arbitrary input as Command and Result and checks
// the decoder's guarantees with msgptest.CheckDecode. A node decodes every
// command it applies, so a malformed command must fail cleanly.
func FuzzUnmarshal(f *testing.F) {
	for k := kvwire.Kind(1); kvwire.NewMessage(k) != nil; k++ {
		m := kvwire.NewMessage(k)
		msgptest.Fill(m)
		f.Add(m.MarshalAppend(nil))
	}
	f.Add((&kvwire.Command{Op: kvwire.OpCompareAndSet, Key: "k", Expected: []byte("a"), Value: []byte("b")}).Marshal())
	f.Add((&kvwire.Result{Found: true, Revision: 1 << 40, Error: "x"}).Marshal())
	f.Fuzz(func(t *testing.T, data []byte) {
		for k := kvwire.Kind(1); kvwire.NewMessage(k) != nil; k++ {
			msgptest.CheckDecode(t, func() msgptest.Message { return kvwire.NewMessage(k) }, data)
		}
	})
}
