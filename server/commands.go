package server

import (
	"slices"
	"strconv"
	"time"

	"github.com/tidwall/redcon"

	"github.com/raftcache/raftcache/resp"
	"github.com/raftcache/raftcache/store"
)

func init() {
	serverHandlers = map[string]serverHandler{
		"ping": cmdPing,
		"echo": func(_ *Server, _ redcon.Conn, _ *client, _, _ *resp.Command, a [][]byte) resp.Reply {
			return resp.Bulk(a[1])
		},
		"quit":   cmdQuit,
		"select": cmdSelect,
		"hello":  cmdHello,
		"client": func(s *Server, conn redcon.Conn, c *client, _, sub *resp.Command, a [][]byte) resp.Reply {
			return s.cmdClient(conn, c, sub, a)
		},
		"command": cmdCommand,
		"info": func(s *Server, _ redcon.Conn, _ *client, _, _ *resp.Command, a [][]byte) resp.Reply {
			return s.cmdInfo(a)
		},
		"cluster":  cmdCluster,
		"dbsize":   cmdDBSize,
		"flushall": cmdFlushAll,
		"flushdb":  cmdFlushAll,
		"time":     cmdTime,
		"save":     cmdSave,
		"bgsave":   cmdSave,
		"lastsave": func(s *Server, _ redcon.Conn, _ *client, _, _ *resp.Command, _ [][]byte) resp.Reply {
			return resp.Int(s.lastSave.Load())
		},
	}
}

func cmdPing(_ *Server, _ redcon.Conn, _ *client, _, _ *resp.Command, a [][]byte) resp.Reply {
	if len(a) > 2 {
		return resp.ErrWrongArgs("ping").Reply()
	}
	if len(a) == 2 {
		return resp.Bulk(a[1])
	}
	return resp.Pong
}

func cmdQuit(_ *Server, _ redcon.Conn, c *client, _, _ *resp.Command, _ [][]byte) resp.Reply {
	c.quit = true
	return resp.OK
}

// cmdSelect accepts database 0 only: raftcache, like Redis Cluster, has
// one database.
func cmdSelect(_ *Server, _ redcon.Conn, _ *client, _, _ *resp.Command, a [][]byte) resp.Reply {
	n, ok := resp.ParseInt(a[1])
	if !ok || n < -1<<31 || n > 1<<31-1 {
		return resp.ErrNotInteger.Reply()
	}
	if n != 0 {
		return resp.ErrSelectCluster.Reply()
	}
	return resp.OK
}

func cmdHello(s *Server, _ redcon.Conn, c *client, _, _ *resp.Command, a [][]byte) resp.Reply {
	proto := 0
	next := 1
	if len(a) >= 2 {
		v, ok := resp.ParseInt(a[1])
		if !ok {
			return resp.NewError("ERR Protocol version is not an integer or out of range").Reply()
		}
		if v < 2 || v > 3 {
			return resp.ErrProtoVersion.Reply()
		}
		proto = int(v)
		next = 2
	}
	var name []byte
	for j := next; j < len(a); j++ {
		more := len(a) - 1 - j
		switch {
		case resp.EqualFold(a[j], "auth") && more >= 2:
			// No password is configured: any credentials for the default
			// user are accepted, as Redis does with nopass.
			j += 2
		case resp.EqualFold(a[j], "setname") && more >= 1:
			name = a[j+1]
			if !validName(name) {
				return errClientName.Reply()
			}
			j++
		default:
			return resp.NewError("ERR Syntax error in HELLO option '" + string(a[j]) + "'").Reply()
		}
	}
	if name != nil {
		c.setName(string(name))
	}
	if proto != 0 {
		c.proto = proto
	}
	return resp.Map(
		resp.BulkString("server"), resp.BulkString("redis"),
		resp.BulkString("version"), resp.BulkString(RedisVersion),
		resp.BulkString("proto"), resp.Int(int64(c.proto)),
		resp.BulkString("id"), resp.Int(c.id),
		resp.BulkString("mode"), resp.BulkString("cluster"),
		resp.BulkString("role"), resp.BulkString("master"),
		resp.BulkString("modules"), resp.EmptyArr,
	)
}

