package rafttest

import (
	"fmt"
	"strconv"
	"strings"
)

// ActionKind is the type of an Action.
type ActionKind uint8

// Action kinds. Deliver, Drop and Duplicate act on one queued message: the
// Pos-th (0 is the oldest) on the link From->To. A Pos above 0 delivers a
// message out of order.
const (
	// ActDeliver removes a message from the network and hands it to its
	// recipient. It is lost if the link is cut or the recipient is down.
	ActDeliver ActionKind = iota + 1
	// ActDrop removes a message from the network.
	ActDrop
	// ActDuplicate hands a copy of a message to its recipient and leaves
	// the message queued.
	ActDuplicate
	// ActTick advances Node's clock by one tick.
	ActTick
	// ActSync makes Node's pending writes durable and releases the
	// messages that waited for them.
	ActSync
	// ActCut cuts the link From->To, or both directions when Both is set,
	// or every link of Node when Node is set.
	ActCut
	// ActHeal restores every cut link.
	ActHeal
	// ActCrash stops Node and discards its unsynced writes.
	ActCrash
	// ActRestart starts a crashed Node from its durable state.
	ActRestart
	// ActPropose proposes a command with Data on Node (a name is generated
	// when Data is empty).
	ActPropose
	// ActRead starts a linearizable read on Node.
	ActRead
	// ActReceive hands Node its Pos oldest queued messages, from any
	// sender, before it handles one Ready for all of them, as the runtime's
	// node loop does with the messages waiting in its inbox.
	ActReceive
)

// Action is one input to a Sim.
type Action struct {
	Kind     ActionKind
	Node     string
	From, To string
	Pos      int
	Both     bool
	Data     string
}

// isFault reports whether the action injects a fault: a lost, duplicated or
// reordered message, a cut link or a crash.
func (a Action) isFault() bool {
	switch a.Kind {
	case ActDrop, ActDuplicate, ActCut, ActCrash:
		return true
	case ActDeliver:
		return a.Pos > 0
	}
	return false
}

// String returns the action as a scenario script command.
func (a Action) String() string {
	sel := fmt.Sprintf("%s->%s #%d", a.From, a.To, a.Pos)
	switch a.Kind {
	case ActDeliver:
		return "deliver " + sel
	case ActDrop:
		return "drop " + sel
	case ActDuplicate:
		return "dup " + sel
	case ActTick:
		return "tick " + a.Node
	case ActSync:
		return "sync " + a.Node
	case ActCut:
		switch {
		case a.Node != "":
			return "cut " + a.Node
		case a.Both:
			return "cut " + a.From + "-" + a.To
		}
		return "cut " + a.From + "->" + a.To
	case ActHeal:
		return "heal"
	case ActCrash:
		return "crash " + a.Node
	case ActRestart:
		return "restart " + a.Node
	case ActPropose:
		if a.Data == "" {
			return "propose " + a.Node
		}
		return "propose " + a.Node + " " + a.Data
	case ActRead:
		return "read " + a.Node
	case ActReceive:
		return fmt.Sprintf("receive %s %d", a.Node, a.Pos)
	}
	return fmt.Sprintf("action(%d)", a.Kind)
}

// FormatActions returns actions as script commands, one a line, with runs of
// ticks of one node merged into "tick NODE COUNT".
func FormatActions(actions []Action) string {
	var b strings.Builder
	for i := 0; i < len(actions); {
		a := actions[i]
		j := i + 1
		if a.Kind == ActTick {
			for j < len(actions) && actions[j] == a {
				j++
			}
		}
		b.WriteString(a.String())
		if n := j - i; n > 1 {
			b.WriteString(" " + strconv.Itoa(n))
		}
		b.WriteByte('\n')
		i = j
	}
	return b.String()
}

// parseLink parses "n1->n2" (one way) or "n1-n2" (both ways).
func parseLink(s string) (from, to string, both, ok bool) {
	if f, t, found := strings.Cut(s, "->"); found && f != "" && t != "" {
		return f, t, false, true
	}
	if f, t, found := strings.Cut(s, "-"); found && f != "" && t != "" {
		return f, t, true, true
	}
	return "", "", false, false
}
