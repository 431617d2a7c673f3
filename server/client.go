package server

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"

	"github.com/raftcache/raftcache/resp"
)

// CLIENT and RESET: the commands about the connections themselves.

func init() {
	serverHandlers["client"] = func(s *Server, _ redcon.Conn, c *client, _, sub *resp.Command, a [][]byte) resp.Reply {
		return s.cmdClient(c, sub, a)
	}
	serverHandlers["reset"] = func(s *Server, _ redcon.Conn, c *client, _, _ *resp.Command, _ [][]byte) resp.Reply {
		c.reset()
		// As Redis's RESET, log the connection back in as the default
		// user: it stays authenticated only when no password is set.
		s.startUser(c)
		if g, _ := c.netConn.(*guardConn); g != nil {
			g.authed = !s.users().AuthRequired()
		}
		return resp.Simple("RESET")
	}
}

// reset puts the connection back in its initial state, as Redis's RESET
// does: no transaction, no watched keys, no name, RESP2, replies on, the
// no-evict, no-touch and READONLY modes off, and no longer cluster-aware.
// The library name and version stay.
func (c *client) reset() {
	c.clusterAware = false
	c.setReadOnly(false)
	if c.multi != nil {
		c.endMulti()
	}
	c.unwatch()
	c.setName("")
	c.setProto(2)
	c.replyOff, c.replySkip, c.replySkipNext = false, false, false
	c.shared.noEvict.Store(false)
	c.shared.noTouch.Store(false)
}

func (s *Server) cmdClient(c *client, sub *resp.Command, args [][]byte) resp.Reply {
	switch sub.Name {
	case "id":
		return resp.Int(c.id)
	case "setname":
		if !validName(args[2]) {
			return resp.ErrClientNameChars.Reply()
		}
		c.setName(string(args[2]))
		return resp.OK
	case "getname":
		if name := c.getName(); name != "" {
			return resp.BulkString(name)
		}
		return resp.Null
	case "setinfo":
		return c.setInfo(args[2], args[3])
	case "info":
		return resp.Verbatim(c.info(time.Now()) + "\n")
	case "list":
		return s.clientList(args)
	case "kill":
		return s.clientKill(c, args)
	case "reply":
		switch {
		case resp.EqualFold(args[2], "on"):
			c.replyOff, c.replySkipNext = false, false
			return resp.OK
		case resp.EqualFold(args[2], "off"):
			c.replyOff = true
			return resp.OK // not sent: replies are off
		case resp.EqualFold(args[2], "skip"):
			// SKIP answers nothing itself and silences the next reply.
			c.replySkip = true
			if !c.replyOff {
				c.replySkipNext = true
			}
			return resp.OK
		}
		return resp.ErrSyntax.Reply()
	case "no-evict":
		// raftcache never evicts connections; the mode is recorded and shown.
		return onOff(args[2], &c.shared.noEvict)
	case "no-touch":
		// raftcache keeps no LRU/LFU access data; the mode is recorded and shown.
		return onOff(args[2], &c.shared.noTouch)
	case "pause":
		return s.clientPause(args)
	case "unpause":
		s.unpauseClients()
		return resp.OK
	case "help":
		return helpReply(clientHelp)
	}
	return resp.ErrUnknownSubcommand(args[0], args[1]).Reply()
}

func onOff(arg []byte, flag *atomic.Bool) resp.Reply {
	switch {
	case resp.EqualFold(arg, "on"):
		flag.Store(true)
	case resp.EqualFold(arg, "off"):
		flag.Store(false)
	default:
		return resp.ErrSyntax.Reply()
	}
	return resp.OK
}

func (c *client) setInfo(attr, val []byte) resp.Reply {
	switch {
	case resp.EqualFold(attr, "lib-name"):
		if !validName(val) {
			return resp.ErrLibNameChars.Reply()
		}
		c.mu.Lock()
		c.libName = string(val)
		c.mu.Unlock()
	case resp.EqualFold(attr, "lib-ver"):
		if !validName(val) {
			return resp.ErrLibVerChars.Reply()
		}
		c.mu.Lock()
		c.libVer = string(val)
		c.mu.Unlock()
	default:
		return resp.ErrUnrecognizedOption(attr).Reply()
	}
	return resp.OK
}