func cmdCommand(_ *Server, _ redcon.Conn, _ *client, _, sub *resp.Command, a [][]byte) resp.Reply {
	if len(a) == 1 {
		cmds := sortedCommands()
		out := make([]resp.Reply, len(cmds))
		for i, c := range cmds {
			out[i] = c.InfoReply()
		}
		return resp.Array(out...)
	}
	switch sub.Name {
	case "count":
		return resp.Int(int64(len(resp.Commands())))
	case "list":
		cmds := sortedCommands()
		out := make([]resp.Reply, 0, len(cmds))
		for _, c := range cmds {
			out = append(out, resp.BulkString(c.Name))
		}
		return resp.Array(out...)
	case "info":
		if len(a) == 2 {
			return cmdCommand(nil, nil, nil, nil, nil, a[:1])
		}
		out := make([]resp.Reply, 0, len(a)-2)
		for _, name := range a[2:] {
			if c := lookupFull(name); c != nil {
				out = append(out, c.InfoReply())
			} else {
				out = append(out, resp.NullArr)
			}
		}
		return resp.Array(out...)
	case "docs":
		var cmds []*resp.Command
		if len(a) == 2 {
			cmds = sortedCommands()
		} else {
			for _, name := range a[2:] {
				if c := lookupFull(name); c != nil {
					cmds = append(cmds, c)
				}
			}
		}
		out := make([]resp.Reply, 0, 2*len(cmds))
		for _, c := range cmds {
			out = append(out, resp.BulkString(c.FullName), c.DocsReply())
		}
		return resp.Map(out...)
	case "getkeys":
		c := resp.Lookup(a[2])
		if c == nil {
			return resp.NewError("ERR Invalid command specified").Reply()
		}
		if !c.CheckArity(len(a) - 2) {
			return resp.NewError("ERR Invalid number of arguments specified for command").Reply()
		}
		pos := c.KeyPositions(nil, len(a)-2)
		if len(pos) == 0 {
			return resp.NewError("ERR The command has no key arguments").Reply()
		}
		out := make([]resp.Reply, len(pos))
		for i, p := range pos {
			out[i] = resp.Bulk(a[2+p])
		}
		return resp.Array(out...)
	}
	return resp.ErrUnknownSubcommand(a[0], a[1]).Reply()
}

// lookupFull finds "name" or "container|sub".
func lookupFull(name []byte) *resp.Command {
	for i, ch := range name {
		if ch == '|' {
			c := resp.Lookup(name[:i])
			if c == nil {
				return nil
			}
			return c.LookupSub(name[i+1:])
		}
	}
	return resp.Lookup(name)
}

func sortedCommands() []*resp.Command {
	cmds := resp.Commands()
	slices.SortFunc(cmds, func(a, b *resp.Command) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return cmds
}

// cmdDBSize adds up the key counts of every shard, read linearizably.
func cmdDBSize(s *Server, _ redcon.Conn, _ *client, _, _ *resp.Command, a [][]byte) resp.Reply {
	var total int64
	for shard := 0; shard < s.backend.NumShards(); shard++ {
		r, err := s.backend.Read(s.ctx, shard, a)
		if err != nil {
			return s.backendError(err, s.firstSlotOf(shard))
		}
		if r.Kind != resp.KindInt {
			return r
		}
		total += r.Int
	}
	return resp.Int(total)
}

// cmdFlushAll empties every shard, one Raft entry per shard.
func cmdFlushAll(s *Server, _ redcon.Conn, _ *client, _, _ *resp.Command, a [][]byte) resp.Reply {
	if len(a) > 2 || (len(a) == 2 && !resp.EqualFold(a[1], "sync") && !resp.EqualFold(a[1], "async")) {
		return resp.ErrSyntax.Reply()
	}
	for shard := 0; shard < s.backend.NumShards(); shard++ {
		replies, err := s.backend.Propose(s.ctx, shard, [][][]byte{a})
		if err != nil {
			return s.backendError(err, s.firstSlotOf(shard))
		}
		if replies[0].IsError() {
			return replies[0]
		}
	}
	return resp.OK
}

func (s *Server) firstSlotOf(shard int) int {
	for slot := 0; slot < store.NumSlots; slot++ {
		if s.backend.ShardOfSlot(slot) == shard {
			return slot
		}
	}
	return 0
}

func cmdTime(_ *Server, _ redcon.Conn, _ *client, _, _ *resp.Command, _ [][]byte) resp.Reply {
	now := time.Now()
	return resp.Array(
		resp.BulkString(strconv.FormatInt(now.Unix(), 10)),
		resp.BulkString(strconv.FormatInt(int64(now.Nanosecond()/1000), 10)),
	)
}

// cmdSave takes a Raft snapshot of every shard; SAVE and BGSAVE both wait
// for it, since a snapshot does not stop writes.
func cmdSave(s *Server, _ redcon.Conn, _ *client, cmd, _ *resp.Command, _ [][]byte) resp.Reply {
	for shard := 0; shard < s.backend.NumShards(); shard++ {
		if err := s.backend.Snapshot(s.ctx, shard); err != nil {
			return resp.ErrorReply(err)
		}
	}
	s.lastSave.Store(time.Now().Unix())
	if cmd.Name == "bgsave" {
		return resp.Simple("Background saving started")
	}
	return resp.OK
}
