package rafttest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
)

// scriptRunner runs script commands on one Sim.
type scriptRunner struct {
	sim *Sim
}

// run runs one command and returns its output lines.
func (r *scriptRunner) run(cmd string) ([]string, error) {
	fields := strings.Fields(cmd)
	name, args := fields[0], fields[1:]
	if name == "init" {
		return nil, r.init(args)
	}
	if r.sim == nil {
		return nil, fmt.Errorf("the script must start with init")
	}
	s := r.sim
	messages := name == "deliver" || name == "drop" || name == "dup" || name == "receive"
	s.trace = &tracer{messages: messages}
	defer func() { s.trace = nil }()
	out, err := r.dispatch(name, args)
	return append(s.trace.lines, out...), err
}

func (r *scriptRunner) dispatch(name string, args []string) ([]string, error) {
	s := r.sim
	switch name {
	case "setlog":
		return r.setLog(args)
	case "campaign":
		return nil, r.campaign(args)
	case "tick":
		return nil, r.tick(args)
	case "sync":
		return nil, r.eachNode(args, func(id string) error { return s.Do(Action{Kind: ActSync, Node: id}) })
	case "propose":
		return nil, r.propose(args)
	case "read":
		return nil, r.single(args, ActRead)
	case "receive":
		return nil, r.receive(args)
	case "crash":
		return nil, r.single(args, ActCrash)
	case "restart":
		return nil, r.single(args, ActRestart)
	case "deliver", "drop", "dup":
		return nil, r.messages(name, args)
	case "hold", "release":
		return nil, r.hold(name == "hold", args)
	case "cut":
		return nil, r.cut(args)
	case "heal":
		return nil, s.Do(Action{Kind: ActHeal})
	case "stabilize":
		return nil, s.Stabilize()
	case "settle":
		return nil, s.Settle()
	case "log":
		return r.log(args)
	case "status":
		return strings.Split(s.Status(), "\n"), nil
	case "queue":
		return strings.Split(s.Queue(), "\n"), nil
	case "progress":
		return r.progress(args)
	}
	return nil, fmt.Errorf("unknown command %q", name)
}

func (r *scriptRunner) init(args []string) error {
	if r.sim != nil {
		return fmt.Errorf("init may appear only once")
	}
	cfg := Config{PreVote: true}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return fmt.Errorf("invalid argument %q: use key=value", a)
		}
		if k == "prevote" || k == "broadcast" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("invalid %s %q: use true or false", k, v)
			}
			if k == "prevote" {
				cfg.PreVote = b
			} else {
				cfg.Broadcast = b
			}
			continue
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return fmt.Errorf("invalid %s %q: use a non-negative integer", k, v)
		}
		switch k {
		case "nodes":
			cfg.Nodes = int(n)
		case "seed":
			cfg.Seed = n
		case "election":
			cfg.ElectionTicks = int(n)
		case "heartbeat":
			cfg.HeartbeatTicks = int(n)
		case "max-entries":
			cfg.MaxEntriesPerMessage = int(n)
		case "inflight":
			cfg.MaxInflight = int(n)
		case "inflight-bytes":
			cfg.MaxInflightBytes = n
		default:
			return fmt.Errorf("unknown init key %q", k)
		}
	}
	s, err := NewSim(cfg)
	if err != nil {
		return err
	}
	r.sim = s
	return nil
}

// nodeArg returns the node named by args[0], which must be the only
// argument unless more is set.
func (r *scriptRunner) nodeArg(args []string, more bool) (*node, error) {
	if len(args) == 0 || (!more && len(args) > 1) {
		return nil, fmt.Errorf("expected a node id, got %q", strings.Join(args, " "))
	}
	return r.sim.node(args[0])
}

func (r *scriptRunner) single(args []string, kind ActionKind) error {
	n, err := r.nodeArg(args, false)
	if err != nil {
		return err
	}
	return r.sim.Do(Action{Kind: kind, Node: n.id})
}

// eachNode calls do for the node named in args, or for every node if it is
// "all".
func (r *scriptRunner) eachNode(args []string, do func(id string) error) error {
	if len(args) == 1 && args[0] == "all" {
		for _, id := range r.sim.ids {
			if err := do(id); err != nil {
				return err
			}
		}
		return nil
	}
	n, err := r.nodeArg(args, false)
	if err != nil {
		return err
	}
	return do(n.id)
}

func (r *scriptRunner) tick(args []string) error {
	count := 1
	if len(args) == 2 {
		c, err := strconv.Atoi(args[1])
		if err != nil || c < 1 {
			return fmt.Errorf("invalid tick count %q: use a positive integer", args[1])
		}
		count, args = c, args[:1]
	}
	for i := 0; i < count; i++ {
		if err := r.eachNode(args, func(id string) error { return r.sim.Do(Action{Kind: ActTick, Node: id}) }); err != nil {
			return err
		}
	}
	return nil
}

