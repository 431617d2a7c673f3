package acl

import (
	"sync"
	"time"

	"github.com/raftcache/raftcache/resp"
)

// Context is where a denied command ran, as ACL LOG reports it.
type Context uint8

// The contexts of ACL LOG entries. raftcache has no scripts or modules;
// Lua and module are listed for completeness of the format.
const (
	ContextToplevel Context = iota
	ContextMulti
	ContextLua
	ContextModule
)

func (c Context) String() string {
	switch c {
	case ContextToplevel:
		return "toplevel"
	case ContextMulti:
		return "multi"
	case ContextLua:
		return "lua"
	case ContextModule:
		return "module"
	}
	return "unknown"
}

// Event is one refusal to record in the ACL log.
type Event struct {
	Reason  Reason
	Context Context
	// Object is the command's full name (reason command), the key or
	// channel (key, channel), or the command's name as the client sent it
	// (auth: "AUTH", "hello").
	Object string
	// Username is the user that was refused (for auth, the name tried).
	Username string
	// ClientInfo is the connection's CLIENT LIST line.
	ClientInfo string
}

// LogEntry is one ACL log entry as ACL LOG reports it.
type LogEntry struct {
	Count            int64
	Reason           Reason
	Context          Context
	Object, Username string
	ClientInfo       string
	EntryID          int64
	// Created and Updated are Unix times in milliseconds.
	Created, Updated int64
}

// DefaultLogMaxLen is acllog-max-len's default.
const DefaultLogMaxLen = 128

// logGroupingMs: an event like one of the ten newest entries, less than a
// minute apart, bumps that entry's count instead of adding one.
const (
	logGroupingMs   = 60000
	logGroupingScan = 10
)

// Log is a node's ACL log (ACL LOG), newest entry first. It is local to
// the node, as Redis's is, and not replicated. Safe for concurrent use.
type Log struct {
	mu      sync.Mutex
	entries []*LogEntry // newest first
	maxLen  int
	nextID  int64
	stats   [ReasonChannel + 1]int64
}

// NewLog returns an empty log keeping at most maxLen entries
// (acllog-max-len).
func NewLog(maxLen int) *Log { return &Log{maxLen: max(maxLen, 0)} }

// SetMaxLen changes acllog-max-len; the oldest entries beyond it go at
// the next Add, as in Redis.
func (l *Log) SetMaxLen(n int) {
	l.mu.Lock()
	l.maxLen = max(n, 0)
	l.mu.Unlock()
}

// MaxLen returns acllog-max-len.
func (l *Log) MaxLen() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.maxLen
}

// Add records an event that happened at now (Redis's addACLLogEntry).
func (l *Log) Add(e Event, now time.Time) {
	ms := now.UnixMilli()
	l.mu.Lock()
	defer l.mu.Unlock()
	if e.Reason <= ReasonChannel {
		l.stats[e.Reason]++
	}
	for i := 0; i < len(l.entries) && i < logGroupingScan; i++ {
		m := l.entries[i]
		d := m.Updated - ms
		if d < 0 {
			d = -d
		}
		if m.Reason == e.Reason && m.Context == e.Context && d <= logGroupingMs &&
			m.Object == e.Object && m.Username == e.Username {
			m.ClientInfo, m.Updated = e.ClientInfo, ms
			m.Count++
			copy(l.entries[1:i+1], l.entries[:i])
			l.entries[0] = m
			return
		}
	}
	le := &LogEntry{Count: 1, Reason: e.Reason, Context: e.Context, Object: e.Object,
		Username: e.Username, ClientInfo: e.ClientInfo, EntryID: l.nextID, Created: ms, Updated: ms}
	l.nextID++
	l.entries = append([]*LogEntry{le}, l.entries...)
	if len(l.entries) > l.maxLen {
		l.entries = l.entries[:l.maxLen]
	}
}

// Reset empties the log (ACL LOG RESET). Entry IDs keep counting.
func (l *Log) Reset() {
	l.mu.Lock()
	l.entries = nil
	l.mu.Unlock()
}

// Entries returns copies of the count newest entries (all for count < 0).
func (l *Log) Entries(count int) []LogEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	if count < 0 || count > len(l.entries) {
		count = len(l.entries)
	}
	out := make([]LogEntry, count)
	for i := range out {
		out[i] = *l.entries[i]
	}
	return out
}

// Reply returns ACL LOG [count]'s reply at now: the count newest entries
// (Redis's default is 10; a negative count is 0), each a map of count,
// reason, context, object, username, age-seconds, client-info, entry-id,
// timestamp-created, timestamp-last-updated.
func (l *Log) Reply(count int, now time.Time) resp.Reply {
	entries := l.Entries(max(count, 0))
	ms := now.UnixMilli()
	out := make([]resp.Reply, len(entries))
	for i, e := range entries {
		out[i] = resp.Map(
			resp.BulkString("count"), resp.Int(e.Count),
			resp.BulkString("reason"), resp.BulkString(e.Reason.String()),
			resp.BulkString("context"), resp.BulkString(e.Context.String()),
			resp.BulkString("object"), resp.BulkString(e.Object),
			resp.BulkString("username"), resp.BulkString(e.Username),
			resp.BulkString("age-seconds"), resp.Double(float64(ms-e.Updated)/1000),
			resp.BulkString("client-info"), resp.BulkString(e.ClientInfo),
			resp.BulkString("entry-id"), resp.Int(e.EntryID),
			resp.BulkString("timestamp-created"), resp.Int(e.Created),
			resp.BulkString("timestamp-last-updated"), resp.Int(e.Updated),
		)
	}
	return resp.Array(out...)
}

// Stats are the counters INFO stats reports: acl_access_denied_auth,
// _cmd, _key and _channel. They count every event, grouped or not, and
// survive RESET.
type Stats struct{ Auth, Command, Key, Channel int64 }

// Stats returns the counters.
func (l *Log) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Stats{Auth: l.stats[ReasonAuth], Command: l.stats[ReasonCommand],
		Key: l.stats[ReasonKey], Channel: l.stats[ReasonChannel]}
}
