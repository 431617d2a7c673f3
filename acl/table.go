package acl

import (
	"slices"
	"strings"
	"sync"

	"github.com/raftcache/raftcache/resp"
)

// categories are Redis 7.2's ACL categories in its order: the order of
// ACL CAT and of the category bits below.
var categories = []string{"keyspace", "read", "write", "set", "sortedset", "list",
	"hash", "string", "bitmap", "hyperloglog", "geo", "stream", "pubsub", "admin",
	"fast", "slow", "blocking", "dangerous", "connection", "transaction", "scripting"}

// categoryBit returns the bit of a category named without its '@',
// ignoring case as Redis does, or 0.
func categoryBit(name string) uint32 {
	for i, c := range categories {
		if strings.EqualFold(c, name) {
			return 1 << i
		}
	}
	return 0
}

// table is what the ACL code reads of resp's command table, indexed by
// resp.Command.ID: every command and subcommand, its parent, and its
// categories as bits.
type table struct {
	cmds   []*resp.Command
	parent []*resp.Command
	cats   []uint32
	words  int // uint64 words of a command bitmap
}

// commandTable is built once, after resp's init has registered every
// command.
var commandTable = sync.OnceValue(func() *table {
	n := resp.NumCommands()
	t := &table{cmds: make([]*resp.Command, n), parent: make([]*resp.Command, n),
		cats: make([]uint32, n), words: (n + 63) / 64}
	for id := 0; id < n; id++ {
		c := resp.ByID(id)
		t.cmds[id] = c
		for _, cat := range c.ACL {
			t.cats[id] |= categoryBit(cat)
		}
		for _, sub := range c.Subcommands {
			t.parent[sub.ID] = c
		}
	}
	return t
})

// lookup finds a command as Redis's ACLLookupCommand does: "name" or
// "container|sub", ignoring case; a '|' after a command without
// subcommands, or more than one '|', finds nothing.
func (t *table) lookup(name string) *resp.Command {
	if name == "" {
		return nil
	}
	parts := strings.Split(name, "|")
	if len(parts) > 2 {
		return nil
	}
	base := resp.Lookup([]byte(parts[0]))
	if len(parts) == 1 || base == nil {
		return base
	}
	if base.Subcommands == nil {
		return nil
	}
	return base.LookupSub([]byte(parts[1]))
}

// subcommands returns the subcommands of c in ID order.
func subcommands(c *resp.Command) []*resp.Command {
	out := make([]*resp.Command, 0, len(c.Subcommands))
	for _, s := range c.Subcommands {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *resp.Command) int { return a.ID - b.ID })
	return out
}