// campaign ticks a node until it starts an election or a pre-vote poll, at
// most two election timeouts.
func (r *scriptRunner) campaign(args []string) error {
	n, err := r.nodeArg(args, false)
	if err != nil {
		return err
	}
	if n.core == nil {
		return fmt.Errorf("%s is down", n.id)
	}
	for i := 0; i < 2*r.sim.cfg.ElectionTicks; i++ {
		requests := r.voteRequests(n)
		if err := r.sim.Do(Action{Kind: ActTick, Node: n.id}); err != nil {
			return err
		}
		if r.voteRequests(n) > requests {
			kind := "an election"
			term := n.core.Term()
			if n.core.Role() == raft.RolePreCandidate {
				kind, term = "a pre-vote poll", term+1
			}
			r.sim.tracef(traceEvent, "%s started %s for term %d", n.id, kind, term)
			return nil
		}
		if n.core.Role() == raft.RoleLeader {
			return nil // a single node elects itself
		}
	}
	return fmt.Errorf("%s did not campaign within %d ticks (role %v)", n.id, 2*r.sim.cfg.ElectionTicks, n.core.Role())
}

// voteRequests counts the vote requests n has queued or sent, and that are
// not delivered yet.
func (r *scriptRunner) voteRequests(n *node) int {
	count := 0
	isRequest := func(m wire.Message) bool { _, ok := m.(*wire.VoteRequest); return ok }
	for _, f := range r.sim.net.queue {
		if f.from == n.id && isRequest(f.msg) {
			count++
		}
	}
	for _, w := range n.st.pending {
		for _, env := range w.messages {
			if isRequest(env.Msg) {
				count++
			}
		}
	}
	return count
}

func (r *scriptRunner) receive(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: receive NODE COUNT")
	}
	n, err := r.nodeArg(args[:1], false)
	if err != nil {
		return err
	}
	count, err := strconv.Atoi(args[1])
	if err != nil || count < 1 {
		return fmt.Errorf("invalid count %q: use a positive integer", args[1])
	}
	return r.sim.Do(Action{Kind: ActReceive, Node: n.id, Pos: count})
}

func (r *scriptRunner) propose(args []string) error {
	n, err := r.nodeArg(args, true)
	if err != nil {
		return err
	}
	if len(args) == 1 {
		return r.sim.Do(Action{Kind: ActPropose, Node: n.id})
	}
	for _, data := range args[1:] {
		if err := r.sim.Do(Action{Kind: ActPropose, Node: n.id, Data: data}); err != nil {
			return err
		}
	}
	return nil
}

// setLog replaces a node's durable state with a log of the given terms and
// restarts it on that state. The node must have no unsynced writes.
func (r *scriptRunner) setLog(args []string) ([]string, error) {
	n, err := r.nodeArg(args, true)
	if err != nil {
		return nil, err
	}
	if len(args) < 2 || !strings.HasPrefix(args[1], "term=") {
		return nil, fmt.Errorf("usage: setlog NODE term=T TERM...")
	}
	term, err := strconv.ParseUint(strings.TrimPrefix(args[1], "term="), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("invalid %q: use term=N", args[1])
	}
	if len(n.st.pending) > 0 {
		return nil, fmt.Errorf("%s has unsynced writes: sync it first", n.id)
	}
	var log hashedLog
	for i, a := range args[2:] {
		t, err := strconv.ParseUint(a, 10, 64)
		if err != nil || t == 0 || t > term {
			return nil, fmt.Errorf("invalid entry term %q: use 1 to %d", a, term)
		}
		if err := log.append([]wire.Entry{{Index: uint64(i + 1), Term: t}}); err != nil {
			return nil, err
		}
	}
	n.st = storage{hardState: wire.HardState{Term: term}, durable: log, view: log.clone(), viewHS: wire.HardState{Term: term}}
	r.sim.check.logChanged(n.id, "durable log", &n.st.durable, 1)
	if err := r.sim.startCore(n); err != nil {
		return nil, err
	}
	return r.log(args[:1])
}

func (r *scriptRunner) log(args []string) ([]string, error) {
	var out []string
	err := r.eachNode(args, func(id string) error {
		l, err := r.sim.Log(id)
		out = append(out, strings.Split(l, "\n")...)
		return err
	})
	return out, err
}

