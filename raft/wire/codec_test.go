package wire_test

import (
	"testing"

	"github.com/natsraft/natsraft/raft/wire"
	"github.com/natsraft/natsraft/raft/wire/msgp/msgptest"
)

func TestMessageCodecs(t *testing.T) {
	n := 0
	for k := wire.Kind(1); wire.NewMessage(k) != nil; k++ {
		n++
		t.Run(k.String(), func(t *testing.T) {
			msgptest.CheckCodec(t, func() msgptest.Message { return wire.NewMessage(k) })
		})
	}
	if n != 18 {
		t.Fatalf("NewMessage knows %d kinds, want the 18 messages of schema/raft.schema", n)
	}
}
