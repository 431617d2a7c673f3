package server

import (
	"cmp"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"

	"github.com/raftcache/raftcache/resp"
)

// client is one connection's state. Fields written only by the
// connection's own goroutine are plain; those that CLIENT LIST and INFO
// read from other goroutines are guarded by mu or atomic.
type client struct {
	id      int64
	addr    string
	laddr   string
	netConn net.Conn
	created time.Time

	// Owned by the connection goroutine.
	proto  int
	quit   bool
	buf    []byte
	keyPos []int

	lastCmd    atomic.Value // string: full name of the last command
	lastActive atomic.Int64 // Unix ms

	mu      sync.Mutex
	name    string
	libName string
	libVer  string
}

func (c *client) setName(name string) {
	c.mu.Lock()
	c.name = name
	c.mu.Unlock()
}

func (c *client) getName() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.name
}

// validName reports whether s is acceptable as a client name or library
// attribute: Redis refuses spaces, newlines and other characters outside
// '!'..'~'.
func validName(s []byte) bool {
	for _, ch := range s {
		if ch < '!' || ch > '~' {
			return false
		}
	}
	return true
}

var errClientName = resp.NewError("ERR Client names cannot contain spaces, newlines or special characters.")

// info returns the client's line in CLIENT LIST / CLIENT INFO format.
func (c *client) info(now time.Time) string {
	c.mu.Lock()
	name, libName, libVer := c.name, c.libName, c.libVer
	c.mu.Unlock()
	last := time.UnixMilli(c.lastActive.Load())
	if c.lastActive.Load() == 0 {
		last = c.created
	}
	cmd, _ := c.lastCmd.Load().(string)
	var b strings.Builder
	b.WriteString("id=" + strconv.FormatInt(c.id, 10))
	b.WriteString(" addr=" + c.addr)
	b.WriteString(" laddr=" + c.laddr)
	b.WriteString(" fd=-1 name=" + name)
	b.WriteString(" age=" + strconv.FormatInt(int64(now.Sub(c.created)/time.Second), 10))
	b.WriteString(" idle=" + strconv.FormatInt(int64(now.Sub(last)/time.Second), 10))
	b.WriteString(" flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0")
	b.WriteString(" rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=" + cmd)
	b.WriteString(" user=default redir=-1 resp=" + strconv.Itoa(c.proto))
	b.WriteString(" lib-name=" + libName + " lib-ver=" + libVer)
	return b.String()
}

func (s *Server) cmdClient(conn redcon.Conn, c *client, sub *resp.Command, args [][]byte) resp.Reply {
	switch sub.Name {
	case "id":
		return resp.Int(c.id)
	case "setname":
		if !validName(args[2]) {
			return errClientName.Reply()
		}
		c.setName(string(args[2]))
		return resp.OK
	case "getname":
		if name := c.getName(); name != "" {
			return resp.BulkString(name)
		}
		return resp.Null
	case "setinfo":
		attr := args[2]
		val := string(args[3])
		switch {
		case resp.EqualFold(attr, "lib-name"):
			if !validName(args[3]) {
				return resp.NewError("ERR lib-name cannot contain spaces, newlines or special characters.").Reply()
			}
			c.mu.Lock()
			c.libName = val
			c.mu.Unlock()
		case resp.EqualFold(attr, "lib-ver"):
			if !validName(args[3]) {
				return resp.NewError("ERR lib-ver cannot contain spaces, newlines or special characters.").Reply()
			}
			c.mu.Lock()
			c.libVer = val
			c.mu.Unlock()
		default:
			return resp.NewError("ERR Unrecognized option '" + string(attr) + "'").Reply()
		}
		return resp.OK
	case "info":
		return resp.Verbatim(c.info(time.Now()) + "\n")
	case "list":
		return s.clientList(args)
	}
	return resp.ErrUnknownSubcommand(args[0], args[1]).Reply()
}

func (s *Server) clientList(args [][]byte) resp.Reply {
	var ids map[int64]bool
	if len(args) > 2 {
		if !resp.EqualFold(args[2], "id") || len(args) < 4 {
			return resp.ErrSyntax.Reply()
		}
		ids = map[int64]bool{}
		for _, a := range args[3:] {
			id, ok := resp.ParseInt(a)
			if !ok || id <= 0 {
				return resp.NewError("ERR Invalid client ID").Reply()
			}
			ids[id] = true
		}
	}
	s.mu.Lock()
	list := make([]*client, 0, len(s.clients))
	for _, c := range s.clients {
		if ids == nil || ids[c.id] {
			list = append(list, c)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(list, func(a, b *client) int { return cmp.Compare(a.id, b.id) })
	now := time.Now()
	var b strings.Builder
	for _, c := range list {
		b.WriteString(c.info(now))
		b.WriteByte('\n')
	}
	return resp.Verbatim(b.String())
}
