package server

import (
	"time"

	"github.com/tidwall/redcon"
	"go.uber.org/zap"

	"github.com/raftcache/raftcache/acl"
	"github.com/raftcache/raftcache/resp"
)

// ACL users as the server enforces them (see acl/DESIGN.md).
//
// The users are the backend's (Backend.ACL): on a node, one set that shard
// 0's Raft group replicates, so ACL SETUSER, DELUSER and LOAD and CONFIG
// SET requirepass are proposed there (Backend.ProposeACL) and answered
// once this node applied them; every node then enforces the same rules.
// The ACL LOG, GENPASS and SAVE are node-local, as in Redis.
//
// Each connection keeps its user and the users' version it read it at; a
// command re-reads the user when the version moved, so a changed user's
// rules apply from the connection's next command. A connection whose user
// was deleted is closed within a tenth of a second (closeDeletedUsers), or
// at its next command if that comes first.
//
// The check runs where Redis 7.2 runs it: after NOAUTH and the no-multi
// refusal, before the cluster redirect and OOM; again for every queued
// command at EXEC; and for every command of a pipelined run.

func init() {
	serverHandlers["acl"] = cmdACL
}

// users returns the ACL users the server enforces.
func (s *Server) users() *acl.Users { return s.backend.ACL() }

// startUser gives a new (or RESET) connection the default user.
func (s *Server) startUser(c *client) {
	users := s.users()
	c.userVersion = users.Version()
	c.user.Store(users.Default())
}

// setUser records the user a connection authenticated as.
func (s *Server) setUser(c *client, u *acl.User) {
	c.userVersion = s.users().Version()
	c.user.Store(u)
}

// userOf returns the connection's user, re-read if the users changed
// since it was read; nil when the user was deleted.
func (s *Server) userOf(c *client) *acl.User {
	users := s.users()
	if v := users.Version(); v != c.userVersion {
		c.userVersion = v
		if u := c.user.Load(); u != nil {
			c.user.Store(users.User(u.Name()))
		}
	}
	return c.user.Load()
}

// closeDeletedUsers closes the connections whose user was deleted (ACL
// DELUSER, or ACL LOAD of a file without it, on any node: the change
// arrives through shard 0's log), as Redis kills them, within a tenth of
// a second; a connection that sends a command first is closed then
// (aclDenied). It returns when the server closes.
func (s *Server) closeDeletedUsers() {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	seen := s.users().Version()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		users := s.users()
		v := users.Version()
		if v == seen {
			continue
		}
		seen = v
		s.mu.Lock()
		for _, c := range s.clients {
			if u := c.user.Load(); u != nil && users.User(u.Name()) == nil {
				c.kill()
			}
		}
		s.mu.Unlock()
	}
}

// userName is the name CLIENT LIST shows for the connection's user.
func (c *client) userName() string {
	if u := c.user.Load(); u != nil {
		return u.Name()
	}
	return acl.DefaultUser
}

// aclDenied checks the command of p against the connection's user. It
// returns the reply for a refused command (and logs the refusal) and
// true, or false when the command may run.
func (s *Server) aclDenied(c *client, p *plan, args [][]byte) (resp.Reply, bool) {
	u := s.userOf(c)
	if u == nil {
		// The user was deleted: Redis closes its connections.
		c.aborted = true
		c.kill()
		return resp.ErrNoAuth.Reply(), true
	}
	d := u.Check(p.cmd, p.sub, args)
	if d == nil {
		return resp.Reply{}, false
	}
	ctx := acl.ContextToplevel
	if c.multi != nil {
		ctx = acl.ContextMulti
	}
	s.logDenial(c, d, ctx)
	return d.Err().Reply(), true
}

// logDenial records a refused command in the ACL LOG.
func (s *Server) logDenial(c *client, d *acl.Denial, ctx acl.Context) {
	now := time.Now()
	s.aclLog.Add(d.Event(ctx, c.info(now)), now)
}

// execDenied is EXEC's check of a queued command: the user's rules may
// have changed since it was queued. It returns the command's place in
// EXEC's reply when it is refused.
func (s *Server) execDenied(c *client, q *queuedCmd) (resp.Reply, bool) {
	u := s.userOf(c)
	if u == nil {
		return resp.ErrNoAuth.Reply(), true
	}
	d := u.Check(q.cmd, q.sub, q.args)
	if d == nil {
		return resp.Reply{}, false
	}
	s.logDenial(c, d, acl.ContextMulti)
	return d.ExecErr().Reply(), true
}

