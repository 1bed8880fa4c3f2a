package rafttest

import (
	"fmt"
	"strings"
)

// A scenario script is a list of blocks. Each block is a command line,
// a line "----", and the command's expected output up to the next blank
// line. Lines starting with '#' and blank lines before a command are
// comments. A command whose output is empty expects "ok".
//
// Commands (NODE is n1, n2, ...; SEL selects queued messages, see below):
//
//	init [nodes=N] [seed=S] [election=E] [heartbeat=H] [prevote=BOOL] [max-entries=M] [inflight=I] [broadcast=BOOL]
//	setlog NODE term=T TERM...   give a node a durable log with these entry terms
//	campaign NODE                tick NODE until it starts an election
//	tick NODE|all [COUNT]
//	sync NODE|all                make pending writes durable, release waiting messages
//	propose NODE [DATA...]       one proposal per DATA (a generated name if none)
//	read NODE                    start a linearizable read
//	receive NODE COUNT           hand NODE its COUNT oldest messages, then handle one Ready
//	deliver [SEL]                deliver the selected messages (all not held if no SEL), once each
//	drop SEL | dup SEL           drop, or deliver a copy of, the selected messages
//	hold FROM->TO | release [FROM->TO]
//	cut NODE | cut FROM->TO | cut A-B | heal
//	crash NODE | restart NODE
//	stabilize                    sync and deliver until nothing is left, without ticks
//	settle                       heal, restart, tick until a leader commits on every node
//	log NODE|all | status | queue | progress NODE
//
// SEL is FROM->TO (either may be *), optionally followed by a message kind
// (prevote, vote, prevote-resp, vote-resp, append, append-resp, timeout-now)
// and by #K to pick only the K-th matching message, 0 being the oldest.
// An explicit SEL delivers from held links too.

// scriptBlock is one command of a script and its expected output.
type scriptBlock struct {
	pre  []string // comment and blank lines before the command
	cmd  string
	line int // line number of cmd, from 1
	want []string
	got  []string
}

// ScriptMismatch is a command whose output differs from the expected one.
type ScriptMismatch struct {
	Line      int
	Command   string
	Want, Got string
}

// ScriptResult is the outcome of RunScript.
type ScriptResult struct {
	// Rewritten is the script with every expected output replaced by the
	// actual one.
	Rewritten string
	// Mismatches lists the commands whose output differs.
	Mismatches []ScriptMismatch
	// Violation is the first invariant violation, or nil.
	Violation *Violation
}

// RunScript runs a scenario script and compares each command's output with
// the expected one. A command that fails shows "error: " and the error as
// its output. RunScript returns an error only for a malformed script.
func RunScript(src string) (*ScriptResult, error) {
	blocks, trailing, err := parseScript(src)
	if err != nil {
		return nil, err
	}
	r := &scriptRunner{}
	res := &ScriptResult{}
	for i := range blocks {
		b := &blocks[i]
		out, err := r.run(b.cmd)
		if err != nil {
			// An invalid command shows its error as its output, so that a
			// rewrite keeps the script's shape and the error is easy to see.
			out = append(out, "error: "+err.Error())
		}
		if r.sim != nil && r.sim.Violation() != nil && res.Violation == nil {
			res.Violation = r.sim.Violation()
			out = append(out, "VIOLATION: "+res.Violation.Error())
		}
		if len(out) == 0 {
			out = []string{"ok"}
		}
		b.got = out
		if strings.Join(b.got, "\n") != strings.Join(b.want, "\n") {
			res.Mismatches = append(res.Mismatches, ScriptMismatch{Line: b.line, Command: b.cmd,
				Want: strings.Join(b.want, "\n"), Got: strings.Join(b.got, "\n")})
		}
	}
	res.Rewritten = formatScript(blocks, trailing)
	return res, nil
}

func parseScript(src string) ([]scriptBlock, []string, error) {
	lines := strings.Split(strings.TrimSuffix(src, "\n"), "\n")
	var blocks []scriptBlock
	var pre []string
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			pre = append(pre, line)
			continue
		}
		b := scriptBlock{pre: pre, cmd: strings.TrimSpace(line), line: i + 1}
		pre = nil
		if i+1 >= len(lines) || lines[i+1] != "----" {
			return nil, nil, fmt.Errorf("line %d: command %q is not followed by a line \"----\"", i+1, b.cmd)
		}
		i += 2
		for ; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
			b.want = append(b.want, lines[i])
		}
		i-- // the blank line, if any, belongs to the next block's comments
		blocks = append(blocks, b)
	}
	return blocks, pre, nil
}

func formatScript(blocks []scriptBlock, trailing []string) string {
	var b strings.Builder
	for _, blk := range blocks {
		for _, l := range blk.pre {
			b.WriteString(l + "\n")
		}
		b.WriteString(blk.cmd + "\n----\n")
		for _, l := range blk.got {
			b.WriteString(l + "\n")
		}
	}
	for _, l := range trailing {
		b.WriteString(l + "\n")
	}
	return b.String()
}