// clientsByID returns the open connections in id order.
func (s *Server) clientsByID() []*client {
	s.mu.Lock()
	list := make([]*client, 0, len(s.clients))
	for _, c := range s.clients {
		if c.ctx.Err() == nil { // a killed one is gone, even before its goroutine ends
			list = append(list, c)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(list, func(a, b *client) int { return cmp.Compare(a.id, b.id) })
	return list
}

// clientTypeKnown reports whether t names a client type Redis knows;
// every raftcache connection is of type normal.
func clientTypeKnown(t []byte) (normal, known bool) {
	switch {
	case resp.EqualFold(t, "normal"):
		return true, true
	case resp.EqualFold(t, "master"), resp.EqualFold(t, "replica"), resp.EqualFold(t, "slave"),
		resp.EqualFold(t, "pubsub"):
		return false, true
	}
	return false, false
}

// clientList implements CLIENT LIST [TYPE type | ID id [id ...]].
func (s *Server) clientList(args [][]byte) resp.Reply {
	keep := func(*client) bool { return true }
	switch {
	case len(args) == 2:
	case len(args) == 4 && resp.EqualFold(args[2], "type"):
		normal, known := clientTypeKnown(args[3])
		if !known {
			return resp.ErrUnknownClientType(args[3]).Reply()
		}
		keep = func(*client) bool { return normal }
	case len(args) > 3 && resp.EqualFold(args[2], "id"):
		ids := map[int64]bool{}
		for _, a := range args[3:] {
			id, ok := resp.ParseInt(a)
			if !ok {
				return resp.ErrInvalidClientID.Reply()
			}
			ids[id] = true
		}
		keep = func(c *client) bool { return ids[c.id] }
	default:
		return resp.ErrSyntax.Reply()
	}
	now := time.Now()
	var b strings.Builder
	for _, c := range s.clientsByID() {
		if keep(c) {
			b.WriteString(c.info(now))
			b.WriteByte('\n')
		}
	}
	return resp.Verbatim(b.String())
}

// clientKill implements CLIENT KILL addr (answers OK or "No such client")
// and CLIENT KILL <filter> <value> ... (answers how many it closed; the
// filters are ID, TYPE, USER, ADDR, LADDR, SKIPME and, as Redis 7.4 has
// it, MAXAGE). A killed connection is closed by closing its socket from
// here; only its own goroutine ever writes to it. The caller itself is
// closed after its reply.
func (s *Server) clientKill(self *client, args [][]byte) resp.Reply {
	if len(args) == 3 {
		for _, c := range s.clientsByID() {
			if c.addr == string(args[2]) {
				s.killClient(self, c)
				return resp.OK
			}
		}
		return resp.ErrNoSuchClient.Reply()
	}
	if len(args)%2 != 0 {
		return resp.ErrSyntax.Reply()
	}
	var filters []func(*client) bool
	skipMe := true
	for i := 2; i < len(args); i += 2 {
		opt, val := args[i], args[i+1]
		switch {
		case resp.EqualFold(opt, "id"):
			id, ok := resp.ParseInt(val)
			if !ok || id <= 0 {
				return resp.ErrClientIDNotPositive.Reply()
			}
			filters = append(filters, func(c *client) bool { return c.id == id })
		case resp.EqualFold(opt, "type"):
			normal, known := clientTypeKnown(val)
			if !known {
				return resp.ErrUnknownClientType(val).Reply()
			}
			filters = append(filters, func(*client) bool { return normal })
		case resp.EqualFold(opt, "user"):
			if s.users().User(string(val)) == nil {
				return resp.ErrNoSuchUser(val).Reply()
			}
			name := string(val)
			filters = append(filters, func(c *client) bool { return c.userName() == name })
		case resp.EqualFold(opt, "addr"):
			addr := string(val)
			filters = append(filters, func(c *client) bool { return c.addr == addr })
		case resp.EqualFold(opt, "laddr"):
			laddr := string(val)
			filters = append(filters, func(c *client) bool { return c.laddr == laddr })
		case resp.EqualFold(opt, "skipme"):
			switch {
			case resp.EqualFold(val, "yes"):
				skipMe = true
			case resp.EqualFold(val, "no"):
				skipMe = false
			default:
				return resp.ErrSyntax.Reply()
			}
		case resp.EqualFold(opt, "maxage"):
			age, ok := resp.ParseInt(val)
			if !ok {
				return resp.ErrNotInteger.Reply()
			}
			filters = append(filters, func(c *client) bool {
				return int64(time.Since(c.created)/time.Second) >= age
			})
		default:
			return resp.ErrSyntax.Reply()
		}
	}
	var n int64
	for _, c := range s.clientsByID() {
		if c == self && skipMe {
			continue
		}
		if !matchAll(filters, c) {
			continue
		}
		s.killClient(self, c)
		n++
	}
	return resp.Int(n)
}

func matchAll(filters []func(*client) bool, c *client) bool {
	for _, f := range filters {
		if !f(c) {
			return false
		}
	}
	return true
}

// killClient closes c; the caller's own connection is closed after it
// is answered.
func (s *Server) killClient(self, c *client) {
	if c == self {
		self.quit = true
		return
	}
	c.kill()
}

// pauseState is the CLIENT PAUSE in effect: until ends it, all says
// whether reads are held too, done is closed when it ends.
type pauseState struct {
	active atomic.Bool // fast path for waitPause

	mu    sync.Mutex
	until time.Time
	all   bool
	done  chan struct{}
	timer *time.Timer
}

// clientPause implements CLIENT PAUSE timeout [WRITE|ALL]. While a pause
// holds, commands that read (ALL) or change (WRITE and ALL) the keyspace
// wait; raftcache's own connection and server commands (PING, CLIENT,
// INFO, ...) keep answering, so CLIENT UNPAUSE always gets through.
func (s *Server) clientPause(args [][]byte) resp.Reply {
	ms, ok := resp.ParseInt(args[2])
	if !ok {
		return resp.ErrTimeoutNotInteger.Reply()
	}
	if ms < 0 {
		return resp.ErrTimeoutNegative.Reply()
	}
	all := true
	if len(args) == 4 {
		switch {
		case resp.EqualFold(args[3], "write"):
			all = false
		case resp.EqualFold(args[3], "all"):
		default:
			return resp.ErrPauseMode.Reply()
		}
	} else if len(args) > 4 {
		return resp.ErrSyntax.Reply()
	}
	const maxMs = int64(math.MaxInt64 / int64(time.Millisecond))
	s.pauseClients(time.Duration(min(ms, maxMs))*time.Millisecond, all)
	return resp.OK
}

// pauseClients starts or extends a pause: as in Redis, a pause never
// ends earlier than one already in effect, and ALL wins over WRITE.
func (s *Server) pauseClients(d time.Duration, all bool) {
	p := &s.pause
	p.mu.Lock()
	defer p.mu.Unlock()
	until := time.Now().Add(d)
	if p.done == nil {
		p.done = make(chan struct{})
		p.until, p.all = until, all
		done := p.done
		p.timer = time.AfterFunc(d, func() { s.endPause(done) })
		p.active.Store(true)
		return
	}
	p.all = p.all || all
	if until.After(p.until) {
		p.until = until
		p.timer.Reset(d)
	}
}

// unpauseClients ends the pause in effect, if any.
func (s *Server) unpauseClients() {
	s.pause.mu.Lock()
	done := s.pause.done
	s.pause.mu.Unlock()
	if done != nil {
		s.endPause(done)
	}
}

// endPause ends the pause whose channel is done, unless it already ended.
func (s *Server) endPause(done chan struct{}) {
	p := &s.pause
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done != done {
		return
	}
	p.timer.Stop()
	close(done)
	p.done, p.timer = nil, nil
	p.active.Store(false)
}

// waitPause holds a command that reads (write false) or changes the
// keyspace while a pause covers it, until the pause ends or the
// connection or server closes.
func (s *Server) waitPause(c *client, write bool) {
	p := &s.pause
	for p.active.Load() {
		p.mu.Lock()
		done, all := p.done, p.all
		p.mu.Unlock()
		if done == nil || !(all || write) {
			return
		}
		select {
		case <-done:
		case <-c.ctx.Done():
			return
		}
	}
}

// helpReply is a HELP subcommand's reply: one status line per text.
func helpReply(lines []string) resp.Reply {
	out := make([]resp.Reply, len(lines))
	for i, l := range lines {
		out[i] = resp.Simple(l)
	}
	return resp.Array(out...)
}

// clientHelp is CLIENT HELP, in Redis 7.2's words, for the subcommands
// raftcache has.
var clientHelp = []string{
	"CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"GETNAME",
	"    Return the name of the current connection.",
	"ID",
	"    Return the ID of the current connection.",
	"INFO",
	"    Return information about the current client connection.",
	"KILL <ip:port>",
	"    Kill connection made from <ip:port>.",
	"KILL <option> <value> [<option> <value> [...]]",
	"    Kill connections. Options are:",
	"    * ADDR (<ip:port>|<unixsocket>:0)",
	"      Kill connections made from the specified address",
	"    * LADDR (<ip:port>|<unixsocket>:0)",
	"      Kill connections made to specified local address",
	"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
	"      Kill connections by type.",
	"    * USER <username>",
	"      Kill connections authenticated by <username>.",
	"    * SKIPME (YES|NO)",
	"      Skip killing current connection (default: yes).",
	"    * ID <client-id>",
	"      Kill connections by client id.",
	"    * MAXAGE <maxage>",
	"      Kill connections older than the specified age.",
	"LIST [options ...]",
	"    Return information about client connections. Options:",
	"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
	"      Return clients of specified type.",
	"UNPAUSE",
	"    Stop the current client pause, resuming traffic.",
	"PAUSE <timeout> [WRITE|ALL]",
	"    Suspend all, or just write, clients for <timeout> milliseconds.",
	"REPLY (ON|OFF|SKIP)",
	"    Control the replies sent to the current connection.",
	"SETNAME <name>",
	"    Assign the name <name> to the current connection.",
	"SETINFO <option> <value>",
	"    Set client meta attr. Options are:",
	"    * LIB-NAME: the client lib name.",
	"    * LIB-VER: the client lib version.",
	"NO-EVICT (ON|OFF)",
	"    Protect current client connection from eviction.",
	"NO-TOUCH (ON|OFF)",
	"    Will not touch LRU/LFU stats when this mode is on.",
	"HELP",
	"    Print this help.",
}
