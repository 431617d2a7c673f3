package server

import (
	"strconv"
	"sync"
	"time"

	"github.com/tidwall/redcon"

	"github.com/raftcache/raftcache/resp"
)

// SLOWLOG GET/LEN/RESET/HELP as Redis 7.2 has them: every command that
// ran for at least slowlog-log-slower-than microseconds (negative: none;
// 0: every command) is kept, newest first, up to slowlog-max-len entries.
// An entry keeps at most 32 arguments of at most 128 bytes each, and
// passwords are redacted, as Redis does. The time is the command's time
// on this node, from dispatch to reply — for a write that includes its
// Raft round trip, which is what a client waits for.

func init() {
	serverHandlers["slowlog"] = cmdSlowlog
}

// Defaults of the slow log's parameters, as Redis's.
const (
	DefaultSlowlogSlowerThan = 10 * time.Millisecond
	DefaultSlowlogMaxLen     = 128
)

const (
	slowlogMaxArgs   = 32
	slowlogMaxArgLen = 128
)

// slowEntry is one slow log entry.
type slowEntry struct {
	id   int64
	unix int64 // seconds
	usec int64
	args [][]byte
	addr string
	name string
}

// slowlog is the server's slow log: a ring of entries, newest last.
type slowlog struct {
	mu      sync.Mutex
	entries []slowEntry
	nextID  int64
}

// slowlogArgs returns the arguments of a command as the slow log keeps
// them: at most 32 (the last saying how many more there were), each at
// most 128 bytes (saying how many more there were), copied, and with
// passwords replaced by "(redacted)".
func slowlogArgs(cmd *resp.Command, args [][]byte) [][]byte {
	n := min(len(args), slowlogMaxArgs)
	out := make([][]byte, n)
	for i := 0; i < n; i++ {
		if i == slowlogMaxArgs-1 && len(args) > slowlogMaxArgs {
			out[i] = []byte("... (" + strconv.Itoa(len(args)-slowlogMaxArgs+1) + " more arguments)")
			break
		}
		a := args[i]
		if redacted(cmd, args, i) {
			out[i] = []byte("(redacted)")
			continue
		}
		if len(a) > slowlogMaxArgLen {
			out[i] = append(append([]byte(nil), a[:slowlogMaxArgLen]...),
				"... ("+strconv.Itoa(len(a)-slowlogMaxArgLen)+" more bytes)"...)
			continue
		}
		out[i] = append([]byte(nil), a...)
	}
	return out
}

// redacted reports whether argument i of a command is a secret Redis
// keeps out of the slow log: AUTH's arguments, HELLO's AUTH user and
// password, and the value of CONFIG SET requirepass.
func redacted(cmd *resp.Command, args [][]byte, i int) bool {
	if cmd == nil || i == 0 {
		return false
	}
	switch cmd.FullName {
	case "auth":
		return true
	case "hello":
		for j := 2; j < len(args) && j < i; j++ {
			if resp.EqualFold(args[j], "auth") {
				if i == j+1 || i == j+2 {
					return true
				}
				j += 2
			} else if resp.EqualFold(args[j], "setname") {
				j++
			}
		}
	case "config|set":
		return i >= 3 && i%2 == 1 && resp.EqualFold(args[1], "set") && resp.EqualFold(args[i-1], "requirepass")
	}
	return false
}

// maybeLogSlow adds a command that ran for took to the slow log when it is
// slow enough.
func (s *Server) maybeLogSlow(c *client, cmd *resp.Command, args [][]byte, took time.Duration) {
	limit := s.conf.slowlogSlowerThan.Load()
	if limit < 0 || took.Microseconds() < limit || cmd == nil || cmd.HasFlag(resp.FlagSkipSlowlog) {
		return
	}
	e := slowEntry{
		unix: time.Now().Unix(),
		usec: took.Microseconds(),
		args: slowlogArgs(cmd, args),
		addr: c.addr,
		name: c.getName(),
	}
	maxLen := int(s.conf.slowlogMaxLen.Load())
	l := &s.slowlog
	l.mu.Lock()
	defer l.mu.Unlock()
	e.id = l.nextID
	l.nextID++
	l.entries = append(l.entries, e)
	if over := len(l.entries) - maxLen; over > 0 {
		l.entries = append(l.entries[:0], l.entries[over:]...)
	}
}

func cmdSlowlog(s *Server, _ redcon.Conn, _ *client, _, sub *resp.Command, a [][]byte) resp.Reply {
	l := &s.slowlog
	switch sub.Name {
	case "get":
		if len(a) > 3 {
			return resp.ErrSubcommandSyntax(a[0], a[1]).Reply()
		}
		count := int64(10)
		if len(a) == 3 {
			n, ok := resp.ParseInt(a[2])
			if !ok || n < -1 {
				return resp.ErrSlowlogCount.Reply()
			}
			count = n
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if count < 0 || count > int64(len(l.entries)) {
			count = int64(len(l.entries))
		}
		out := make([]resp.Reply, 0, count)
		for i := len(l.entries) - 1; i >= 0 && int64(len(out)) < count; i-- {
			e := &l.entries[i]
			args := make([]resp.Reply, len(e.args))
			for j, arg := range e.args {
				args[j] = resp.Bulk(arg)
			}
			out = append(out, resp.Array(resp.Int(e.id), resp.Int(e.unix), resp.Int(e.usec),
				resp.Array(args...), resp.BulkString(e.addr), resp.BulkString(e.name)))
		}
		return resp.Array(out...)
	case "len":
		l.mu.Lock()
		defer l.mu.Unlock()
		return resp.Int(int64(len(l.entries)))
	case "reset":
		l.mu.Lock()
		defer l.mu.Unlock()
		l.entries = nil
		return resp.OK
	case "help":
		return helpReply(slowlogHelp)
	}
	return resp.ErrUnknownSubcommand(a[0], a[1]).Reply()
}

var slowlogHelp = []string{
	"SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"GET [<count>]",
	"    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
	"    Entries are made of:",
	"    id, timestamp, time in microseconds, arguments array, client IP and port,",
	"    client name",
	"LEN",
	"    Return the length of the slowlog.",
	"RESET",
	"    Reset the slowlog.",
	"HELP",
	"    Prints this help.",
}
