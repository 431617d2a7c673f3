package server

import (
	"sync"

	"github.com/raftcache/raftcache/resp"
	"github.com/raftcache/raftcache/store"
)

// The command table as the server reads it, and the plan of one command.
//
// resp's table is the one registry of commands: names, arity, flags
// (write, deny-oom, admin, no-multi, ...), key positions and ACL
// categories. The server joins to it, by command ID, what it adds — its
// own handler for the commands it answers itself, whether the store runs
// the command, and the command's role in a transaction — and classify
// looks a command up once and computes its plan: the command and
// subcommand, how it is served, and for a data command its keys' slot and
// shard. dispatch, pipelined runs, the MULTI queue and the cluster-aware
// redirects all take the plan; none looks the command up again.

// serving is what the server adds to one command of resp's table.
type serving struct {
	// handler answers the command in the server; nil for a data command,
	// which is routed to the shard of its keys and run by the store.
	handler serverHandler
	// store: the store runs the command (store.Runs). A command with a
	// handler may also be one the store runs: the keyspace-wide commands
	// (below) and MEMORY, whose USAGE subcommand is routed by its key.
	store bool
	// txControl: the command runs at once inside MULTI, as Redis's
	// processCommand lets it through; every other command is queued.
	txControl bool
	// wide: a server command that reads or changes every shard. Inside a
	// transaction it can only be atomic when the node has a single shard;
	// then it joins the transaction's batch as a store command.
	wide bool
}

// txControlCommands and keyspaceWideCommands name the commands with those
// roles (see serving).
var (
	txControlCommands    = []string{"exec", "discard", "multi", "watch", "quit", "reset"}
	keyspaceWideCommands = []string{"dbsize", "flushall", "flushdb", "keys", "randomkey", "scan"}
)

// serverHandlers is filled by the init functions of the files that define
// the handlers, by command name; the joined table takes them from there.
var serverHandlers = map[string]serverHandler{}

// joinedTable returns the server's part of the command table, indexed by
// resp.Command.ID. It is built once, on first use, after every init
// function has registered its handlers.
var joinedTable = sync.OnceValue(func() []serving {
	t := make([]serving, resp.NumCommands())
	for name, h := range serverHandlers {
		t[mustLookup(name).ID].handler = h
	}
	for _, cmd := range resp.Commands() {
		t[cmd.ID].store = store.Runs(cmd)
	}
	for _, name := range txControlCommands {
		t[mustLookup(name).ID].txControl = true
	}
	for _, name := range keyspaceWideCommands {
		t[mustLookup(name).ID].wide = true
	}
	return t
})

// mustLookup finds a command the server names in its own tables; a name
// resp's table lacks is a programming error.
func mustLookup(name string) *resp.Command {
	cmd := resp.Lookup([]byte(name))
	if cmd == nil {
		panic("server: no command " + name + " in resp's table")
	}
	return cmd
}

// servingOf returns how the server serves cmd, a top-level command.
func servingOf(cmd *resp.Command) *serving { return &joinedTable()[cmd.ID] }

// runsInMulti reports whether the command named name runs at once inside
// MULTI rather than being queued.
func runsInMulti(name []byte) bool {
	cmd := resp.Lookup(name)
	return cmd != nil && servingOf(cmd).txControl
}

// plan is what the server decided about one command, once.
type plan struct {
	// cmd is the top-level command; sub the subcommand of a container
	// (CLIENT SETNAME), else nil.
	cmd, sub *resp.Command
	serving  *serving
	// keyed is the command whose key positions route a data command: the
	// subcommand when it has keys (OBJECT ENCODING key), else cmd.
	keyed *resp.Command
	// write: the command (or its subcommand) may change the keyspace.
	write bool
	// A data command's routing (see routeKeys): the slot and shard of its
	// first key, shard -1 when it has no keys, and whether another of its
	// keys lies in another shard. Its key positions are in the client's
	// keyPos until the next command is classified.
	slot, shard int
	spans       bool
}

// flags are the flags that govern the command: the subcommand's for a
// container command, else the command's.
func (p *plan) flags() resp.Flag {
	if p.sub != nil {
		return p.sub.Flags
	}
	return p.cmd.Flags
}

// name is the command's name as Redis reports it in statistics and
// errors: "get", or "client|setname" for a subcommand.
func (p *plan) name() string {
	if p.sub != nil {
		return p.sub.FullName
	}
	return p.cmd.Name
}

// data reports whether the command is routed to the store by its keys.
func (p *plan) data() bool { return p.serving.handler == nil && p.serving.store }

// classify looks args up in the command table, checks arity as Redis
// does (the command's, then the subcommand's), and computes the plan. On
// a refusal it returns the error reply and ok false, with p.cmd and p.sub
// set as far as the lookup got (statistics count the error against them).
func (s *Server) classify(c *client, args [][]byte) (p plan, refusal resp.Reply, ok bool) {
	if len(args) == 0 {
		return p, resp.ErrUnknownCommand([][]byte{{}}).Reply(), false
	}
	p.cmd = resp.Lookup(args[0])
	if p.cmd == nil {
		return p, resp.ErrUnknownCommand(args).Reply(), false
	}
	if !p.cmd.CheckArity(len(args)) {
		return p, resp.ErrWrongArgs(p.cmd.Name).Reply(), false
	}
	if p.cmd.Subcommands != nil && len(args) > 1 { // bare COMMAND has no subcommand
		p.sub = p.cmd.LookupSub(args[1])
		if p.sub == nil {
			return p, resp.ErrUnknownSubcommand(args[0], args[1]).Reply(), false
		}
		if !p.sub.CheckArity(len(args)) {
			return p, resp.ErrWrongArgs(p.sub.FullName).Reply(), false
		}
	}
	p.serving = servingOf(p.cmd)
	p.keyed = p.cmd
	if p.sub != nil && p.sub.FirstKey > 0 {
		p.keyed = p.sub
	}
	p.write = p.cmd.IsWrite() || p.sub != nil && p.sub.IsWrite()
	p.shard = -1
	if p.data() {
		s.routeKeys(c, &p, args)
	}
	return p, resp.Reply{}, true
}

// routeKeys fills the routing of p, whose keys are located by p.keyed:
// the key positions into c.keyPos, the first key's slot and shard, and
// whether the keys span shards.
func (s *Server) routeKeys(c *client, p *plan, args [][]byte) {
	c.keyPos = p.keyed.KeyPositions(c.keyPos[:0], len(args))
	p.shard, p.spans = -1, false
	if len(c.keyPos) == 0 {
		return
	}
	p.slot = store.SlotOf(args[c.keyPos[0]])
	p.shard = s.backend.ShardOfSlot(p.slot)
	for _, i := range c.keyPos[1:] {
		if s.backend.ShardOfSlot(store.SlotOf(args[i])) != p.shard {
			p.spans = true
			return
		}
	}
}

// routePlan is the plan of a data command that a server command routes
// on its own (MEMORY USAGE key): cmd, whose key positions route it.
func (s *Server) routePlan(c *client, cmd *resp.Command, args [][]byte) plan {
	p := plan{cmd: cmd, keyed: cmd, write: cmd.IsWrite(), serving: &routedByServer}
	s.routeKeys(c, &p, args)
	return p
}

// routedByServer is how a data command a server command routes is served.
var routedByServer = serving{store: true}

// errNoRouteKey answers a data command that has no key to route by in
// the arguments given (a subcommand of a container without keys).
func errNoRouteKey(cmd *resp.Command) resp.Reply { return resp.ErrNoRouteKey(cmd.Name).Reply() }
