package wire_test

import (
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/natsraft/natsraft/raft/wire"
	"github.com/natsraft/natsraft/statemachine/kvwire"
)

// spacedHex formats b as lower-case hex pairs separated by spaces, as the
// protocol document writes encodings.
func spacedHex(b []byte) string {
	pairs := make([]string, len(b))
	for i, c := range b {
		pairs[i] = hex.EncodeToString([]byte{c})
	}
	return strings.Join(pairs, " ")
}

// TestProtocolDocExamples checks the example encodings that the template
// of docs/protocol.md spells out by hand against the codecs.
func TestProtocolDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/protocol.md")
	if err != nil {
		t.Fatalf("read the protocol document: %v", err)
	}
	text := string(doc)

	propose := (&wire.ProposeRequest{Cluster: "c1", Command: []byte("hi")}).Marshal()
	// The document writes this example as a code block of annotated lines:
	// the hex bytes, two spaces, then a description.
	_, after, ok := strings.Cut(text, "For example, the ProposeRequest")
	if !ok {
		t.Fatal("the document has no ProposeRequest example")
	}
	_, block, _ := strings.Cut(after, "```\n")
	block, _, _ = strings.Cut(block, "```")
	var pairs []string
	for _, line := range strings.Split(strings.TrimSpace(block), "\n") {
		hexPart, _, _ := strings.Cut(line, "  ")
		pairs = append(pairs, strings.Fields(hexPart)...)
	}
	if got := strings.Join(pairs, " "); got != spacedHex(propose) {
		t.Errorf("ProposeRequest example in the document is %q, the codec writes %q", got, spacedHex(propose))
	}

	put := (&kvwire.Command{Op: kvwire.OpPut, Key: "k", Value: []byte("v")}).Marshal()
	if want := "`" + spacedHex(put) + "`"; !strings.Contains(text, want) {
		t.Errorf("the document lacks the put Command example %s", want)
	}
}
