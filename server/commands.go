package server

import (
	"net"
	"strconv"
	"time"

	"github.com/tidwall/redcon"

	"github.com/raftcache/raftcache/resp"
)

func init() {
	for name, h := range map[string]serverHandler{
		"ping": cmdPing,
		"echo": func(_ *Server, _ redcon.Conn, _ *client, _, _ *resp.Command, a [][]byte) resp.Reply {
			return resp.Bulk(a[1])
		},
		"quit":   cmdQuit,
		"auth":   cmdAuth,
		"select": cmdSelect,
		"hello":  cmdHello,
		"info": func(s *Server, _ redcon.Conn, _ *client, _, _ *resp.Command, a [][]byte) resp.Reply {
			return s.cmdInfo(a)
		},
		"cluster": cmdCluster,
		"time":    cmdTime,
		"save":    cmdSave,
		"bgsave":  cmdSave,
		"lastsave": func(s *Server, _ redcon.Conn, _ *client, _, _ *resp.Command, _ [][]byte) resp.Reply {
			return resp.Int(s.lastSave.Load())
		},
		"wait":     cmdWait,
		"shutdown": cmdShutdown,
		"role":     cmdRole,
		// raftcache has one database, as Redis Cluster has, and answers
		// as Redis Cluster does.
		"swapdb": func(_ *Server, _ redcon.Conn, _ *client, _, _ *resp.Command, _ [][]byte) resp.Reply {
			return resp.ErrSwapDBCluster.Reply()
		},
	} {
		serverHandlers[name] = h
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
			return resp.ErrHelloProtoVersion.Reply()
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
			// Checked where it stands among the options, as Redis 7.0
			// does: a later bad option still leaves the client logged in.
			if !s.authenticate(c, a[0], a[j+1], a[j+2]) {
				return resp.ErrWrongPass.Reply()
			}
			j += 2
		case resp.EqualFold(a[j], "setname") && more >= 1:
			name = a[j+1]
			if !validName(name) {
				return resp.ErrClientNameChars.Reply()
			}
			j++
		default:
			return resp.ErrHelloOption(a[j]).Reply()
		}
	}
	if !c.authenticated() {
		return resp.ErrNoAuthHello.Reply()
	}
	if name != nil {
		c.setName(string(name))
	}
	if proto != 0 {
		c.setProto(proto)
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
	s.stats.saves.Add(1)
	if cmd.Name == "bgsave" {
		return resp.Simple("Background saving started")
	}
	return resp.OK
}

// cmdWait implements WAIT numreplicas timeout: the number of replicas
// holding every write this connection made so far, on the shards it wrote
// to. Inside a transaction it does not block, as in Redis.
func cmdWait(s *Server, _ redcon.Conn, c *client, _, _ *resp.Command, a [][]byte) resp.Reply {
	n, ok := resp.ParseInt(a[1])
	if !ok {
		return resp.ErrNotInteger.Reply()
	}
	ms, ok := resp.ParseInt(a[2])
	if !ok {
		return resp.ErrTimeoutNotInteger.Reply()
	}
	if ms < 0 {
		return resp.ErrTimeoutNegative.Reply()
	}
	want := int(max(min(n, 1<<31-1), 0))
	if c.inExec {
		want, ms = 0, 0
	}
	got, err := s.backend.WaitReplicas(c.ctx, c.wrote, want, time.Duration(ms)*time.Millisecond)
	if err != nil {
		return resp.ErrorReply(err)
	}
	return resp.Int(int64(got))
}

func cmdShutdown(*Server, redcon.Conn, *client, *resp.Command, *resp.Command, [][]byte) resp.Reply {
	return resp.ErrShutdownDisabled.Reply()
}

// cmdRole implements ROLE as INFO replication describes the node: a
// master (it leads a shard) lists the other nodes as its replicas, a node
// that leads no shard is a replica of shard 0's leader.
func cmdRole(s *Server, _ redcon.Conn, _ *client, _, _ *resp.Command, _ [][]byte) resp.Reply {
	if roleOf(s.backend.Status()) == "master" {
		var replicas []resp.Reply
		for _, p := range s.backend.Peers() {
			if p.ID == s.backend.NodeID() {
				continue
			}
			host, port, err := net.SplitHostPort(p.Addr)
			if err != nil {
				continue
			}
			replicas = append(replicas, resp.Array(resp.BulkString(host), resp.BulkString(port), resp.BulkString("0")))
		}
		return resp.Array(resp.BulkString("master"), resp.Int(0), resp.Array(replicas...))
	}
	state, host, port := "connect", "", int64(-1)
	if _, addr := s.backend.LeaderOf(0); addr != "" {
		if h, p, err := net.SplitHostPort(addr); err == nil {
			n, _ := strconv.ParseInt(p, 10, 64)
			state, host, port = "connected", h, n
		}
	}
	return resp.Array(resp.BulkString("slave"), resp.BulkString(host), resp.Int(port), resp.BulkString(state), resp.Int(0))
}
