package server

import (
	"context"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftcache/raftcache/acl"
	"github.com/raftcache/raftcache/resp"
)

// client is one connection's state. Fields written only by the
// connection's own goroutine are plain; those that CLIENT LIST, CLIENT
// KILL and INFO read from other goroutines are guarded by mu or atomic.
type client struct {
	id      int64
	addr    string
	laddr   string
	netConn net.Conn
	created time.Time
	// ctx is cancelled when the connection is killed or closed, or the
	// server closes; commands that may block (WAIT, CLIENT PAUSE) wait
	// under it.
	ctx    context.Context
	cancel context.CancelFunc

	// Owned by the connection goroutine.
	proto int
	quit  bool
	// pipe is scratch memory for serving pipelined runs (pipeline.go).
	pipe pipeScratch
	// aborted is set when the server closed the connection mid-pipeline
	// (output limit): nothing more of the pipeline runs.
	aborted bool
	keyPos  []int
	// multi is the open transaction (MULTI was called), or nil.
	multi *txState
	// watched are the keys WATCH recorded, with the versions read then.
	watched []watchedKey
	// cur is the full name of the command being served ("" while it is
	// unknown); ran is set once it is executed rather than refused or
	// queued. They feed INFO commandstats.
	cur string
	ran bool
	// curCmd is the command (or subcommand) being served, nil while it
	// is unknown: its flags choose the latency event, its name what the
	// slow log redacts.
	curCmd *resp.Command
	// inExec is set while EXEC runs the transaction's server commands.
	inExec bool
	// wrote lists the shards this connection has written to, which WAIT
	// waits on.
	wrote []int
	// CLIENT REPLY state: off suppresses every reply; skip suppresses the
	// current command's reply; skipNext suppresses the next command's.
	replyOff, replySkip, replySkipNext bool
	// clusterAware is set once the connection has shown that it routes by
	// slot (CLUSTER SLOTS, SHARDS or NODES, READONLY, ASKING): it then gets
	// MOVED and CROSSSLOT as from Redis Cluster instead of being served
	// transparently. readOnly (READONLY) lets it read this node's replica.
	clusterAware, readOnly bool

	// lastCmd points to the full name of the last command, a string of
	// the command table's (or noCommand), so that recording it costs no
	// allocation.
	lastCmd    atomic.Pointer[string]
	lastActive atomic.Int64 // Unix ms
	// shared mirrors what CLIENT LIST and INFO show about the connection.
	shared struct {
		proto    atomic.Int32
		multi    atomic.Int32 // commands queued, or -1 outside MULTI
		noEvict  atomic.Bool
		noTouch  atomic.Bool
		readOnly atomic.Bool
	}

	// user is the ACL user the connection runs as (CLIENT LIST reads it
	// from other goroutines); userVersion the users' version it was read
	// at (acl.go).
	user        atomic.Pointer[acl.User]
	userVersion uint64

	mu      sync.Mutex
	name    string
	libName string
	libVer  string
}

// setProto switches the connection's protocol version.
func (c *client) setProto(p int) {
	c.proto = p
	c.shared.proto.Store(int32(p))
}

// kill closes the connection from any goroutine. It never touches the
// connection's redcon writer, which only its own goroutine may use: the
// closed socket ends the connection's read loop, and ctx releases a
// command blocked in WAIT or a pause.
func (c *client) kill() {
	c.cancel()
	c.netConn.Close()
}

// markWrote records that the connection wrote to shard, for WAIT.
func (c *client) markWrote(shard int) {
	if !slices.Contains(c.wrote, shard) {
		c.wrote = append(c.wrote, shard)
	}
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

// info returns the client's line in CLIENT LIST / CLIENT INFO format.
func (c *client) info(now time.Time) string {
	c.mu.Lock()
	name, libName, libVer := c.name, c.libName, c.libVer
	c.mu.Unlock()
	last := time.UnixMilli(c.lastActive.Load())
	if c.lastActive.Load() == 0 {
		last = c.created
	}
	cmd := *c.lastCmd.Load()
	var b strings.Builder
	b.WriteString("id=" + strconv.FormatInt(c.id, 10))
	b.WriteString(" addr=" + c.addr)
	b.WriteString(" laddr=" + c.laddr)
	b.WriteString(" fd=-1 name=" + name)
	b.WriteString(" age=" + strconv.FormatInt(int64(now.Sub(c.created)/time.Second), 10))
	b.WriteString(" idle=" + strconv.FormatInt(int64(now.Sub(last)/time.Second), 10))
	b.WriteString(" flags=" + c.flags())
	b.WriteString(" db=0 sub=0 psub=0 ssub=0 multi=" + strconv.Itoa(int(c.shared.multi.Load())))
	b.WriteString(" qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0")
	b.WriteString(" rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=" + cmd)
	b.WriteString(" user=" + c.userName() + " redir=-1 resp=" + strconv.Itoa(int(c.shared.proto.Load())))
	b.WriteString(" lib-name=" + libName + " lib-ver=" + libVer)
	return b.String()
}

// flags returns the flags field of CLIENT LIST as Redis spells it: x in
// MULTI, r after READONLY, e for no-evict, T for no-touch, N when none
// applies.
func (c *client) flags() string {
	var f []byte
	if c.shared.multi.Load() >= 0 {
		f = append(f, 'x')
	}
	if c.shared.readOnly.Load() {
		f = append(f, 'r')
	}
	if c.shared.noEvict.Load() {
		f = append(f, 'e')
	}
	if c.shared.noTouch.Load() {
		f = append(f, 'T')
	}
	if len(f) == 0 {
		return "N"
	}
	return string(f)
}

// setReadOnly switches READONLY mode on or off.
func (c *client) setReadOnly(on bool) {
	c.readOnly = on
	c.shared.readOnly.Store(on)
}
