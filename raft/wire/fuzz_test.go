package wire_test

import (
	"testing"

	"github.com/natsraft/natsraft/raft/wire"
	"github.com/natsraft/natsraft/raft/wire/msgp/msgptest"
)

// FuzzUnmarshal decodes arbitrary input as every message type and checks
// the decoder's guarantees with msgptest.CheckDecode: no panic, only errors
// wrapping ErrMalformed, stable re-encoding, and limits that reject with
// ErrTooLarge or change nothing. The seeds are a filled message of every
// type and examples from the other tests.
func FuzzUnmarshal(f *testing.F) {
	for k := wire.Kind(1); wire.NewMessage(k) != nil; k++ {
		m := wire.NewMessage(k)
		msgptest.Fill(m)
		f.Add(m.MarshalAppend(nil))
	}
	f.Add(appendEntries(3).Marshal())
	f.Add(emptyEntries(20))
	f.Add([]byte{0x81, 0x63, 0xc7, 0x01, 0x05, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		for k := wire.Kind(1); wire.NewMessage(k) != nil; k++ {
			msgptest.CheckDecode(t, func() msgptest.Message { return wire.NewMessage(k) }, data)
		}
	})
}
