package resp

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
)

// Error is a Redis error reply: its text starts with the error code (ERR,
// WRONGTYPE, MOVED, ...) exactly as Redis writes it, without the leading '-'.
// Errors are values: compare them with errors.Is.
type Error struct {
	msg string
}

// NewError returns an Error with the given text.
func NewError(msg string) *Error { return &Error{msg: msg} }

// Errorf-style helpers are deliberately absent. Every error text raftcache
// sends is defined in this file, once: the fixed texts as the variables
// below, grouped by who sends them, and the texts that carry data by the
// functions after them. Other packages compare with errors.Is and never
// spell a text of their own.

func (e *Error) Error() string { return e.msg }

// Code returns the first word of the error, such as "ERR" or "MOVED".
func (e *Error) Code() string {
	if i := strings.IndexByte(e.msg, ' '); i >= 0 {
		return e.msg[:i]
	}
	return e.msg
}

// Reply returns the error as a reply.
func (e *Error) Reply() Reply { return Reply{Kind: KindError, Str: []byte(e.msg)} }

// The fixed error texts of Redis 7.2 that raftcache sends.
var (
	ErrWrongType       = NewError("WRONGTYPE Operation against a key holding the wrong kind of value")
	ErrSyntax          = NewError("ERR syntax error")
	ErrNotInteger      = NewError("ERR value is not an integer or out of range")
	ErrNotFloat        = NewError("ERR value is not a valid float")
	ErrOverflow        = NewError("ERR increment or decrement would overflow")
	ErrIncrNaN         = NewError("ERR increment would produce NaN or Infinity")
	ErrNaNOrInf        = NewError("ERR value is NaN or Infinity")
	ErrHashNotInteger  = NewError("ERR hash value is not an integer")
	ErrHashNotFloat    = NewError("ERR hash value is not a float")
	ErrNoSuchKey       = NewError("ERR no such key")
	ErrDBIndex         = NewError("ERR DB index is out of range")
	ErrSelectCluster   = NewError("ERR SELECT is not allowed in cluster mode")
	ErrSwapDBCluster   = NewError("ERR SWAPDB is not allowed in cluster mode")
	ErrNoAuth          = NewError("NOAUTH Authentication required.")
	ErrOOM             = NewError("OOM command not allowed when used memory > 'maxmemory'.")
	ErrWrongPass       = NewError("WRONGPASS invalid username-password pair or user is disabled.")
	ErrAuthNotSet      = NewError("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
	ErrProtoVersion    = NewError("NOPROTO unsupported protocol version")
	ErrOutOfRange      = NewError("ERR offset is out of range")
	ErrStringTooLong   = NewError("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
	ErrNestedMulti     = NewError("ERR MULTI calls can not be nested")
	ErrExecNoMulti     = NewError("ERR EXEC without MULTI")
	ErrDiscardNoMulti  = NewError("ERR DISCARD without MULTI")
	ErrWatchInMulti    = NewError("ERR WATCH inside MULTI is not allowed")
	ErrExecAbort       = NewError("EXECABORT Transaction discarded because of previous errors.")
	ErrCrossSlot       = NewError("CROSSSLOT Keys in request don't hash to the same slot")
	ErrClusterDown     = NewError("CLUSTERDOWN The cluster is down")
	ErrNoSuchClient    = NewError("ERR No such client")
	ErrTimeoutNegative = NewError("ERR timeout is negative")
	ErrInvalidCursor   = NewError("ERR invalid cursor")
)

// Error texts of Redis 7.2 that only the store's commands send.
var (
	ErrDecrementOverflow = NewError("ERR decrement would overflow")
	ErrValueOutOfRange   = NewError("ERR value is out of range")
	ErrSameObject        = NewError("ERR source and destination objects are the same")
	ErrCopyCrossDB       = NewError("ERR Copying to another database is not allowed in cluster mode")
	ErrLFUNotSelected    = NewError("ERR An LFU maxmemory policy is not selected, access frequency not tracked. " +
		"Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
	ErrLFUSelected = NewError("ERR An LFU maxmemory policy is selected, idle time not tracked. " +
		"Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
	ErrLCSNotStrings = NewError("ERR The specified keys must contain string values")
	ErrLCSLenAndIdx  = NewError("ERR If you want both the length and indexes, please just use IDX.")
	ErrLCSMemory     = NewError("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
)

// Errors of the EXPIRE family's NX/XX/GT/LT options.
var (
	ErrExpireNXCombined = NewError("ERR NX and XX, GT or LT options at the same time are not compatible")
	ErrExpireGTLT       = NewError("ERR GT and LT options at the same time are not compatible")
)

// The errors of the connection guard: malformed or oversized requests,
// authentication and admission. The texts are Redis 7.0's (checked against
// redis-server 7.0.15); a protocol error closes the connection after its
// reply, as Redis does.
var (
	ErrProtoInvalidBulkLen      = NewError("ERR Protocol error: invalid bulk length")
	ErrProtoInvalidMultibulkLen = NewError("ERR Protocol error: invalid multibulk length")
	ErrProtoUnbalancedQuotes    = NewError("ERR Protocol error: unbalanced quotes in request")
	ErrProtoTooBigInline        = NewError("ERR Protocol error: too big inline request")
	ErrProtoTooBigMbulkCount    = NewError("ERR Protocol error: too big mbulk count string")
	ErrProtoTooBigBulkCount     = NewError("ERR Protocol error: too big bulk count string")
	ErrProtoUnauthMultibulkLen  = NewError("ERR Protocol error: unauthenticated multibulk length")
	ErrProtoUnauthBulkLen       = NewError("ERR Protocol error: unauthenticated bulk length")

	// ErrNoAuthHello is HELLO's reply on a connection that must
	// authenticate first and gave no AUTH option (Redis 7.0's text).
	ErrNoAuthHello = NewError("NOAUTH HELLO must be called with the client already authenticated, " +
		"otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client " +
		"and select the RESP protocol version at the same time")

	// ErrMaxClients is sent to a connection refused because maxclients
	// connections are open.
	ErrMaxClients = NewError("ERR max number of clients reached")

	// ErrProtectedMode is sent to a connection from a non-loopback address
	// while protected mode is on: raftcache listens on every interface and
	// no password is set. It follows Redis's DENIED message, with
	// raftcache's flags as the remedies.
	ErrProtectedMode = NewError("DENIED raftcache is running in protected mode because protected mode " +
		"is enabled and no password is set for the default user. In this mode connections are only " +
		"accepted from the loopback interface. If you want to connect from external computers to " +
		"raftcache you may adopt one of the following solutions: " +
		"1) Restart raftcache with the '--protected-mode no' option, however MAKE SURE raftcache is " +
		"not publicly accessible from internet if you do so. " +
		"2) Set up an authentication password for the default user with the '--requirepass <password>' " +
		"option and restart raftcache. " +
		"3) Listen only on trusted interfaces by giving a host in '--addr' (for example " +
		"'--addr 10.0.0.5:6379') instead of every interface. " +
		"NOTE: You only need to do one of the above things in order for the server to start " +
		"accepting connections from the outside.")
)

// Errors of routing and transactions that raftcache adds to Redis's: a
// write whose fate a leadership change left unknown (a plain ERR, which
// clients do not retry on their own, so a retried INCR can never apply
// twice unseen), and a keyspace-wide command inside MULTI on a node with
// several shards, which Raft groups cannot run atomically together.
var (
	ErrUnknownOutcome = NewError("ERR write outcome unknown: leadership changed before the write was committed; it may or may not have been applied")
	ErrWideInMulti    = NewError("ERR this command spans every shard and a transaction runs on one shard; raftcache allows it inside MULTI only on a single-shard node")
	ErrNotInMulti     = NewError("ERR Command not allowed inside a transaction")
	ErrTxReplies      = NewError("ERR unexpected number of replies for a transaction")
	ErrNoACLShard     = NewError("ERR this shard does not hold the ACL users")
	// ErrTryAgainLocked answers a command that met a key a cross-shard
	// transaction held for longer than the server waits, or a cross-shard
	// transaction that kept meeting others' locks; Redis clients retry
	// TRYAGAIN.
	ErrTryAgainLocked = NewError("TRYAGAIN a cross-shard transaction holds a key of this command; try again")
)

// ErrMoved returns Redis Cluster's redirect to the node at addr serving
// slot.
func ErrMoved(slot int, addr string) *Error {
	return NewError("MOVED " + strconv.Itoa(slot) + " " + addr)
}

// ErrNoRouteKey returns the error for a data command with no key to route
// it by in the arguments given.
func ErrNoRouteKey(cmd string) *Error {
	return NewError("ERR command '" + cmd + "' has no key to route by")
}

// ErrShardReply returns the error for a shard's part of a split command
// (cmd, such as MGET) whose reply has the wrong shape.
func ErrShardReply(cmd string, shard int) *Error {
	return NewError("ERR unexpected " + cmd + " reply from shard " + strconv.Itoa(shard))
}

// Errors of the node's own commands: CLIENT, CLUSTER, COMMAND, CONFIG,
// HELLO, SHUTDOWN, SLOWLOG and WAIT. Redis 7.2's texts, but for
// ErrClusterReset and ErrShutdownDisabled, which say what raftcache does
// instead.
var (
	ErrClientIDNotPositive = NewError("ERR client-id should be greater than 0")
	ErrInvalidClientID     = NewError("ERR Invalid client ID")
	ErrPauseMode           = NewError("ERR CLIENT PAUSE mode must be WRITE or ALL")
	ErrClientNameChars     = NewError("ERR Client names cannot contain spaces, newlines or special characters.")
	ErrLibNameChars        = NewError("ERR lib-name cannot contain spaces, newlines or special characters.")
	ErrLibVerChars         = NewError("ERR lib-ver cannot contain spaces, newlines or special characters.")
	ErrInvalidSlot         = NewError("ERR Invalid slot")
	ErrInvalidSlotOrCount  = NewError("ERR Invalid slot or number of keys")
	ErrForgetMyself        = NewError("ERR I tried hard but I can't forget myself...")
	ErrClusterReset        = NewError("ERR CLUSTER RESET is not supported by raftcache: " +
		"a node's data belongs to its shards; remove a node with CLUSTER FORGET and start it again with an empty --dir and --join")
	ErrInvalidCommand     = NewError("ERR Invalid command specified")
	ErrNoKeyArgs          = NewError("ERR The command has no key arguments")
	ErrInvalidNumArgs     = NewError("ERR Invalid number of arguments specified for command")
	ErrInvalidCommandArgs = NewError("ERR Invalid arguments specified for command")
	ErrNoConfigFile       = NewError("ERR The server is running without a config file")
	ErrHelloProtoVersion  = NewError("ERR Protocol version is not an integer or out of range")
	ErrSlowlogCount       = NewError("ERR count should be greater than or equal to -1")
	ErrTimeoutNotInteger  = NewError("ERR timeout is not an integer or out of range")
	// ErrShutdownDisabled refuses SHUTDOWN: stopping a node is an
	// operator's act (a signal to the process), not something any client
	// may do; a node that leaves takes a replica of every shard with it.
	ErrShutdownDisabled = NewError("ERR SHUTDOWN is disabled in raftcache; stop the node with SIGTERM or SIGINT")
)

// ErrWrongArgs returns Redis's arity error for the command name (as the
// client typed it, lower-cased by Redis).
func ErrWrongArgs(name string) *Error {
	return NewError("ERR wrong number of arguments for '" + strings.ToLower(name) + "' command")
}

// ErrUnknownCommand returns Redis's error for an unknown command, quoting
// the name and up to the first arguments as Redis does.
func ErrUnknownCommand(args [][]byte) *Error {
	// Redis formats with "%.128s" and "'%.*s' ": each text ends at its
	// first NUL, the name is cut to 128 bytes, and arguments are quoted
	// while the quoted list is shorter than 128 bytes, each cut to what is
	// left of those 128.
	var quoted []byte
	for _, a := range args[1:] {
		if len(quoted) >= 128 {
			break
		}
		room := 128 - len(quoted)
		quoted = append(quoted, '\'')
		quoted = append(quoted, cString(a, room)...)
		quoted = append(quoted, '\'', ' ')
	}
	return NewError("ERR unknown command '" + sanitizeString(string(cString(args[0], 128))) +
		"', with args beginning with: " + sanitizeString(string(quoted)))
}

// ErrUnknownSubcommand returns Redis's error for an unknown subcommand of a
// container command such as CLIENT or CONFIG.
func ErrUnknownSubcommand(container, sub []byte) *Error {
	return NewError("ERR unknown subcommand '" + sanitizeString(string(cString(sub, 128))) +
		"'. Try " + strings.ToUpper(string(container)) + " HELP.")
}

// ErrSubcommandSyntax returns Redis's error for a known subcommand given
// arguments it does not take (addReplySubcommandSyntaxError).
func ErrSubcommandSyntax(container, sub []byte) *Error {
	return NewError("ERR unknown subcommand or wrong number of arguments for '" +
		sanitizeString(string(cString(sub, 128))) + "'. Try " + strings.ToUpper(string(container)) + " HELP.")
}

// ErrWrongSubArgs returns Redis's arity error for a subcommand.
func ErrWrongSubArgs(container, sub string) *Error {
	return NewError("ERR wrong number of arguments for '" + strings.ToLower(container) + "|" +
		strings.ToLower(sub) + "' command")
}

// ErrInvalidExpireTime returns Redis's error for an expire time that is not
// positive or overflows, naming the command ("set", "expire", ...).
func ErrInvalidExpireTime(cmd string) *Error {
	return NewError("ERR invalid expire time in '" + strings.ToLower(cmd) + "' command")
}

// ErrUnsupportedOption returns Redis's error for an unknown EXPIRE option.
func ErrUnsupportedOption(opt []byte) *Error {
	return NewError("ERR Unsupported option " + sanitize(opt, 128))
}

// ErrValueBetween returns Redis's error for an integer argument outside
// [min, max] (getRangeLongFromObjectOrReply without a message of its own).
func ErrValueBetween(min, max int64) *Error {
	return NewError("ERR value is out of range, value must between " +
		strconv.FormatInt(min, 10) + " and " + strconv.FormatInt(max, 10))
}

// ErrInternalArgs returns the error for malformed arguments of one of
// raftcache's internal commands (raftcache.tx, raftcache.scan, ...), which
// only the server sends.
func ErrInternalArgs(cmd string) *Error {
	return NewError("ERR invalid arguments for internal command '" + cmd + "'")
}

// ErrProtoExpectedDollar returns Redis's error for a multibulk element that
// does not start with '$'. CR and LF print as spaces, as Redis prints them.
func ErrProtoExpectedDollar(got byte) *Error {
	if got == '\r' || got == '\n' {
		got = ' '
	}
	return NewError("ERR Protocol error: expected '$', got '" + string([]byte{got}) + "'")
}

// ErrWriteOnReadPath returns the error for a write command given to the
// store's read path, a bug in the caller: writes go through the log.
func ErrWriteOnReadPath(cmd []byte) *Error {
	return NewError("ERR write command " + strings.ToLower(string(cmd)) + " sent to the read path")
}

// ErrUnexpectedReply returns the error for a reply of one of raftcache's
// internal commands (cmd, such as raftcache.scan) that has the wrong shape.
func ErrUnexpectedReply(cmd string) *Error {
	return NewError("ERR unexpected " + cmd + " reply")
}

// ErrUnrecognizedOption returns CLIENT SETINFO's error for an attribute it
// does not know.
func ErrUnrecognizedOption(attr []byte) *Error {
	return NewError("ERR Unrecognized option '" + sanitize(attr, 128) + "'")
}

// ErrUnknownClientType returns CLIENT LIST's and CLIENT KILL's error for
// a TYPE they do not know.
func ErrUnknownClientType(typ []byte) *Error {
	return NewError("ERR Unknown client type '" + sanitize(typ, 128) + "'")
}

// ErrNoSuchUser returns CLIENT KILL's error for a USER other than the
// default one, the only user raftcache has.
func ErrNoSuchUser(user []byte) *Error {
	return NewError("ERR No such user '" + sanitize(user, 128) + "'")
}

// ErrHelloOption returns HELLO's error for an option it does not take.
func ErrHelloOption(opt []byte) *Error {
	return NewError("ERR Syntax error in HELLO option '" + string(opt) + "'")
}

// ErrInvalidBasePort returns CLUSTER MEET's error for a port that is not
// an integer.
func ErrInvalidBasePort(port []byte) *Error {
	return NewError("ERR Invalid TCP base port specified: " + string(port))
}

// ErrInvalidBusPort returns CLUSTER MEET's error for a cluster port that
// is not an integer.
func ErrInvalidBusPort(port []byte) *Error {
	return NewError("ERR Invalid TCP bus port specified: " + string(port))
}

// ErrInvalidNodeAddress returns CLUSTER MEET's error for an address it
// cannot use: an empty or malformed host, a port out of range.
func ErrInvalidNodeAddress(host string, port []byte) *Error {
	return NewError("ERR Invalid node address specified: " + host + ":" + string(port))
}

// ErrUnknownNode returns CLUSTER FORGET's error for a node ID no shard
// has as a member.
func ErrUnknownNode(id string) *Error {
	return NewError("ERR Unknown node " + id)
}

// ErrConfigSetUnknown returns CONFIG SET's error for a parameter it does
// not know.
func ErrConfigSetUnknown(name []byte) *Error {
	return NewError("ERR Unknown option or number of arguments for CONFIG SET - '" + sanitize(name, 128) + "'")
}

// ErrConfigSetFailed returns CONFIG SET's error for a parameter it
// refused, with the reason.
func ErrConfigSetFailed(name []byte, reason string) *Error {
	return NewError("ERR CONFIG SET failed (possibly related to argument '" + sanitize(name, 128) + "') - " + reason)
}

// ErrConfigRewrite returns CONFIG REWRITE's error for a file it could not
// write.
func ErrConfigRewrite(err error) *Error {
	return NewError("ERR Rewriting config file: " + err.Error())
}

// ErrorReply converts any error into an error reply. A *Error keeps its
// text; any other error is reported under the ERR code.
func ErrorReply(err error) Reply {
	var re *Error
	if errors.As(err, &re) {
		return re.Reply()
	}
	msg := err.Error()
	return Reply{Kind: KindError, Str: []byte("ERR " + sanitizeString(msg))}
}

// sanitize trims b to max bytes and replaces CR and LF, which would break
// the single-line error reply, with spaces, as Redis does.
func sanitize(b []byte, max int) string {
	if len(b) > max {
		b = b[:max]
	}
	return sanitizeString(string(b))
}

// cString returns b as C's "%.*s" prints it: up to its first NUL, at most
// max bytes.
func cString(b []byte, max int) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	if len(b) > max {
		b = b[:max]
	}
	return b
}

func sanitizeString(s string) string {
	if strings.ContainsAny(s, "\r\n") {
		s = strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
	}
	return s
}