// progress returns a leader's match index for each follower.
func (r *scriptRunner) progress(args []string) ([]string, error) {
	n, err := r.nodeArg(args, false)
	if err != nil {
		return nil, err
	}
	if n.core == nil || n.core.Role() != raft.RoleLeader {
		return []string{n.id + " is not the leader"}, nil
	}
	parts := []string{}
	for _, id := range r.sim.ids {
		if id != n.id {
			parts = append(parts, fmt.Sprintf("%s match=%d", id, n.core.Match(id)))
		}
	}
	return []string{fmt.Sprintf("%s progress in term %d: %s", n.id, n.core.Term(), strings.Join(parts, ", "))}, nil
}

func (r *scriptRunner) cut(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: cut NODE | cut FROM->TO | cut A-B")
	}
	if from, to, both, ok := parseLink(args[0]); ok {
		return r.sim.Do(Action{Kind: ActCut, From: from, To: to, Both: both})
	}
	return r.sim.Do(Action{Kind: ActCut, Node: args[0]})
}

func (r *scriptRunner) hold(hold bool, args []string) error {
	s := r.sim
	if !hold && len(args) == 0 {
		s.net.held = map[link]bool{}
		return nil
	}
	from, to, both, ok := "", "", false, len(args) == 1
	if ok {
		from, to, both, ok = parseLink(args[0])
	}
	if !ok || both {
		return fmt.Errorf("usage: hold FROM->TO | release [FROM->TO]")
	}
	for _, id := range []string{from, to} {
		if _, err := s.node(id); err != nil {
			return err
		}
	}
	s.net.held[link{from, to}] = hold
	if !hold {
		delete(s.net.held, link{from, to})
	}
	return nil
}

// selection is a parsed SEL argument.
type selection struct {
	from, to string // "*" matches any node
	kind     string // "" matches any kind
	pos      int    // -1 selects every matching message
}

func parseSelection(args []string) (selection, error) {
	sel := selection{from: "*", to: "*", pos: -1}
	if len(args) == 0 {
		return sel, nil
	}
	from, to, both, ok := parseLink(args[0])
	if !ok || both {
		return sel, fmt.Errorf("invalid link %q: use FROM->TO, where either may be *", args[0])
	}
	sel.from, sel.to = from, to
	for _, a := range args[1:] {
		switch {
		case strings.HasPrefix(a, "#"):
			p, err := strconv.Atoi(a[1:])
			if err != nil || p < 0 {
				return sel, fmt.Errorf("invalid position %q: use #0, #1, ...", a)
			}
			sel.pos = p
		case slices.Contains(messageKinds, a):
			sel.kind = a
		default:
			return sel, fmt.Errorf("invalid selector %q: use a message kind (%s) or #K", a, strings.Join(messageKinds, ", "))
		}
	}
	return sel, nil
}

func (sel selection) matches(f flight) bool {
	return (sel.from == "*" || sel.from == f.from) && (sel.to == "*" || sel.to == f.to) &&
		(sel.kind == "" || messageKind(f.msg) == sel.kind)
}

// messages delivers, drops or duplicates the selected messages, each once,
// in sending order. Without a selector it skips held links.
func (r *scriptRunner) messages(name string, args []string) error {
	s := r.sim
	if len(args) == 0 && name != "deliver" {
		return fmt.Errorf("%s needs a selector FROM->TO", name)
	}
	sel, err := parseSelection(args)
	if err != nil {
		return err
	}
	var ids []uint64
	for _, f := range s.net.queue {
		if sel.matches(f) && (len(args) > 0 || !s.net.held[link{f.from, f.to}]) {
			ids = append(ids, f.id)
		}
	}
	if sel.pos >= 0 {
		if sel.pos >= len(ids) {
			return fmt.Errorf("no message #%d matches %s (%d do)", sel.pos, strings.Join(args, " "), len(ids))
		}
		ids = ids[sel.pos : sel.pos+1]
	}
	kind := map[string]ActionKind{"deliver": ActDeliver, "drop": ActDrop, "dup": ActDuplicate}[name]
	for _, id := range ids {
		a, ok := s.actionFor(id, kind)
		if !ok {
			continue // already gone
		}
		if err := s.Do(a); err != nil {
			return err
		}
	}
	return nil
}

// actionFor returns the action that acts on the queued message with id.
func (s *Sim) actionFor(id uint64, kind ActionKind) (Action, bool) {
	i := slices.IndexFunc(s.net.queue, func(f flight) bool { return f.id == id })
	if i < 0 {
		return Action{}, false
	}
	f := s.net.queue[i]
	pos := slices.Index(s.net.positions(link{f.from, f.to}, ""), i)
	return Action{Kind: kind, From: f.from, To: f.to, Pos: pos}, true
}