// authenticate logs the connection in as user with password, as AUTH and
// HELLO ... AUTH do; a failure is logged in the ACL LOG (object is the
// command as the client spelled it) and leaves the connection as it was.
func (s *Server) authenticate(c *client, object, user, password []byte) bool {
	u := s.users().Authenticate(user, password)
	if u == nil {
		now := time.Now()
		s.aclLog.Add(acl.Event{Reason: acl.ReasonAuth, Context: acl.ContextToplevel, Object: string(object),
			Username: string(user), ClientInfo: c.info(now)}, now)
		return false
	}
	s.setUser(c, u)
	c.setAuthenticated()
	return true
}

// proposeACL replicates an ACL change and answers with its reply.
func (s *Server) proposeACL(op acl.Op) resp.Reply {
	r, err := s.backend.ProposeACL(s.ctx, op.Encode())
	if err != nil {
		return s.backendError(err, 0)
	}
	return r
}

// aclHelp is ACL HELP: Redis's header, the subcommands, and HELP.
var aclHelp = append(append([]string{"ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"}, acl.Help...),
	"HELP", "    Print this help.")

func cmdACL(s *Server, _ redcon.Conn, c *client, _, sub *resp.Command, a [][]byte) resp.Reply {
	users := s.users()
	switch sub.Name {
	case "setuser":
		op, err := users.PrepareSetUser(a[2], a[3:])
		if err != nil {
			return acl.ErrorReply(err)
		}
		return s.proposeACL(op)
	case "deluser":
		return s.proposeACL(acl.DelUserOp(a[2:]))
	case "getuser":
		return users.GetUser(a[2])
	case "list":
		return stringsReply(users.List())
	case "users":
		return stringsReply(users.Names())
	case "whoami":
		return resp.BulkString(c.userName())
	case "cat":
		return acl.CatReply(a[2:])
	case "dryrun":
		return users.DryRun(a[2], a[3:])
	case "genpass":
		bits := int64(256)
		if len(a) > 2 {
			n, ok := resp.ParseInt(a[2])
			if !ok {
				return resp.ErrNotInteger.Reply()
			}
			bits = n
		}
		if bits <= 0 || bits > 4096 {
			return acl.ErrGenPassBits.Reply()
		}
		pass, err := acl.GenPass(int(bits))
		if err != nil {
			return acl.ErrorReply(err)
		}
		return resp.BulkString(pass)
	case "log":
		if len(a) > 3 {
			return resp.ErrSyntax.Reply()
		}
		count := int64(10)
		if len(a) == 3 {
			if resp.EqualFold(a[2], "reset") {
				s.aclLog.Reset()
				return resp.OK
			}
			n, ok := resp.ParseInt(a[2])
			if !ok {
				return resp.ErrNotInteger.Reply()
			}
			count = n
		}
		return s.aclLog.Reply(int(min(count, 1<<20)), time.Now())
	case "save":
		if s.cfg.ACLFile == "" {
			return acl.ErrNoACLFile.Reply()
		}
		if err := users.SaveFile(s.cfg.ACLFile); err != nil {
			s.log.Warn("ACL SAVE failed", zap.String("aclfile", s.cfg.ACLFile), zap.Error(err))
			return acl.ErrSaveFailed.Reply()
		}
		return resp.OK
	case "load":
		if s.cfg.ACLFile == "" {
			return acl.ErrNoACLFile.Reply()
		}
		data, err := acl.ReadFile(s.cfg.ACLFile)
		if err != nil {
			return acl.ErrorReply(err)
		}
		// Checked here first, so that a bad file is refused without a
		// trip through the log (applying it would refuse it the same).
		if err := acl.New().Load(s.cfg.ACLFile, data); err != nil {
			return acl.ErrorReply(err)
		}
		return s.proposeACL(acl.LoadOp(s.cfg.ACLFile, data))
	case "help":
		return helpReply(aclHelp)
	}
	return resp.ErrUnknownSubcommand(a[0], a[1]).Reply()
}

// stringsReply is an array of bulk strings.
func stringsReply(list []string) resp.Reply {
	out := make([]resp.Reply, len(list))
	for i, s := range list {
		out[i] = resp.BulkString(s)
	}
	return resp.Array(out...)
}
