package rafttest

import (
	"math/rand/v2"

	"github.com/natsraft/natsraft/raft"
)

// generator draws the next action from the cluster's state.
type generator struct {
	s   *Sim
	rng *rand.Rand
	// faultScale multiplies the weights of the faults (drop, duplicate,
	// reorder, cut and crash) and of proposals, one factor each, drawn per
	// schedule: schedules that stress one kind of fault find bugs that an
	// even mix dilutes ("swarm testing").
	dropScale, dupScale, reorderScale, cutScale, crashScale, proposeScale int
}

func newGenerator(s *Sim, seed uint64) *generator {
	g := &generator{s: s, rng: rand.New(rand.NewPCG(seed, 0xac710))}
	scale := func() int { return []int{0, 1, 1, 4}[g.rng.IntN(4)] }
	g.dropScale, g.dupScale, g.reorderScale = scale(), scale(), scale()
	g.cutScale, g.crashScale, g.proposeScale = scale(), scale(), 1+scale()
	return g
}

// Relative weights of the action kinds. Delivery also grows with the queue.
const (
	weightDeliver = 60
	weightReceive = 10
	weightTick    = 40
	weightSync    = 24
	weightPropose = 10
	weightRead    = 4
	weightDrop    = 4
	weightDup     = 2
	weightCut     = 2
	weightHeal    = 6
	weightCrash   = 1
	// weightCrashLeader and weightCutLeader add to weightCrash and
	// weightCut while a node leads.
	weightCrashLeader = 2
	weightCutLeader   = 2
	weightRestart     = 8
)

// clusterView sorts the nodes for the generator.
type clusterView struct {
	up, down, leaders, unsynced []string
}

func (g *generator) view() clusterView {
	var v clusterView
	for _, n := range g.s.nodes {
		switch {
		case n.core == nil:
			v.down = append(v.down, n.id)
			continue
		case n.core.Role() == raft.RoleLeader:
			v.leaders = append(v.leaders, n.id)
		}
		v.up = append(v.up, n.id)
		if len(n.st.pending) > 0 {
			v.unsynced = append(v.unsynced, n.id)
		}
	}
	return v
}

// choice is a possible next action and its weight.
type choice struct {
	weight int
	make   func() Action
}

// next draws the next action among those that apply to the cluster's
// state, by weight.
func (g *generator) next() Action {
	choices := g.choices(g.view())
	total := 0
	for _, c := range choices {
		total += c.weight
	}
	if total == 0 {
		return Action{Kind: ActHeal}
	}
	r := g.rng.IntN(total)
	for _, c := range choices {
		if r < c.weight {
			return c.make()
		}
		r -= c.weight
	}
	panic("unreachable")
}

// choices lists the actions that apply. Their order is part of each seed's
// schedule: changing it changes every schedule.
func (g *generator) choices(v clusterView) []choice {
	s := g.s
	queued := len(s.net.queue)
	var choices []choice
	add := func(weight int, make func() Action) { choices = append(choices, choice{weight, make}) }
	if len(v.up) > 0 {
		add(weightTick, func() Action { return Action{Kind: ActTick, Node: g.pick(v.up)} })
	}
	if queued > 0 {
		add(weightDeliver+2*min(queued, 60), func() Action { return g.message(ActDeliver) })
		add(weightDrop*g.dropScale, func() Action { return g.message(ActDrop) })
		add(weightDup*g.dupScale, func() Action { return g.message(ActDuplicate) })
	}
	if queued > 1 {
		add(weightReceive, func() Action {
			f := s.net.queue[g.rng.IntN(queued)]
			return Action{Kind: ActReceive, Node: f.to, Pos: 2 + g.rng.IntN(8)}
		})
	}
	if len(v.unsynced) > 0 {
		add(weightSync, func() Action { return Action{Kind: ActSync, Node: g.pick(v.unsynced)} })
	}
	if len(v.leaders) > 0 {
		add(weightPropose*g.proposeScale, func() Action { return Action{Kind: ActPropose, Node: g.pick(v.leaders)} })
		add(weightRead, func() Action { return Action{Kind: ActRead, Node: g.pick(v.leaders)} })
	}
	if len(s.net.cut) > 0 {
		add(weightHeal, func() Action { return Action{Kind: ActHeal} })
	} else {
		add(weightCut*g.cutScale, g.cut)
	}
	if len(v.down) < (len(s.nodes)+1)/2 && len(v.up) > 0 {
		add(weightCrash*g.crashScale, func() Action { return Action{Kind: ActCrash, Node: g.pick(v.up)} })
		if len(v.leaders) > 0 {
			// Leader changes exercise elections, log repair and the
			// commitment of earlier terms' entries, so leaders crash
			// more often than other nodes.
			add(weightCrashLeader*g.crashScale, func() Action { return Action{Kind: ActCrash, Node: g.pick(v.leaders)} })
		}
	}
	if len(v.leaders) > 0 && len(s.net.cut) == 0 {
		add(weightCutLeader*g.cutScale, func() Action { return Action{Kind: ActCut, Node: g.pick(v.leaders)} })
	}
	if len(v.down) > 0 {
		add(weightRestart, func() Action { return Action{Kind: ActRestart, Node: g.pick(v.down)} })
	}
	return choices
}

func (g *generator) pick(ids []string) string { return ids[g.rng.IntN(len(ids))] }

// message picks a queued message: mostly the oldest of a random link, and
// now and then a later one, which reorders the link.
func (g *generator) message(kind ActionKind) Action {
	links := g.s.net.links(false)
	l := links[g.rng.IntN(len(links))]
	pos := 0
	if g.reorderScale > 0 && g.rng.IntN(16) < g.reorderScale {
		pos = g.rng.IntN(g.s.net.count(l))
	}
	return Action{Kind: kind, From: l.from, To: l.to, Pos: pos}
}

// cut isolates a node, or cuts one link in one or both directions.
func (g *generator) cut() Action {
	ids := g.s.ids
	a := g.pick(ids)
	switch g.rng.IntN(3) {
	case 0:
		return Action{Kind: ActCut, Node: a}
	default:
		b := g.pick(ids)
		for b == a {
			b = g.pick(ids)
		}
		return Action{Kind: ActCut, From: a, To: b, Both: g.rng.IntN(2) == 0}
	}
}
