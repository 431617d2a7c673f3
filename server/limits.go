package server

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Limits bound what one client can make the server do: how much it may
// send in one request, how much the server buffers for it in either
// direction, how many clients may connect and how long one may stay idle.
// A zero field takes its default below, except IdleTimeout, where zero
// means never (as Redis's timeout 0).
type Limits struct {
	// ProtoMaxBulkLen is the largest bulk string a request may carry
	// (Redis's proto-max-bulk-len).
	ProtoMaxBulkLen int64
	// MaxMultibulkLen is the most elements one multibulk request may
	// announce.
	MaxMultibulkLen int64
	// QueryBufferLimit is the most bytes of one incomplete request the
	// server holds for a client (client-query-buffer-limit); past it the
	// connection is closed without a reply.
	QueryBufferLimit int64
	// OutputBufferLimit is the most reply bytes the server holds for one
	// client (a hard client-output-buffer-limit); a reply that would take
	// it past the limit closes the connection.
	OutputBufferLimit int64
	// MaxClients is the most client connections open at once; the next
	// one gets an error and is closed.
	MaxClients int
	// IdleTimeout closes a client that sends nothing for this long; zero
	// never does.
	IdleTimeout time.Duration
	// TCPKeepAlive is the idle time before TCP keepalive probes (sent
	// every third of it, three before giving up, as Redis does); a
	// negative value turns keepalive off.
	TCPKeepAlive time.Duration
	// WriteTimeout closes a client whose socket accepts none of the
	// server's reply bytes for this long: a client that pipelines and
	// never reads cannot hold its connection's goroutine for ever.
	WriteTimeout time.Duration
}

// Default limits, Redis's where Redis has one.
const (
	DefaultProtoMaxBulkLen   = 512 << 20
	DefaultMaxMultibulkLen   = 1 << 20
	DefaultQueryBufferLimit  = 1 << 30
	DefaultOutputBufferLimit = 64 << 20
	DefaultMaxClients        = 10000
	DefaultTCPKeepAlive      = 300 * time.Second
	DefaultWriteTimeout      = 60 * time.Second
)

// Fixed limits of Redis's protocol, not configurable there either.
const (
	// maxInlineLen bounds an inline request line and the count lines of a
	// multibulk request (Redis's PROTO_INLINE_MAX_SIZE).
	maxInlineLen = 64 << 10
	// maxUnauthArgs and maxUnauthBulk bound the requests of a connection
	// that has yet to authenticate.
	maxUnauthArgs = 10
	maxUnauthBulk = 16 << 10
)

// withDefaults returns l with every zero field set to its default.
func (l Limits) withDefaults() Limits {
	if l.ProtoMaxBulkLen == 0 {
		l.ProtoMaxBulkLen = DefaultProtoMaxBulkLen
	}
	if l.MaxMultibulkLen == 0 {
		l.MaxMultibulkLen = DefaultMaxMultibulkLen
	}
	if l.QueryBufferLimit == 0 {
		l.QueryBufferLimit = DefaultQueryBufferLimit
	}
	if l.OutputBufferLimit == 0 {
		l.OutputBufferLimit = DefaultOutputBufferLimit
	}
	if l.MaxClients == 0 {
		l.MaxClients = DefaultMaxClients
	}
	if l.TCPKeepAlive == 0 {
		l.TCPKeepAlive = DefaultTCPKeepAlive
	}
	if l.WriteTimeout == 0 {
		l.WriteTimeout = DefaultWriteTimeout
	}
	return l
}

// Validate reports the first limit that cannot work.
func (l Limits) Validate() error {
	switch {
	case l.ProtoMaxBulkLen < 0:
		return errors.New("proto-max-bulk-len must not be negative")
	case l.MaxMultibulkLen < 0 || l.MaxMultibulkLen > math.MaxInt32:
		return errors.New("the multibulk limit must be between 0 and 2147483647")
	case l.QueryBufferLimit < 0:
		return errors.New("client-query-buffer-limit must not be negative")
	case l.OutputBufferLimit < 0:
		return errors.New("client-output-buffer-limit must not be negative")
	case l.MaxClients < 0:
		return errors.New("maxclients must not be negative")
	case l.IdleTimeout < 0:
		return errors.New("timeout must not be negative")
	case l.WriteTimeout < 0:
		return errors.New("the write timeout must not be negative")
	}
	return nil
}

// ParseMemory parses a size as redis.conf writes one: a whole number of
// bytes, optionally followed by k, kb, m, mb, g or gb in any case (k is
// 1000, kb 1024, and so on).
func ParseMemory(s string) (int64, error) {
	num := strings.TrimRightFunc(s, func(r rune) bool { return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' })
	unit := strings.ToLower(s[len(num):])
	mul := int64(1)
	switch unit {
	case "", "b":
	case "k":
		mul = 1000
	case "kb":
		mul = 1 << 10
	case "m":
		mul = 1000 * 1000
	case "mb":
		mul = 1 << 20
	case "g":
		mul = 1000 * 1000 * 1000
	case "gb":
		mul = 1 << 30
	default:
		return 0, fmt.Errorf("invalid memory size %q: unknown unit %q", s, unit)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid memory size %q", s)
	}
	if n > math.MaxInt64/mul {
		return 0, fmt.Errorf("memory size %q is too large", s)
	}
	return n * mul, nil
}
